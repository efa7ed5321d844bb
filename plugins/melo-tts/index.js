// melo-tts: MeloTTS English (sherpa-onnx's ONNX export) on onnxruntime-node.
// text (a clause, from the core) -> normalize -> pieces, only if it is still more than one -> tokens + tones
// (melo-frontend.js) -> model.onnx in a child process -> Float32Array at the model's sample rate, piece by piece.
// Reaches the host only through ctx: ctx.import('parley:kit') for the normalizer, the splitter, the ONNX runner
// and errors; ctx.import('onnxruntime-node' | 'phonemizer'); ctx.resolve for the model's child process.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadMeloFrontend } from './melo-frontend.js';
import { readOnnxMetadata } from './onnx-metadata.js';

const manifest = JSON.parse(await readFile(new URL('./manifest.json', import.meta.url), 'utf8'));
const DEFAULT_MODEL = manifest.models.find((m) => m.default)?.id ?? manifest.models[0].id;
const CATALOGUE = new Set(manifest.models.map((m) => m.id));

/** Speaker names of the English export (export-onnx-en.py: {'EN-US': 0, 'EN-BR': 1, 'EN_INDIA': 2, 'EN-AU': 3, 'EN-Default': 4}). */
const EN_SPEAKERS = { 'en-us': 0, 'en-br': 1, en_india: 2, 'en-india': 2, 'en-au': 3, 'en-default': 4 };
const INPUTS = { x: 'int64', x_lengths: 'int64', tones: 'int64', sid: 'int64', noise_scale: 'float32', length_scale: 'float32', noise_scale_w: 'float32' };

function missing({ pluginError, modelMissing }, id, file, userPath) {
  if (!userPath) return modelMissing(id, file);
  return pluginError('MODEL_MISSING', `melo-tts.model points at ${userPath}, but ${file} is missing: a MeloTTS model needs model.onnx, tokens.txt and lexicon.txt side by side`, { details: { model: id, file } });
}

/** Where model.onnx, tokens.txt and lexicon.txt are: the `model` setting, else the catalogue default. */
export function resolveModelFiles(ctx, kit) {
  const { pluginError, statOrNull } = kit;
  const setting = typeof ctx.settings.model === 'string' ? ctx.settings.model.trim() : '';
  let id = DEFAULT_MODEL;
  let dir = join(ctx.modelDir, DEFAULT_MODEL);
  let model = join(dir, 'model.onnx');
  let userPath;
  if (setting) {
    userPath = setting;
    const s = statOrNull(setting);
    if (s?.isDirectory()) {
      dir = setting;
      model = join(dir, 'model.onnx');
    } else if (s?.isFile()) {
      dir = dirname(setting);
      model = setting;
    } else if (CATALOGUE.has(basename(setting))) {
      // `--set melo-tts.model=<catalogue id>` picks another catalogue model.
      id = basename(setting);
      dir = join(ctx.modelDir, id);
      model = join(dir, 'model.onnx');
      userPath = undefined;
    } else {
      throw pluginError('MODEL_MISSING', `melo-tts.model is set to ${setting}, which does not exist. Point it at a MeloTTS folder (model.onnx + tokens.txt + lexicon.txt) or clear it to use ${DEFAULT_MODEL}.`);
    }
  }
  const files = { id, dir, model, tokens: join(dir, 'tokens.txt'), lexicon: join(dir, 'lexicon.txt') };
  for (const f of [files.model, files.tokens, files.lexicon]) if (!statOrNull(f)?.isFile()) throw missing(kit, id, f, userPath);
  return files;
}

function checkMetadata({ pluginError }, meta, file) {
  if (!String(meta.comment ?? '').includes('melo')) {
    throw pluginError('MODEL_CORRUPT', `${file} is not a MeloTTS export (its metadata has comment=${JSON.stringify(meta.comment ?? null)}, expected "melo"). Use the piper-tts plugin for Piper voices.`);
  }
  const sampleRate = Number(meta.sample_rate);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw pluginError('MODEL_CORRUPT', `${file}: metadata sample_rate is missing or not a number`);
  if (Number(meta.version ?? 0) < 2) throw pluginError('MODEL_CORRUPT', `${file} is an old MeloTTS export (metadata version ${meta.version ?? 0}, needs 2); download the model again`);
  if (meta.n_speakers === undefined || meta.language === undefined) throw pluginError('MODEL_CORRUPT', `${file}: metadata lacks n_speakers or language`);
  return sampleRate;
}

function checkInputs({ pluginError }, session, file) {
  const meta = new Map((session.inputMetadata ?? []).map((m) => [m.name, m]));
  for (const [name, type] of Object.entries(INPUTS)) {
    if (!session.inputNames.includes(name)) throw pluginError('MODEL_CORRUPT', `${file} has no input "${name}" (inputs: ${session.inputNames.join(', ')}); it is not a MeloTTS export`);
    const m = meta.get(name);
    if (m?.type && m.type !== type) throw pluginError('MODEL_CORRUPT', `${file}: input "${name}" is ${m.type}, a MeloTTS export has ${type}`);
  }
}

/** sherpa-onnx: a single-speaker model always gets the metadata's speaker_id; otherwise 0..n-1, else 0. */
function speakerId(setting, meta, log) {
  const count = Number(meta.n_speakers);
  if (count === 1) return Number(meta.speaker_id ?? 0);
  const raw = String(setting ?? '0').trim();
  let sid = /^\d+$/.test(raw) ? Number(raw) : EN_SPEAKERS[raw.toLowerCase()];
  if (sid === undefined || sid >= count) {
    log.warn(`melo-tts: speaker "${raw}" is not one of this model's ${count} speakers (0-${count - 1}); using 0`);
    sid = 0;
  }
  return sid;
}

async function loadEspeak(ctx) {
  try {
    const { phonemize } = await ctx.import('phonemizer');
    await phonemize('hello', 'en-us'); // starts espeak-ng's WASM now, not on the first unknown word
    return async (word) => (await phonemize(word, 'en-us')).join(' ');
  } catch (err) {
    ctx.log.warn('melo-tts: espeak-ng (phonemizer) is not available; unknown words will be spelled', { error: err?.message });
    return undefined;
  }
}

export default {
  async create(ctx) {
    const started = performance.now();
    const kit = await ctx.import('parley:kit');
    const { pluginError, abortError } = kit;
    const files = resolveModelFiles(ctx, kit);
    const metadata = await readOnnxMetadata(files.model);
    const sampleRate = checkMetadata(kit, metadata, files.model);
    if (Number(metadata.jieba ?? 0) === 1) ctx.log.warn('melo-tts: this MeloTTS model also speaks Chinese, which needs jieba word segmentation; only its English is supported here');
    const settings = ctx.settings;
    const speed = Number(settings.speed ?? 1);
    if (!(speed > 0)) throw pluginError('PLUGIN_FAILED', `melo-tts.speed must be above 0 (got ${settings.speed})`);

    const [espeak, session] = await Promise.all([
      settings.oov === 'spell' ? undefined : loadEspeak(ctx),
      kit.openOnnxSession({
        ctx,
        modelPath: files.model,
        sessionOptions: { intraOpNumThreads: kit.threadCount(settings.threads), interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 },
      }),
    ]);
    let frontend;
    try {
      checkInputs(kit, session, files.model);
      frontend = await loadMeloFrontend({ tokensPath: files.tokens, lexiconPath: files.lexicon, metadata, espeak, log: ctx.log, pluginError });
    } catch (err) {
      await session.dispose();
      throw err;
    }

    const sid = speakerId(settings.speaker, metadata, ctx.log);
    const scalars = {
      sid: { type: 'int64', data: BigInt64Array.of(BigInt(sid)), dims: [1] },
      noise_scale: { type: 'float32', data: Float32Array.of(Number(settings.noiseScale ?? 0.6)), dims: [1] },
      length_scale: { type: 'float32', data: Float32Array.of(1 / speed), dims: [1] },
      noise_scale_w: { type: 'float32', data: Float32Array.of(Number(settings.noiseScaleW ?? 0.8)), dims: [1] },
    };
    const silence = Math.round(Math.max(0, Number(settings.sentenceSilence ?? 0)) * sampleRate);

    /** One piece of text -> audio, or undefined when nothing in it is pronounceable. */
    async function speak(piece, signal) {
      const t0 = performance.now();
      const { x, tones } = await frontend.encode(piece);
      if (x.length === 0) return undefined;
      const L = x.length;
      const out = await session.run(
        {
          x: { type: 'int64', data: BigInt64Array.from(x, BigInt), dims: [1, L] },
          x_lengths: { type: 'int64', data: BigInt64Array.of(BigInt(L)), dims: [1] },
          tones: { type: 'int64', data: BigInt64Array.from(tones, BigInt), dims: [1, L] },
          ...scalars,
        },
        signal,
      );
      // y is [1, 1, T]; sherpa-onnx takes every element whatever the rank.
      const samples = new Float32Array(out.data.length + silence);
      for (let i = 0; i < out.data.length; i++) samples[i] = Math.max(-1, Math.min(1, out.data[i]));
      const ms = performance.now() - t0;
      const audioMs = (out.data.length / sampleRate) * 1000;
      ctx.log.debug('melo-tts: sentence synthesized', { tokens: L, ms: Math.round(ms), audioMs: Math.round(audioMs), rtf: audioMs > 0 ? +(ms / audioMs).toFixed(3) : null });
      return samples;
    }

    try {
      await speak('hello.', undefined); // warm-up: the first run of a session is the slow one
    } catch (err) {
      await session.dispose();
      throw pluginError('MODEL_CORRUPT', `${files.model} failed its first run with tokens from ${files.tokens} (${err.message}); the files may not belong together`, { cause: err });
    }

    let disposed = false;
    ctx.log.info('melo-tts ready', {
      model: files.dir,
      sampleRate,
      speakers: Number(metadata.n_speakers),
      speaker: sid,
      runtime: session.mode,
      pid: session.pid,
      words: frontend.words.size,
      loadMs: Math.round(performance.now() - started),
    });

    return {
      sampleRate,
      async *synthesize(text, { signal } = {}) {
        if (disposed) throw pluginError('PLUGIN_FAILED', 'melo-tts was disposed');
        if (signal?.aborted) throw abortError(signal);
        // The core hands over one clause, which stays one piece; a longer text is cut by the core's own splitter.
        // One piece is synthesized ahead while the caller consumes the previous one.
        const pieces = kit.splitClauses(kit.normalizeEnglish(text));
        for await (const samples of kit.runAhead(pieces, speak, signal)) yield { samples, sampleRate };
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        await session.dispose();
      },
    };
  },
};
