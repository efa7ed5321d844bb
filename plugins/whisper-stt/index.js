// whisper-stt: Whisper (ONNX) through the host's @huggingface/transformers, local files only. The model is loaded
// and warmed up in create(); non-speech never reaches it, and known hallucinations are stripped from what comes
// back. The host runs each plugin instance in a worker process of its own; the model folder, the pipeline, the
// speech guard and the one-at-a-time transcription come from the plugin kit (ctx.import('parley:kit')), shared
// with moonshine-stt.
import { whisperFeatures } from './features.js';

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
  /** The kit's guarded, one-at-a-time transcribe() around #run. */
  #turns;

  constructor(ctx, kit, transformers, asr, generate, guard) {
    this.#ctx = ctx;
    this.#kit = kit;
    this.#transformers = transformers;
    this.#asr = asr;
    this.#features = whisperFeatures(asr.processor.feature_extractor, transformers.Tensor, kit);
    this.#generate = generate;
    this.#turns = new kit.GuardedTranscriber({
      log: ctx.log,
      plugin: 'whisper-stt',
      label: 'Whisper',
      guard,
      run: (samples, stop) => this.#run(samples, stop),
      newStop: () => new transformers.InterruptableStoppingCriteria(),
    });
  }

  static async create(ctx) {
    const s = ctx.settings;
    const kit = await ctx.import('parley:kit');
    const { pluginError } = kit;
    const folder = kit.resolveAsrModelFolder(s, ctx.modelDir, { plugin: 'whisper-stt', label: 'Whisper', manifestUrl: new URL('./manifest.json', import.meta.url) });
    const transformers = await ctx.import('@huggingface/transformers');
    const threads = Number.isInteger(s.threads) && s.threads > 0 ? s.threads : 0;
    const started = performance.now();
    const asr = await kit.loadAsrPipeline({ transformers, folder, plugin: 'whisper-stt', label: 'Whisper', modelType: 'whisper', threads });
    const loadMs = performance.now() - started;

    const multilingual = asr.model.generation_config?.is_multilingual === true;
    const language = typeof s.language === 'string' && s.language.trim() !== '' ? s.language.trim() : 'en';
    if (!multilingual && !/^(en|english)$/i.test(language)) {
      ctx.log.warn(`whisper-stt.language is "${language}" but ${folder.dir} is an English-only model; it will transcribe English`, { model: folder.dir });
    }
    const generate = multilingual ? { language, task: 'transcribe' } : {};
    const guard = kit.speechGuardSettings(s);

    const stt = new WhisperStt(ctx, kit, transformers, asr, generate, guard);
    // Warm up: one short run allocates the sessions' buffers, so the first caller does not pay for it.
    const warmStarted = performance.now();
    try {
      await stt.#turns.warmUp();
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

  transcribe(audio, options) {
    return this.#turns.transcribe(audio, options);
  }

  async dispose() {
    await this.#turns.dispose(() => this.#asr.dispose?.());
  }
}

export default {
  async create(ctx) {
    return WhisperStt.create(ctx);
  },
};
