// What the speech-to-text plugins on the host's transformers.js share (whisper-stt, moonshine-stt): which model
// folder to load and whether it is complete, loading the ASR pipeline with errors that name the fix, and one
// guarded transcription at a time (no non-speech to the model, hallucinations stripped, abort at once).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { abortable, abortError, pluginError } from './plugin-errors.js';
import { statOrNull } from './model-files.js';
import { cleanTranscript, speechCheck } from './speech-guard.js';

export const ASR_SAMPLE_RATE = 16000;

/** transformers.js dtype → ONNX file suffix (utils/dtypes.js DEFAULT_DTYPE_SUFFIX_MAPPING). */
export const DTYPE_SUFFIX = { fp32: '', fp16: '_fp16', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4' };

/**
 * The files transformers.js loads for a seq2seq ASR pipeline (Whisper, Moonshine: session_config.js Seq2Seq) with
 * this dtype: the configs, the tokenizer, the encoder and the merged decoder.
 */
export function asrModelFiles(dtype) {
  const suffix = DTYPE_SUFFIX[dtype] ?? DTYPE_SUFFIX.q8;
  return [
    'config.json',
    'generation_config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    `onnx/encoder_model${suffix}.onnx`,
    `onnx/decoder_model_merged${suffix}.onnx`,
  ];
}

/**
 * The model folder from the `model` setting or the catalogue default (manifest.json at `manifestUrl`) in
 * `modelDir`, with every file `asrModelFiles(dtype)` names; otherwise MODEL_MISSING naming the files looked for
 * and the fix. `plugin` is the plugin's name (for setting names), `label` the model family ("Whisper").
 * @returns {{ dir: string, id: string | null, dtype: string }}
 */
export function resolveAsrModelFolder(settings, modelDir, { plugin, label, manifestUrl }) {
  const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8'));
  const isFile = (path) => statOrNull(path)?.isFile() === true;
  const dtype = settings.dtype ?? 'q8';
  const setting = typeof settings.model === 'string' && settings.model !== '' ? settings.model : null;
  const spec = manifest.models.find((m) => m.default) ?? manifest.models[0];
  const dir = setting ?? join(modelDir, spec.id);
  if (setting && !statOrNull(setting)?.isDirectory()) {
    throw pluginError('MODEL_MISSING', `model missing — ${plugin}.model is set to ${setting}, which is not a folder. Set ${plugin}.model to a ${label} folder in transformers.js layout (config.json, tokenizer.json, onnx/…), or unset it to use ${spec.id}.`, { details: { file: setting } });
  }
  const missing = asrModelFiles(dtype).filter((f) => !isFile(join(dir, f)));
  if (missing.length > 0) {
    const looked = missing.map((f) => join(dir, f)).join(', ');
    const catalogueHas = !setting && dtype !== 'q8' && asrModelFiles('q8').every((f) => isFile(join(dir, f)));
    const fix = setting
      ? `set ${plugin}.model to a complete ${label} folder${dtype !== 'q8' ? ` or set ${plugin}.dtype to one whose onnx files it has` : ''}`
      : catalogueHas
        ? `the catalogue model ships q8 weights only: set ${plugin}.dtype to q8`
        : `run \`npm run models -- pull ${spec.id}\``;
    throw pluginError('MODEL_MISSING', `model missing — ${fix} (looked for ${looked}).`, { details: { file: join(dir, missing[0]), modelId: setting ? undefined : spec.id } });
  }
  return { dir, id: setting ? null : spec.id, dtype };
}

/** What to tell the user when a folder is broken: re-download the catalogue model, or fix their own folder. */
function folderFix(folder, plugin) {
  return folder.id ? `Re-download it with \`npm run models -- pull ${folder.id}\`.` : `Check the folder or point ${plugin}.model at another one.`;
}

/**
 * The transformers.js ASR pipeline for `folder`, local files only and on the CPU; MODEL_CORRUPT when it cannot be
 * loaded or holds another kind of model than `modelType` (config.json's model_type). `threads` 0 lets
 * onnxruntime choose.
 */
export async function loadAsrPipeline({ transformers, folder, plugin, label, modelType, threads = 0 }) {
  // Never reach for the network: models come from the model manager or the user's own folder.
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  let asr;
  try {
    asr = await transformers.pipeline('automatic-speech-recognition', folder.dir, {
      dtype: folder.dtype,
      device: 'cpu',
      local_files_only: true,
      session_options: threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {},
    });
  } catch (err) {
    throw pluginError('MODEL_CORRUPT', `${folder.dir}: ${label} could not be loaded (${err?.message ?? err}). ${folderFix(folder, plugin)}`, { details: { file: folder.dir }, cause: err });
  }
  if (asr.model?.config?.model_type !== modelType) {
    await asr.dispose?.();
    throw pluginError('MODEL_CORRUPT', `${folder.dir} holds a "${asr.model?.config?.model_type}" model, not ${label}. ${folderFix(folder, plugin)}`, { details: { file: folder.dir } });
  }
  return asr;
}

/** The guard settings every STT plugin shares (`minRms`, `minSpeechMs`), with their defaults. */
export function speechGuardSettings(settings) {
  return {
    minRms: typeof settings.minRms === 'number' ? settings.minRms : 0.01,
    minSpeechMs: Number.isInteger(settings.minSpeechMs) ? settings.minSpeechMs : 200,
  };
}

/**
 * One STT plugin's `transcribe()` around its model run: checks the input, refuses audio longer than `maxSeconds`
 * (a clear PLUGIN_FAILED), skips non-speech (`{ text: "" }`, the model never runs), runs one transcription at a
 * time (ONNX runs cannot be interrupted, so queueing keeps the cores for one), rejects at once on abort (asking
 * `run` to stop at its next token through `stop`), and strips hallucinations from what comes back.
 *
 * `run(samples, stop)` → the raw text; `stop` is an InterruptableStoppingCriteria (or null for a warm-up).
 */
export class GuardedTranscriber {
  #log;
  #plugin;
  #label;
  #guard;
  #run;
  #newStop;
  #maxSeconds;
  #queue = Promise.resolve();
  #disposed = false;

  constructor({ log, plugin, label, guard, run, newStop, maxSeconds = Infinity }) {
    this.#log = log;
    this.#plugin = plugin;
    this.#label = label;
    this.#guard = guard;
    this.#run = run;
    this.#newStop = newStop;
    this.#maxSeconds = maxSeconds;
  }

  get disposed() {
    return this.#disposed;
  }

  /** One short run of a quiet tone, so the first caller does not pay for allocating the sessions' buffers. */
  async warmUp() {
    const tone = Float32Array.from({ length: ASR_SAMPLE_RATE }, (_, i) => 0.01 * Math.sin(i * 0.05));
    await this.#run(tone, null);
  }

  async transcribe(audio, { signal } = {}) {
    if (this.#disposed) throw pluginError('PLUGIN_FAILED', `${this.#plugin} was disposed`);
    if (signal?.aborted) throw abortError(signal);
    const samples = audio?.samples;
    if (!(samples instanceof Float32Array)) throw pluginError('PLUGIN_FAILED', 'transcribe() needs audio.samples as a Float32Array');
    if (audio.sampleRate !== ASR_SAMPLE_RATE) throw pluginError('PLUGIN_FAILED', `${this.#plugin} needs ${ASR_SAMPLE_RATE} Hz audio, got ${audio.sampleRate} Hz`);
    const seconds = samples.length / ASR_SAMPLE_RATE;
    if (seconds > this.#maxSeconds) {
      throw pluginError('PLUGIN_FAILED', `${this.#plugin} transcribes at most ${this.#maxSeconds} s in one turn, got ${seconds.toFixed(1)} s. Lower the end-of-turn silence so turns end sooner, raise ${this.#plugin}.maxSeconds (if the model allows it), or use whisper-stt, which cuts long audio into 30 s windows.`, { details: { seconds, maxSeconds: this.#maxSeconds } });
    }

    const check = speechCheck(samples, ASR_SAMPLE_RATE, this.#guard);
    if (!check.speech) {
      this.#log.debug(`not speech; ${this.#label} not run`, { reason: check.reason, speechMs: check.speechMs, rms: Number(check.rms.toFixed(4)) });
      return { text: '' };
    }

    const stop = this.#newStop();
    const run = this.#queue.then(async () => {
      if (stop.interrupted) return null;
      const started = performance.now();
      const text = await this.#run(samples, stop);
      return { text, ms: performance.now() - started };
    });
    this.#queue = run.catch(() => {});

    let result;
    try {
      // An ONNX run cannot be cut short: on abort, stop decoding at the next token and discard the result.
      result = await abortable(run, signal, () => stop.interrupt());
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw pluginError('PLUGIN_FAILED', `${this.#label} failed to transcribe ${seconds.toFixed(1)} s of audio: ${err?.message ?? err}`, { cause: err });
    }
    if (result === null) throw abortError(signal);
    const cleaned = cleanTranscript(result.text);
    this.#log.debug('transcribed', {
      seconds: Number(seconds.toFixed(2)),
      ms: Math.round(result.ms),
      rtf: Number((result.ms / 1000 / seconds).toFixed(3)),
      ...(cleaned.removed.length ? { removed: cleaned.removed } : {}),
    });
    return { text: cleaned.text };
  }

  /** Let a run in flight finish, then `release` (the pipeline's sessions). */
  async dispose(release) {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#queue;
    await release?.();
  }
}
