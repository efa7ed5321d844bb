// smart-turn: Pipecat's Smart Turn v3 end-of-turn model on the host's onnxruntime-node (through the plugin kit's
// ONNX session: a child process of its own, so a run never blocks this process and an abort returns at once).
// predict() hears the last 8 s of the caller's current turn and answers the probability that they have finished.
// The front end (features.js) follows pipecat's local_smart_turn_v3.py exactly; the log-mel is the kit's.
import { join } from 'node:path';
import { FRAMES, N_MELS, SAMPLE_RATE, smartTurnFeatures } from './features.js';

const MODEL_ID = 'smart-turn-v3';
const MODEL_FILE = 'smart-turn-v3.2-cpu.onnx';
const INPUT = 'input_features';

function modelPath(ctx, kit) {
  const setting = typeof ctx.settings.model === 'string' ? ctx.settings.model.trim() : '';
  if (setting) {
    if (!kit.statOrNull(setting)?.isFile()) throw kit.pluginError('MODEL_MISSING', `smart-turn.model: no Smart Turn .onnx file at ${setting}`, { details: { file: setting } });
    return setting;
  }
  const file = join(ctx.modelDir, MODEL_ID, MODEL_FILE);
  if (!kit.statOrNull(file)?.isFile()) throw kit.modelMissing(MODEL_ID, file);
  return file;
}

/** The model's answer as a probability, or why it is not one. */
function probability(out) {
  const n = out.dims.reduce((a, b) => a * b, 1);
  if (n !== 1) return { error: `an output of shape [${out.dims.join(', ')}] (Smart Turn answers one probability, [1, 1])` };
  const p = out.data[0];
  if (!Number.isFinite(p) || p < 0 || p > 1) return { error: `${p} (not a probability in [0, 1])` };
  return { p };
}

class SmartTurn {
  constructor(ctx, kit, session, file) {
    this.ctx = ctx;
    this.kit = kit;
    this.session = session;
    this.file = file;
    this.features = smartTurnFeatures(kit);
  }

  async #run(samples, signal) {
    const { abortError } = this.kit;
    if (signal?.aborted) throw abortError(signal);
    const data = await this.features(samples, () => signal?.aborted === true);
    if (data === null || signal?.aborted) throw abortError(signal);
    return this.session.run({ [INPUT]: { type: 'float32', data, dims: [1, N_MELS, FRAMES] } }, signal);
  }

  async predict(audio, options = {}) {
    const { pluginError } = this.kit;
    const { signal } = options;
    // pipecat issue 3844: 8 kHz audio fed as 16 kHz silently took accuracy from 98% to 60%. Refuse, don't guess.
    if (audio?.sampleRate !== SAMPLE_RATE) throw pluginError('PLUGIN_FAILED', `smart-turn hears 16000 Hz audio only (got ${audio?.sampleRate} Hz); resample before asking`);
    if (!(audio.samples instanceof Float32Array)) throw pluginError('PLUGIN_FAILED', 'smart-turn: samples must be a Float32Array');
    const started = performance.now();
    const out = await this.#run(audio.samples, signal);
    const { p, error } = probability(out);
    if (error) throw pluginError('PLUGIN_FAILED', `${this.file} answered ${error}`);
    this.ctx.log.debug('predicted', { complete: Number(p.toFixed(4)), samples: audio.samples.length, ms: Math.round(performance.now() - started) });
    return { complete: p };
  }

  async dispose() {
    await this.session.dispose();
  }

  static async create(ctx) {
    const kit = await ctx.import('parley:kit');
    const { pluginError } = kit;
    for (const fn of ['logMelSpectrogram', 'periodicHann', 'slaneyMelFilters']) {
      if (typeof kit[fn] !== 'function') throw pluginError('PLUGIN_FAILED', `smart-turn needs the plugin kit's ${fn} (log-mel), which this Parley's kit does not have`);
    }
    const file = modelPath(ctx, kit);
    const started = performance.now();
    const session = await kit.openOnnxSession({
      ctx,
      modelPath: file,
      // As pipecat runs it: sequential, one inter-op thread, full graph optimisation.
      sessionOptions: { intraOpNumThreads: kit.threadCount(ctx.settings.threads), interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3 },
    });
    const fail = async (message) => {
      await session.dispose();
      throw pluginError('MODEL_CORRUPT', message, { details: { file } });
    };
    if (!session.inputNames.includes(INPUT)) await fail(`${file} has no input "${INPUT}" (inputs: ${session.inputNames.join(', ')}); it is not a Smart Turn v3 model`);
    if (session.inputNames.length !== 1) await fail(`${file} takes inputs ${session.inputNames.join(', ')}; Smart Turn v3 takes "${INPUT}" only`);
    if (session.outputNames.length < 1) await fail(`${file} has no output; Smart Turn v3 answers one probability`);
    const loadMs = performance.now() - started;

    const turn = new SmartTurn(ctx, kit, session, file);
    // Warm up (and check the output): one run on silence allocates onnxruntime's buffers before the first caller.
    const warmStarted = performance.now();
    let out;
    try {
      out = await turn.#run(new Float32Array(SAMPLE_RATE), undefined);
    } catch (err) {
      await fail(`${file} loaded but failed to run on [1, ${N_MELS}, ${FRAMES}] input features (${err?.message ?? err}); it is not a Smart Turn v3 model`);
    }
    const { error } = probability(out);
    if (error) await fail(`${file} answered ${error} for "${session.outputNames[0]}"; it is not a Smart Turn v3 model`);
    ctx.log.info('smart-turn model loaded', { model: file, mode: session.mode, loadMs: Math.round(loadMs), warmupMs: Math.round(performance.now() - warmStarted) });
    return turn;
  }
}

export default {
  async create(ctx) {
    return SmartTurn.create(ctx);
  },
};
