// moonshine-stt: Useful Sensors' Moonshine (ONNX) through the host's @huggingface/transformers, local files only.
// Moonshine reads the raw 16 kHz waveform and its encoder runs on the audio's real length (Whisper always encodes
// a 30 s window), so a short phone turn costs little. The model folder, the pipeline, the speech guard, the
// length cap and the one-at-a-time transcription come from the plugin kit (ctx.import('parley:kit')), shared with
// whisper-stt.
const SAMPLE_RATE = 16000;
/**
 * The Moonshine paper's heuristic is 6 output tokens per second of audio; transformers.js applies it as
 * floor(seconds) * 6, which is 0 for a turn under a second ("yes", "no"). Round up and allow 10 more.
 */
const TOKENS_PER_SECOND = 6;
const EXTRA_TOKENS = 10;

class MoonshineStt {
  #asr;
  /** Most tokens one turn may generate: what the decoder's positions allow (config max_position_embeddings). */
  #tokenCap;
  #turns;

  constructor(ctx, kit, transformers, asr, guard, maxSeconds) {
    this.#asr = asr;
    const positions = Number(asr.model.config?.max_position_embeddings);
    this.#tokenCap = Number.isInteger(positions) && positions > 2 ? positions - 2 : 192;
    this.#turns = new kit.GuardedTranscriber({
      log: ctx.log,
      plugin: 'moonshine-stt',
      label: 'Moonshine',
      guard,
      maxSeconds,
      run: (samples, stop) => this.#run(samples, stop),
      newStop: () => new transformers.InterruptableStoppingCriteria(),
    });
  }

  static async create(ctx) {
    const s = ctx.settings;
    const kit = await ctx.import('parley:kit');
    const { pluginError } = kit;
    const folder = kit.resolveAsrModelFolder(s, ctx.modelDir, { plugin: 'moonshine-stt', label: 'Moonshine', manifestUrl: new URL('./manifest.json', import.meta.url) });
    const transformers = await ctx.import('@huggingface/transformers');
    const threads = Number.isInteger(s.threads) && s.threads > 0 ? s.threads : 0;
    const maxSeconds = typeof s.maxSeconds === 'number' && s.maxSeconds > 0 ? s.maxSeconds : 30;
    const started = performance.now();
    // dtype is always passed (q8 unless set): on Node's CPU device transformers.js would otherwise load fp32.
    const asr = await kit.loadAsrPipeline({ transformers, folder, plugin: 'moonshine-stt', label: 'Moonshine', modelType: 'moonshine', threads });
    const loadMs = performance.now() - started;

    const stt = new MoonshineStt(ctx, kit, transformers, asr, kit.speechGuardSettings(s), maxSeconds);
    const warmStarted = performance.now();
    try {
      await stt.#turns.warmUp();
    } catch (err) {
      await asr.dispose?.();
      throw pluginError('MODEL_CORRUPT', `${folder.dir}: Moonshine loaded but failed to run (${err?.message ?? err}). Its ONNX files do not match what transformers.js expects.${folder.id ? ` Re-download it with \`npm run models -- pull ${folder.id}\`.` : ''}`, { details: { file: folder.dir } });
    }
    ctx.log.info('moonshine model loaded', {
      model: folder.dir,
      dtype: folder.dtype,
      threads: threads || 'auto',
      maxSeconds,
      loadMs: Math.round(loadMs),
      warmupMs: Math.round(performance.now() - warmStarted),
    });
    return stt;
  }

  /** Most new tokens for `seconds` of audio. */
  maxNewTokens(seconds) {
    return Math.min(this.#tokenCap, Math.ceil(seconds * TOKENS_PER_SECOND) + EXTRA_TOKENS);
  }

  /** Transcribe (no guard, no cleaning); `stop` interrupts decoding at the next token. */
  async #run(samples, stop) {
    // MoonshineFeatureExtractor: the waveform itself as input_values [1, samples].
    const inputs = await this.#asr.processor(samples);
    if (stop?.interrupted) return '';
    const sequences = await this.#asr.model.generate({
      ...inputs,
      max_new_tokens: this.maxNewTokens(samples.length / SAMPLE_RATE),
      ...(stop ? { stopping_criteria: stop } : {}),
    });
    if (stop?.interrupted) return '';
    return this.#asr.tokenizer.batch_decode(sequences, { skip_special_tokens: true })[0].trim();
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
    return MoonshineStt.create(ctx);
  },
};
