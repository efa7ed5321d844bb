/**
 * piper-tts, end to end on the real onnxruntime-node and the real espeak-ng (phonemizer's WASM build): a
 * Piper-shaped <voice>.onnx (export_onnx.py's inputs/output, opset 15) with a published-style .onnx.json. The tiny
 * graph writes each phoneme id into the audio (peak ∝ id, 512 samples × length_scale per id), so the tests read
 * back what the plugin fed the model — and compare it with Piper's own reference ids.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TtsInstance } from '../../main/core/plugins/api.ts';
import { readManifest } from '../../main/core/plugins/manifest.ts';
// @ts-expect-error plain-JS plugin module without type declarations
import { clauses, ipaToPhonemes, phonemesToIds, sentencePhonemes } from '../../plugins/piper-tts/piper-phonemes.js';
import { decodeIds, PIPER_EN_PHONEME_ID_MAP, PIPER_SAMPLES_PER_ID, piperConfig, writeMeloModel, writePiperVoice } from '../helpers/tiny-tts-models.ts';
import { abortMidRun, createTts, makeTtsContext, ROOT, speakAll, ttsPluginDir, type TtsContextOptions } from '../helpers/tts-context.ts';
import { foreignImports, rejection } from '../helpers/plugin-context.ts';

const PLUGIN = ttsPluginDir('piper-tts');
const ID = 'en_US-lessac-medium';

interface Reference {
  text: string;
  phonemes: string[];
  phoneme_ids: number[];
}
let reference: Reference[];
let root: string;
let models: string;

async function piper(options: TtsContextOptions = {}) {
  const ctx = await makeTtsContext(PLUGIN, { modelDir: models, ...options });
  return { ctx, tts: await createTts(PLUGIN, ctx) };
}

/** Undo Piper's per-sentence peak normalization: the largest id's stretch is at full scale. */
function idsFromAudio(samples: Float32Array, largestId: number, samplesPerId = PIPER_SAMPLES_PER_ID): number[] {
  return decodeIds(samples, samplesPerId, largestId / 256);
}

beforeAll(async () => {
  reference = (await readFile(join(ROOT, 'test/fixtures/piper/test_en-us.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Reference);
  root = await mkdtemp(join(tmpdir(), 'parley-piper-'));
  models = join(root, 'models');
  await writePiperVoice(join(models, ID), ID);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('manifest', () => {
  it('passes the host validator; Hugging Face files with their published sizes and no invented checksums', async () => {
    const m = await readManifest(PLUGIN);
    expect(m).toMatchObject({ name: 'piper-tts', kind: 'tts', apiVersion: 1 });
    const voice = m.models.find((x) => x.default)!;
    expect(voice.id).toBe(ID);
    expect(voice.files.map((f) => f.path)).toEqual([`${ID}.onnx`, `${ID}.onnx.json`, 'MODEL_CARD']);
    for (const model of m.models) {
      expect(model.size).toBe(model.files.reduce((n, f) => n + (f.size ?? 0), 0));
      for (const f of model.files) {
        expect(f.url).toMatch(/^https:\/\/huggingface\.co\/rhasspy\/piper-voices\/resolve\//);
        expect(f.sha256).toBeUndefined();
      }
    }
  });

  it('offers the same everyday settings as melo-tts, so the two are interchangeable', async () => {
    const [p, m] = await Promise.all([readManifest(PLUGIN), readManifest(ttsPluginDir('melo-tts'))]);
    for (const key of ['model', 'speaker', 'speed', 'sentenceSilence', 'threads']) {
      expect(p.settings[key]?.type, key).toBe(m.settings[key]?.type);
    }
  });
});

describe('phonemes and ids, against Piper\'s own reference sentences', () => {
  it('phoneme ids: ^ _ then each phoneme and _, then $ — identical to Piper for every reference sentence', () => {
    for (const r of reference) expect(phonemesToIds(r.phonemes, PIPER_EN_PHONEME_ID_MAP).ids).toEqual(r.phoneme_ids);
  });

  it('a hand-checked short case and a missing phoneme', () => {
    // ^=1 _=0 h=20 ə=59 $=2
    expect(phonemesToIds(['h', 'ə', '☃'], PIPER_EN_PHONEME_ID_MAP)).toEqual({ ids: [1, 0, 20, 0, 59, 0, 2], missing: ['☃'] });
  });

  it('espeak-ng phonemes with Piper\'s punctuation: identical to Piper for every reference sentence', async () => {
    const { phonemize } = await import('phonemizer');
    for (const r of reference) expect((await sentencePhonemes(phonemize, r.text, 'en-us')).join(''), r.text).toBe(r.phonemes.join(''));
  });

  it('clause punctuation as piper-phonemize adds it: , ; : with a space, . ? ! alone', () => {
    expect(clauses('Hello, world; yes: no? Fine!')).toEqual([
      { text: 'Hello', after: [',', ' '] },
      { text: 'world', after: [';', ' '] },
      { text: 'yes', after: [':', ' '] },
      { text: 'no', after: ['?'] },
      { text: 'Fine', after: ['!'] },
    ]);
    expect(clauses('Really?!')).toEqual([{ text: 'Really', after: ['?'] }]);
  });

  it('IPA is decomposed (NFD), language flags dropped, the voice\'s phoneme_map applied', () => {
    expect(ipaToPhonemes('ç')).toEqual(['c', '\u0327']);
    // "(fr)…(en)" only marks a switch of language: the flags go, the phonemes between them stay (NFD: ɔ + ̃)
    expect(ipaToPhonemes('(fr)bɔ̃(en) ok')).toEqual(['b', 'ɔ', '\u0303', ' ', 'o', 'k']);
    expect(ipaToPhonemes('ac', { c: ['k'] })).toEqual(['a', 'k']);
  });
});

describe('the voice files', () => {
  it('have the inputs and output of a Piper export; sid only for multi-speaker voices', async () => {
    const ort = await import('onnxruntime-node');
    const single = await ort.InferenceSession.create(join(models, ID, `${ID}.onnx`));
    expect(single.inputNames).toEqual(['input', 'input_lengths', 'scales']);
    expect(single.outputNames).toEqual(['output']);
    await single.release();
    const multi = await writePiperVoice(join(root, 'multi-check'), 'v', { numSpeakers: 3 });
    const session = await ort.InferenceSession.create(multi.onnx);
    expect(session.inputNames).toEqual(['input', 'input_lengths', 'scales', 'sid']);
    await session.release();
  });
});

describe('synthesis through onnxruntime', () => {
  let tts: TtsInstance;
  let ctx: Awaited<ReturnType<typeof makeTtsContext>>;
  beforeAll(async () => {
    ({ tts, ctx } = await piper({ settings: { sentenceSilence: 0 } }));
  });
  afterAll(async () => {
    await tts.dispose?.();
  });

  it('runs the voice in a child process at the voice\'s sample rate', () => {
    expect(ctx.lines.find((l) => l.msg === 'piper-tts ready')?.fields).toMatchObject({ runtime: 'child-process', sampleRate: 22050, espeakVoice: 'en-us' });
  });

  it('feeds the model exactly Piper\'s reference ids for a reference sentence', async () => {
    for (const r of reference.slice(1, 3)) {
      const spoken = await speakAll(tts, r.text);
      expect(spoken.sampleRate).toBe(22050);
      expect(spoken.chunks).toHaveLength(1);
      expect(idsFromAudio(spoken.samples, Math.max(...r.phoneme_ids))).toEqual(r.phoneme_ids);
    }
  });

  it('scales each sentence to full range, as piper does', async () => {
    const spoken = await speakAll(tts, 'Hello.');
    const peak = spoken.samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0.999);
    expect(peak).toBeLessThanOrEqual(1);
  });

  it('normalizes text first: "$12.50" is spoken as "twelve dollars and fifty cents"', async () => {
    const a = await speakAll(tts, 'It costs $12.50.');
    const b = await speakAll(tts, 'It costs twelve dollars and fifty cents.');
    expect(Array.from(a.samples)).toEqual(Array.from(b.samples));
  });

  it('one chunk per sentence; a long first sentence is cut at its first comma', async () => {
    expect((await speakAll(tts, 'Hello world. Thank you! How can I help?')).chunks).toHaveLength(3);
    expect((await speakAll(tts, reference[0]!.text)).chunks).toHaveLength(2);
  });

  it('a clause from the core stays one piece, abbreviations and all', async () => {
    expect((await speakAll(tts, 'We open at nine in the morning, and we close at five in the evening.')).chunks).toHaveLength(1);
    expect((await speakAll(tts, 'Prof. Smith and Dr. Jones can see you at three.')).chunks).toHaveLength(1);
  });

  it('an already aborted signal stops it before any audio', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(speakAll(tts, 'Hello world.', ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('settings', () => {
  it('speed: length_scale = the voice\'s length_scale / speed', async () => {
    const lengths: number[] = [];
    for (const speed of [1, 2]) {
      const { tts } = await piper({ settings: { speed, sentenceSilence: 0 } });
      lengths.push((await speakAll(tts, 'Hello.')).samples.length);
      await tts.dispose?.();
    }
    const voice = join(root, 'slow-voice');
    await writePiperVoice(voice, 'v', { inference: { noise_scale: 0.667, length_scale: 1.5, noise_w: 0.8 } });
    const { tts } = await piper({ settings: { model: join(voice, 'v.onnx'), speed: 1.5, sentenceSilence: 0 } });
    lengths.push((await speakAll(tts, 'Hello.')).samples.length);
    await tts.dispose?.();
    const ids = lengths[0]! / PIPER_SAMPLES_PER_ID;
    expect(lengths).toEqual([ids * 512, ids * 256, ids * 512]);
  });

  it('sentenceSilence pads each sentence; the sample rate follows the voice\'s .onnx.json', async () => {
    const voice = await writePiperVoice(join(root, 'low'), 'en_US-tiny-low', { sampleRate: 16000, quality: 'low' });
    const { tts } = await piper({ settings: { model: voice.onnx, sentenceSilence: 0.25 } });
    const spoken = await speakAll(tts, 'Hello.');
    expect(spoken.sampleRate).toBe(16000);
    expect(Array.from(spoken.samples.subarray(spoken.samples.length - 4000)).every((v) => v === 0)).toBe(true);
    expect(spoken.samples.length % PIPER_SAMPLES_PER_ID).toBe(4000 % PIPER_SAMPLES_PER_ID);
    await tts.dispose?.();
  });

  it('multi-speaker voices: speaker by number or name reaches sid; unknown ones fall back to 0', async () => {
    const voice = await writePiperVoice(join(root, 'multi'), 'en_US-tiny-multi', { numSpeakers: 3 });
    const run = async (speaker: string) => {
      const made = await piper({ settings: { model: voice.onnx, speaker, sentenceSilence: 0 } });
      const spoken = await speakAll(made.tts, 'Hello.');
      await made.tts.dispose?.();
      return { samples: Array.from(spoken.samples), lines: made.ctx.lines };
    };
    const [byName, byNumber, zero, unknown] = await Promise.all([run('speaker_2'), run('2'), run(''), run('nobody')]);
    expect(byName.samples).toEqual(byNumber.samples);
    expect(byName.samples).not.toEqual(zero.samples);
    expect(unknown.samples).toEqual(zero.samples);
    expect(unknown.lines.some((l) => l.level === 'warn' && /speaker "nobody"/.test(l.msg))).toBe(true);
  });

  it('model may name a catalogue voice by id; a folder with two voices is ambiguous', async () => {
    await writePiperVoice(join(models, 'en_US-amy-low'), 'en_US-amy-low', { sampleRate: 16000 });
    const { tts } = await piper({ settings: { model: 'en_US-amy-low' } });
    expect((await speakAll(tts, 'Hi.')).sampleRate).toBe(16000);
    await tts.dispose?.();
    const two = join(root, 'two');
    await writePiperVoice(two, 'a');
    await writePiperVoice(two, 'b');
    const err = await rejection(piper({ settings: { model: two } }));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toMatch(/2 voices \(a\.onnx, b\.onnx\)/);
  });
});

describe('streaming and abort on runs that take time', () => {
  it('the first sentence arrives long before the whole text is done', async () => {
    const voice = await writePiperVoice(join(root, 'busy-stream'), 'v', { busyMatMuls: 30 });
    const { tts } = await piper({ settings: { model: voice.onnx, threads: 1 } });
    const spoken = await speakAll(tts, 'Hello world. Thank you for calling. How can I help? I am here. Please hold on. Goodbye.');
    await tts.dispose?.();
    expect(spoken.chunks).toHaveLength(6);
    // Streaming spreads the chunks over the runs (without it they would all come at the end, together). The spread
    // is compared, not the first arrival: on a busy machine the first run (cold) can be slower than the rest.
    expect(spoken.arrivals[5]! - spoken.arrivals[0]!).toBeGreaterThan(spoken.arrivals[5]! / 3);
  });

  it('abort stops the iterator with an AbortError within 100 ms, mid-run', async () => {
    const voice = await writePiperVoice(join(root, 'busy-abort'), 'v', { busyMatMuls: 200 });
    const { tts } = await piper({ settings: { model: voice.onnx, threads: 1 } });
    const { runMs, err, stoppedMs } = await abortMidRun(tts);
    expect(runMs).toBeGreaterThan(150); // each run lasts about this long
    expect(err.name).toBe('AbortError');
    expect(stoppedMs).toBeLessThan(100);
    await tts.dispose?.();
  });
});

describe('missing and broken voices', () => {
  it('no voice: MODEL_MISSING with the pull command and the file looked for', async () => {
    const err = await rejection(piper({ modelDir: join(root, 'empty') }));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain(`npm run models -- pull ${ID}`);
    expect(err.message).toContain(join(root, 'empty', ID, `${ID}.onnx`));
  });

  it('an .onnx without its .onnx.json: MODEL_MISSING naming the json', async () => {
    const voice = await writePiperVoice(join(root, 'no-json'), 'v');
    await rm(voice.json);
    const err = await rejection(piper({ settings: { model: voice.onnx } }));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain(voice.json);
  });

  it('broken .onnx.json, a config without phoneme_id_map, garbage .onnx: MODEL_CORRUPT naming the file', async () => {
    const cases: [string, (v: { onnx: string; json: string }) => Promise<void>, 'json' | 'onnx'][] = [
      ['bad-json', (v) => writeFile(v.json, '{"audio": '), 'json'],
      ['no-map', (v) => writeFile(v.json, JSON.stringify({ ...piperConfig(), phoneme_id_map: undefined })), 'json'],
      ['garbage-onnx', (v) => writeFile(v.onnx, 'not a model at all'), 'onnx'],
    ];
    for (const [name, change, file] of cases) {
      const voice = await writePiperVoice(join(root, name), 'v');
      await change(voice);
      const err = await rejection(piper({ settings: { model: voice.onnx } }));
      expect(err.code, name).toBe('MODEL_CORRUPT');
      expect(err.message, name).toContain(voice[file]);
    }
  });

  it('a config that says several speakers for a single-speaker model: MODEL_CORRUPT', async () => {
    const voice = await writePiperVoice(join(root, 'mismatch'), 'v');
    await writeFile(voice.json, JSON.stringify(piperConfig({ numSpeakers: 4 })));
    const err = await rejection(piper({ settings: { model: voice.onnx } }));
    expect(err.code).toBe('MODEL_CORRUPT');
    expect(err.message).toMatch(/no "sid" input/);
  });

  it('a voice that needs an espeak-ng language the npm build lacks: PLUGIN_FAILED naming what it has', async () => {
    const voice = await writePiperVoice(join(root, 'german'), 'de_DE-x-medium', { espeakVoice: 'de' });
    const err = await rejection(piper({ settings: { model: voice.onnx } }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/espeak-ng voice "de".*en-us/);
  });

  it('a host without the phonemizer runtime: PLUGIN_FAILED naming it', async () => {
    const err = await rejection(piper({ withoutRuntimes: ['phonemizer'] }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/phonemizer/);
  });
});

describe('lifecycle and portability', () => {
  it('dispose ends it; synthesize afterwards is a clear error', async () => {
    const { tts } = await piper();
    await tts.dispose?.();
    await tts.dispose?.();
    expect((await rejection(speakAll(tts, 'Hello.'))).code).toBe('PLUGIN_FAILED');
  });

  it('without ctx.resolve it runs in-process, with a warning, and still speaks', async () => {
    const { tts, ctx } = await piper({ withoutResolve: true, settings: { sentenceSilence: 0 } });
    expect(ctx.lines.some((l) => l.level === 'warn' && /in-process/.test(l.msg))).toBe(true);
    const r = reference[1]!;
    expect(idsFromAudio((await speakAll(tts, r.text)).samples, Math.max(...r.phoneme_ids))).toEqual(r.phoneme_ids);
    await tts.dispose?.();
  });

  it('imports nothing from outside its folder but Node built-ins', async () => {
    expect(foreignImports(PLUGIN)).toEqual([]);
  });

  it('works from a copy of its folder anywhere (it reaches the host only through ctx)', async () => {
    const copy = join(root, 'plugins-elsewhere', 'piper-tts');
    await cp(PLUGIN, copy, { recursive: true });
    const tts = await createTts(copy, await makeTtsContext(copy, { modelDir: models }));
    expect((await speakAll(tts, 'Hello.')).chunks).toHaveLength(1);
    await tts.dispose?.();
  });

  it('is interchangeable with melo-tts: same call, same chunk shape, each at its own sample rate', async () => {
    const meloModels = join(root, 'melo-models');
    await writeMeloModel(join(meloModels, 'vits-melo-tts-en'));
    const melo = await createTts(ttsPluginDir('melo-tts'), await makeTtsContext(ttsPluginDir('melo-tts'), { modelDir: meloModels }));
    const { tts } = await piper();
    for (const [engine, rate] of [[melo, 44100], [tts, 22050]] as const) {
      const spoken = await speakAll(engine, 'Hello world. Goodbye.');
      expect(spoken.chunks).toHaveLength(2);
      expect(spoken.sampleRate).toBe(rate);
      for (const c of spoken.chunks) expect(c).toBeInstanceOf(Float32Array);
      await engine.dispose?.();
    }
  });
});
