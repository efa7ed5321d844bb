// The plugin kit: what plugins share instead of copying. The host hands it to every plugin as
// `await ctx.import('parley:kit')` (an extension of plugin API v1; docs/plugins.md). Plain ES modules with no
// dependencies, so it runs in the plugin host (source and bundle alike) and in a bare Node worker. Types: index.d.ts.
export const version = 1;
export { abortable, abortError, pluginError, sleep } from './plugin-errors.js';
export { modelMissing, statOrNull } from './model-files.js';
export { openOnnxSession, threadCount } from './onnx-runner.js';
export { runAhead } from './run-ahead.js';
export { ClauseSplitter, cleanForSpeech, splitClauses } from './clauses.js';
export { digitsToWords, integerToWords, normalizeEnglish, numberToWords, ordinalToWords } from './text-normalize.js';
export { cleanTranscript, speechCheck } from './speech-guard.js';
export { ASR_SAMPLE_RATE, DTYPE_SUFFIX, GuardedTranscriber, asrModelFiles, loadAsrPipeline, resolveAsrModelFolder, speechGuardSettings } from './asr.js';
export { MEL_FLOOR, logMelSpectrogram, periodicHann, slaneyMelFilters } from './log-mel.js';
