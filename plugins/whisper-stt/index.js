// whisper-stt: Whisper (ONNX) through the host's @huggingface/transformers, local files only. The model is loaded
// and warmed up in create(); non-speech never reaches it, and known hallucinations are stripped from what comes
// back. The host runs each plugin instance in a worker process of its own; errors come from the plugin kit
// (ctx.import('parley:kit')).
import { whisperFeatures } from './features.js';
import { cleanTranscript, speechCheck } from './guard.js';
import { resolveModelFolder } from './model-folder.js';

const SAMPLE_RATE = 16000;
/** Whisper hears 30 s at a time; longer audio is cut into windows (splitIntoWindows). */
const WINDOW_S = 30;
/** Generous cap on tokens per second of audio, so a looping decoder stops early (speech is ~3-4 tokens/s). */
const TOKENS_PER_SECOND = 6;
const MAX_NEW_TOKENS = 440;

function maxNewTokens(seconds) {
  return Math.min(MAX_NEW_TOKENS, Math.ceil(Math.min(seconds, WINDOW_S) * TOKENS_PER_SECOND) + 10);
}

/**
 * Whisper hears at most 30 s at a time. Longer audio (rare for one phone turn) is cut into windows at the
 * quietest 20 ms within the last 6 s of each window, so words are not split.
 */
function splitIntoWindows(samples) {
  const max = WINDOW_S * SAMPLE_RATE;
  const frame = SAMPLE_RATE / 50;
  const windows = [];
  let start = 0;
  while (samples.length - start > max) {
    let cut = start + max;
    let quietest = Infinity;
    for (let f = start + max - 6 * SAMPLE_RATE; f + frame <= start + max; f += frame) {
      let energy = 0;
      for (let i = f; i < f + frame; i++) energy += samples[i] * samples[i];
      if (energy < quietest) {
        quietest = energy;
        cut = f + frame / 2;
      }
    }
    windows.push(samples.subarray(start, cut));
    start = cut;
  }
  windows.push(samples.subarray(start));
  return windows;
}

class WhisperStt {
  #ctx;
  #kit;
  #transformers;
  #asr;
  #features;
  #generate;
  #guard;
  /** Transcriptions run one at a time: ONNX runs cannot be interrupted, so queueing keeps the cores for one. */
  #queue = Promise.resolve();
  #disposed = false;

  constructor(ctx, kit, transformers, asr, generate, guard) {
    this.#ctx = ctx;
    this.#kit = kit;
    this.#transformers = transformers;
    this.#asr = asr;
    this.#features = whisperFeatures(asr.processor.feature_extractor, transformers.Tensor);
    this.#generate = generate;
    this.#guard = guard;
  }

  static async create(ctx) {
    const s = ctx.settings;
    const kit = await ctx.import('parley:kit');
    const { pluginError } = kit;
    const folder = resolveModelFolder(s, ctx.modelDir, kit);
    const transformers = await ctx.import('@huggingface/transformers');
    // Never reach for the network: models come from the model manager or the user's own folder.
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;

    const threads = Number.isInteger(s.threads) && s.threads > 0 ? s.threads : 0;
    const started = performance.now();
    let asr;
    try {
      asr = await transformers.pipeline('automatic-speech-recognition', folder.dir, {
        dtype: folder.dtype,
        device: 'cpu',
        local_files_only: true,
        session_options: threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {},
      });
    } catch (err) {
      throw pluginError('MODEL_CORRUPT', `${folder.dir}: Whisper could not be loaded (${err?.message ?? err}). ${folder.id ? `Re-download it with \`npm run models -- pull ${folder.id}\`.` : 'Check the folder or point whisper-stt.model at another one.'}`, { details: { file: folder.dir } });
    }
    if (asr.model?.config?.model_type !== 'whisper') {
      await asr.dispose?.();
      throw pluginError('MODEL_CORRUPT', `${folder.dir} holds a "${asr.model?.config?.model_type}" model, not Whisper.`, { details: { file: folder.dir } });
    }
    const loadMs = performance.now() - started;

    const multilingual = asr.model.generation_config?.is_multilingual === true;
    const language = typeof s.language === 'string' && s.language.trim() !== '' ? s.language.trim() : 'en';
    if (!multilingual && !/^(en|english)$/i.test(language)) {
      ctx.log.warn(`whisper-stt.language is "${language}" but ${folder.dir} is an English-only model; it will transcribe English`, { model: folder.dir });
    }
    const generate = multilingual ? { language, task: 'transcribe' } : {};
    const guard = {
      minRms: typeof s.minRms === 'number' ? s.minRms : 0.01,
      minSpeechMs: Number.isInteger(s.minSpeechMs) ? s.minSpeechMs : 200,
    };

    const stt = new WhisperStt(ctx, kit, transformers, asr, generate, guard);
    // Warm up: one short run allocates the sessions' buffers, so the first caller does not pay for it.
    const warmStarted = performance.now();
    try {
      const tone = Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.01 * Math.sin(i * 0.05));
      await stt.#run(tone, null);
    } catch (err) {
      await asr.dispose?.();
      const message = err?.message ?? String(err);
      if (/language/i.test(message)) throw pluginError('PLUGIN_FAILED', `whisper-stt.language "${language}" is not a language ${folder.dir} knows (${message}).`);
      throw pluginError('MODEL_CORRUPT', `${folder.dir}: Whisper loaded but failed to run (${message}). Its ONNX files do not match what transformers.js expects.`, { details: { file: folder.dir } });
    }
    ctx.log.info('whisper model loaded', {
      model: folder.dir,
      dtype: folder.dtype,
      multilingual,
      threads: threads || 'auto',
      loadMs: Math.round(loadMs),
      warmupMs: Math.round(performance.now() - warmStarted),
    });
    return stt;
  }

  /** Transcribe (no guard, no cleaning); `stop` interrupts feature extraction and decoding. */
  async #run(samples, stop) {
    const texts = [];
    for (const segment of splitIntoWindows(samples)) {
      const features = await this.#features(segment, () => stop?.interrupted === true);
      if (features === null) return '';
      const options = { ...this.#generate, max_new_tokens: maxNewTokens(segment.length / SAMPLE_RATE), ...(stop ? { stopping_criteria: stop } : {}) };
      const sequences = await this.#asr.model.generate({ inputs: features, ...options });
      const tokenizer = this.#asr.tokenizer;
      // Timestamp tokens are not "special" to the tokenizer; Whisper should not emit them after <|notimestamps|>.
      const timestampBegin = tokenizer.timestamp_begin ?? Number.POSITIVE_INFINITY;
      const ids = sequences.tolist()[0].map(Number).filter((id) => id < timestampBegin);
      texts.push(tokenizer.decode(ids, { skip_special_tokens: true }).trim());
      if (stop?.interrupted) return '';
    }
    return texts.filter(Boolean).join(' ');
  }

  async transcribe(audio, { signal } = {}) {
    const { abortable, abortError, pluginError } = this.#kit;
    if (this.#disposed) throw pluginError('PLUGIN_FAILED', 'whisper-stt was disposed');
    if (signal?.aborted) throw abortError(signal);
    const samples = audio?.samples;
    if (!(samples instanceof Float32Array)) throw pluginError('PLUGIN_FAILED', 'transcribe() needs audio.samples as a Float32Array');
    if (audio.sampleRate !== SAMPLE_RATE) throw pluginError('PLUGIN_FAILED', `whisper-stt needs ${SAMPLE_RATE} Hz audio, got ${audio.sampleRate} Hz`);

    const check = speechCheck(samples, SAMPLE_RATE, this.#guard);
    if (!check.speech) {
      this.#ctx.log.debug('not speech; Whisper not run', { reason: check.reason, speechMs: check.speechMs, rms: Number(check.rms.toFixed(4)) });
      return { text: '' };
    }

    const seconds = samples.length / SAMPLE_RATE;
    const stop = new this.#transformers.InterruptableStoppingCriteria();
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
      throw pluginError('PLUGIN_FAILED', `Whisper failed to transcribe ${seconds.toFixed(1)} s of audio: ${err?.message ?? err}`);
    }
    if (result === null) throw abortError(signal);
    const cleaned = cleanTranscript(result.text);
    this.#ctx.log.debug('transcribed', {
      seconds: Number(seconds.toFixed(2)),
      ms: Math.round(result.ms),
      rtf: Number((result.ms / 1000 / seconds).toFixed(3)),
      ...(cleaned.removed.length ? { removed: cleaned.removed } : {}),
    });
    return { text: cleaned.text };
  }

  async dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    // Let a run in flight finish before its sessions are released.
    await this.#queue;
    await this.#asr.dispose?.();
  }
}

export default {
  async create(ctx) {
    return WhisperStt.create(ctx);
  },
};
