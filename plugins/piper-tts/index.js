// piper-tts: Piper voices on onnxruntime-node, phonemes from espeak-ng (the `phonemizer` WASM build).
// text (a clause, from the core) -> normalize (English voices) -> pieces, only if it is still more than one ->
// espeak-ng phonemes -> Piper phoneme ids (piper-phonemes.js) -> <voice>.onnx in a child process -> Float32Array.
// Reaches the host only through ctx: ctx.import('parley:kit') for the normalizer, the splitter, the ONNX runner
// and errors; ctx.import('onnxruntime-node' | 'phonemizer'); ctx.resolve for the voice's child process.
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BOS, EOS, PAD, phonemesToIds, sentencePhonemes } from './piper-phonemes.js';

const manifest = JSON.parse(await readFile(new URL('./manifest.json', import.meta.url), 'utf8'));
const DEFAULT_VOICE = manifest.models.find((m) => m.default)?.id ?? manifest.models[0].id;
const CATALOGUE = new Set(manifest.models.map((m) => m.id));

function missing({ pluginError, modelMissing }, id, file, userPath) {
  if (!userPath) return modelMissing(id, file);
  return pluginError('MODEL_MISSING', `piper-tts.model points at ${userPath}, but ${file} is missing: a Piper voice is a .onnx file with its .onnx.json beside it`, { details: { model: id, file } });
}

/** The voice's .onnx and .onnx.json: the `model` setting (file, folder or catalogue id), else the catalogue default. */
export async function resolveVoiceFiles(ctx, kit) {
  const { pluginError, statOrNull } = kit;
  const setting = typeof ctx.settings.model === 'string' ? ctx.settings.model.trim() : '';
  let id = DEFAULT_VOICE;
  let onnx = join(ctx.modelDir, id, `${id}.onnx`);
  let userPath;
  if (setting) {
    const s = statOrNull(setting);
    userPath = setting;
    if (s?.isFile()) {
      onnx = setting.endsWith('.onnx.json') ? setting.slice(0, -'.json'.length) : setting;
    } else if (s?.isDirectory()) {
      const voices = (await readdir(setting)).filter((f) => f.endsWith('.onnx'));
      if (voices.length !== 1) {
        throw pluginError('MODEL_MISSING', `piper-tts.model is the folder ${setting}, which holds ${voices.length === 0 ? 'no .onnx voice' : `${voices.length} voices (${voices.join(', ')}); set it to one of the .onnx files`}`);
      }
      onnx = join(setting, voices[0]);
    } else if (CATALOGUE.has(basename(setting))) {
      // `--set piper-tts.model=en_US-amy-low` picks another catalogue voice.
      id = basename(setting);
      onnx = join(ctx.modelDir, id, `${id}.onnx`);
      userPath = undefined;
    } else {
      throw pluginError('MODEL_MISSING', `piper-tts.model is set to ${setting}, which does not exist. Point it at a Piper voice (.onnx with its .onnx.json beside it) or clear it to use ${DEFAULT_VOICE}.`);
    }
  }
  const json = `${onnx}.json`;
  for (const f of [onnx, json]) if (!statOrNull(f)?.isFile()) throw missing(kit, id, f, userPath);
  return { id, onnx, json };
}

/** The .onnx.json, checked for what synthesis needs (piper's PiperConfig.from_dict). */
export async function readVoiceConfig(file, { pluginError }) {
  let config;
  try {
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw pluginError('MODEL_CORRUPT', `${file} is not valid JSON (${err.message}); download the voice again`);
  }
  const bad = (what) => pluginError('MODEL_CORRUPT', `${file}: ${what}; it is not a Piper voice config`);
  const idMap = config?.phoneme_id_map;
  if (!idMap || typeof idMap !== 'object') throw bad('no phoneme_id_map');
  for (const s of [BOS, EOS, PAD]) if (!Array.isArray(idMap[s])) throw bad(`phoneme_id_map has no "${s}"`);
  const sampleRate = config.audio?.sample_rate;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw bad('audio.sample_rate is missing');
  const phonemeType = config.phoneme_type ?? 'espeak';
  if (phonemeType === 'espeak' && typeof config.espeak?.voice !== 'string') throw bad('espeak.voice is missing');
  const inference = config.inference ?? {};
  return {
    sampleRate,
    phonemeType,
    espeakVoice: config.espeak?.voice,
    idMap,
    phonemeMap: config.phoneme_map ?? {},
    numSpeakers: Number(config.num_speakers ?? 1),
    speakerIdMap: config.speaker_id_map ?? {},
    noiseScale: inference.noise_scale ?? 0.667,
    lengthScale: inference.length_scale ?? 1,
    noiseW: inference.noise_w ?? 0.8,
  };
}

function speakerId(setting, voice, log) {
  if (voice.numSpeakers <= 1) return undefined;
  const raw = String(setting ?? '').trim();
  if (raw === '') return 0;
  let sid = /^\d+$/.test(raw) ? Number(raw) : voice.speakerIdMap[raw];
  if (sid === undefined || sid >= voice.numSpeakers) {
    log.warn(`piper-tts: speaker "${raw}" is not one of this voice's ${voice.numSpeakers} speakers; using 0`);
    sid = 0;
  }
  return sid;
}

/** phonemizer's espeak-ng knows only some voices; say which before the first call, not during it. */
async function espeakFor(ctx, { pluginError }, voice, file) {
  let phonemizer;
  try {
    phonemizer = await ctx.import('phonemizer');
  } catch (err) {
    throw pluginError('PLUGIN_FAILED', `piper-tts needs espeak-ng, which the host provides as the "phonemizer" runtime, and it is not available: ${err.message}`);
  }
  const voices = await phonemizer.list_voices();
  const names = new Set(voices.flatMap((v) => [v.identifier.toLowerCase(), ...v.languages.map((l) => l.name.toLowerCase())]));
  if (!names.has(voice.toLowerCase())) {
    throw pluginError('PLUGIN_FAILED', `${file} needs the espeak-ng voice "${voice}", which the espeak-ng build Parley uses (phonemizer on npm) does not have; it has: ${[...names].filter((n) => !n.includes('/')).sort().join(', ')}`);
  }
  // espeak-ng's WASM runs slowly (100+ ms a sentence) until V8 has optimized it, which takes a dozen or so calls;
  // pay that at load, not on the caller's first sentence. English voices only: the sentences are English.
  if (/^en\b|^en-/i.test(voice)) for (const s of WARMUP) await phonemizer.phonemize(s, voice);
  else await phonemizer.phonemize('hello', voice);
  return (text, v) => phonemizer.phonemize(text, v);
}

const WARMUP = [
  'Hello, thanks for calling.',
  'How can I help you today?',
  'Your appointment is on Tuesday at three thirty p m.',
  'The total is forty five dollars and fifty cents.',
  'Could you spell your last name for me, please?',
  'Unfortunately the office is closed on public holidays.',
  'I will ask my colleague to call you back tomorrow afternoon.',
  'Is there anything else I can do for you?',
  'Absolutely, I can reschedule that for next Wednesday morning.',
  'Great, have a wonderful day. Goodbye!',
  'Please hold on while I check the schedule.',
  'The number is five five five, one two three, four five six seven.',
];

export default {
  async create(ctx) {
    const started = performance.now();
    const kit = await ctx.import('parley:kit');
    const { pluginError, abortError } = kit;
    const files = await resolveVoiceFiles(ctx, kit);
    const voice = await readVoiceConfig(files.json, kit);
    if (voice.phonemeType !== 'espeak') throw pluginError('PLUGIN_FAILED', `${files.json}: phoneme_type "${voice.phonemeType}" voices are not supported yet (only espeak)`);
    const settings = ctx.settings;
    const speed = Number(settings.speed ?? 1);
    if (!(speed > 0)) throw pluginError('PLUGIN_FAILED', `piper-tts.speed must be above 0 (got ${settings.speed})`);

    const [espeak, opened] = await Promise.allSettled([
      espeakFor(ctx, kit, voice.espeakVoice, files.json),
      // Piper loads with graph optimizations off: "roughly doubles load time for no visible inference benefit".
      kit.openOnnxSession({
        ctx,
        modelPath: files.onnx,
        sessionOptions: { intraOpNumThreads: kit.threadCount(settings.threads), interOpNumThreads: 1, graphOptimizationLevel: 'disabled', enableCpuMemArena: false, enableMemPattern: false, logSeverityLevel: 3 },
      }),
    ]);
    if (opened.status === 'rejected') throw opened.reason;
    const session = opened.value;
    if (espeak.status === 'rejected') {
      await session.dispose();
      throw espeak.reason;
    }
    const phonemize = espeak.value;

    const fail = async (err) => {
      await session.dispose();
      throw err;
    };
    for (const name of ['input', 'input_lengths', 'scales']) {
      if (!session.inputNames.includes(name)) await fail(pluginError('MODEL_CORRUPT', `${files.onnx} has no input "${name}" (inputs: ${session.inputNames.join(', ')}); it is not a Piper voice`));
    }
    const hasSid = session.inputNames.includes('sid');
    if (voice.numSpeakers > 1 && !hasSid) await fail(pluginError('MODEL_CORRUPT', `${files.json} says ${voice.numSpeakers} speakers but ${files.onnx} has no "sid" input; the two files do not belong together`));

    const sid = speakerId(settings.speaker, voice, ctx.log);
    const scales = Float32Array.of(Number(settings.noiseScale ?? voice.noiseScale), voice.lengthScale / speed, Number(settings.noiseW ?? voice.noiseW));
    const silence = Math.round(Math.max(0, Number(settings.sentenceSilence ?? 0.2)) * voice.sampleRate);
    const english = /^en\b|^en-/i.test(voice.espeakVoice ?? '');
    const warned = new Set();

    async function ids(sentence) {
      const phonemes = await sentencePhonemes(phonemize, sentence, voice.espeakVoice, voice.phonemeMap);
      const { ids, missing } = phonemesToIds(phonemes, voice.idMap);
      for (const p of missing) {
        if (warned.has(p)) continue;
        warned.add(p);
        ctx.log.warn('piper-tts: phoneme missing from the voice\'s phoneme_id_map, skipped', { phoneme: p, codepoint: `U+${p.codePointAt(0).toString(16).padStart(4, '0')}` });
      }
      return { ids, phonemes };
    }

    async function speak(sentence, signal) {
      const t0 = performance.now();
      const { ids: list, phonemes } = await ids(sentence);
      if (phonemes.length === 0) return undefined;
      const feeds = {
        input: { type: 'int64', data: BigInt64Array.from(list, BigInt), dims: [1, list.length] },
        input_lengths: { type: 'int64', data: BigInt64Array.of(BigInt(list.length)), dims: [1] },
        scales: { type: 'float32', data: scales, dims: [3] },
      };
      if (hasSid) feeds.sid = { type: 'int64', data: BigInt64Array.of(BigInt(sid ?? 0)), dims: [1] };
      const out = await session.run(feeds, signal);
      // Piper scales each sentence to full range (piper.cpp: MAX_WAV_VALUE / max(0.01, peak)).
      let peak = 0.01;
      for (let i = 0; i < out.data.length; i++) peak = Math.max(peak, Math.abs(out.data[i]));
      const samples = new Float32Array(out.data.length + silence);
      for (let i = 0; i < out.data.length; i++) samples[i] = Math.max(-1, Math.min(1, out.data[i] / peak));
      const ms = performance.now() - t0;
      const audioMs = (out.data.length / voice.sampleRate) * 1000;
      ctx.log.debug('piper-tts: sentence synthesized', { ids: list.length, ms: Math.round(ms), audioMs: Math.round(audioMs), rtf: audioMs > 0 ? +(ms / audioMs).toFixed(3) : null });
      return samples;
    }

    try {
      await speak('Hello.', undefined); // warm-up: the first run of a session is the slow one
    } catch (err) {
      await fail(pluginError('MODEL_CORRUPT', `${files.onnx} failed its first run with ids from ${files.json} (${err.message}); the files may not belong together`, { cause: err }));
    }

    let disposed = false;
    ctx.log.info('piper-tts ready', {
      voice: files.onnx,
      sampleRate: voice.sampleRate,
      espeakVoice: voice.espeakVoice,
      speakers: voice.numSpeakers,
      runtime: session.mode,
      pid: session.pid,
      loadMs: Math.round(performance.now() - started),
    });

    return {
      sampleRate: voice.sampleRate,
      async *synthesize(text, { signal } = {}) {
        if (disposed) throw pluginError('PLUGIN_FAILED', 'piper-tts was disposed');
        if (signal?.aborted) throw abortError(signal);
        // The core hands over one clause, which stays one piece; a longer text is cut by the core's own splitter.
        // One piece is synthesized ahead while the caller consumes the previous one.
        const pieces = kit.splitClauses(english ? kit.normalizeEnglish(text) : String(text));
        for await (const samples of kit.runAhead(pieces, speak, signal)) yield { samples, sampleRate: voice.sampleRate };
      },
      async dispose() {
        if (disposed) return;
        disposed = true;
        await session.dispose();
      },
    };
  },
};
