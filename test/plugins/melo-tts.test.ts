/**
 * melo-tts, end to end on the real onnxruntime-node: a MeloTTS-shaped model.onnx (same inputs, output and
 * metadata_props as sherpa-onnx's English export) + the real English tokens.txt + lexicon lines made from real
 * CMU entries. The tiny graph writes each token id into the audio (peak = id/256, stretch = ceil(length_scale *
 * 1024) samples), so the tests read back exactly what the plugin fed the model.
 */
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TtsInstance } from '../../main/core/plugins/api.ts';
import { readManifest } from '../../main/core/plugins/manifest.ts';
// @ts-expect-error plain-JS plugin module without type declarations
import { ipaToArpabet } from '../../plugins/melo-tts/ipa-to-arpabet.js';
// @ts-expect-error plain-JS plugin module without type declarations
import { addBlank, loadMeloFrontend } from '../../plugins/melo-tts/melo-frontend.js';
// @ts-expect-error plain-JS plugin module without type declarations
import { readOnnxMetadata } from '../../plugins/melo-tts/onnx-metadata.js';
import * as kit from '../../main/core/plugins/kit/index.js';
import { buildPiperModel, decodeIds, MELO_EN_SYMBOLS, MELO_SAMPLES_PER_TOKEN, meloLexiconLine, meloMetadata, writeMeloModel } from '../helpers/tiny-tts-models.ts';
import { abortMidRun, createTts, makeTtsContext, speakAll, ttsPluginDir, type TtsContextOptions } from '../helpers/tts-context.ts';
import { foreignImports, rejection } from '../helpers/plugin-context.ts';

const PLUGIN = ttsPluginDir('melo-tts');
const ID = 'vits-melo-tts-en';
let root: string;
let models: string; // a models root holding the catalogue default, as the model manager lays it out

async function melo(options: TtsContextOptions = {}) {
  const ctx = await makeTtsContext(PLUGIN, { modelDir: models, ...options });
  return { ctx, tts: await createTts(PLUGIN, ctx) };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-melo-'));
  models = join(root, 'models');
  await writeMeloModel(join(models, ID));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('manifest', () => {
  it('passes the host validator and lists Hugging Face files without invented checksums', async () => {
    const m = await readManifest(PLUGIN);
    expect(m).toMatchObject({ name: 'melo-tts', kind: 'tts', apiVersion: 1 });
    expect(m.settings.model?.type).toBe('path');
    const model = m.models.find((x) => x.default)!;
    expect(model.id).toBe(ID);
    expect(model.files.map((f) => f.path).sort()).toEqual(['lexicon.txt', 'model.onnx', 'tokens.txt']);
    for (const f of model.files) {
      expect(f.url).toMatch(/^https:\/\/huggingface\.co\/.+\/resolve\/.+/);
      expect(f.sha256).toBeUndefined();
    }
  });
});

describe('tokens and lexicon, as sherpa-onnx lays them out', () => {
  it('tokens.txt is the English symbol table, with V at 14 and _ (blank) at 0', () => {
    expect(MELO_EN_SYMBOLS).toHaveLength(219);
    expect(MELO_EN_SYMBOLS.indexOf('V')).toBe(14);
    expect(MELO_EN_SYMBOLS.indexOf('_')).toBe(0);
  });

  it('lexicon lines carry tones = stress + 1 + tone_start (7), consonants tone_start', () => {
    // cmudict.rep "HELLO  HH AH0 - L OW1" -> refine_syllables -> hh ah l ow / 0 1 0 2 -> + 7
    expect(meloLexiconLine('HELLO  HH AH0 - L OW1')).toBe('hello hh ah l ow 7 8 7 9');
    expect(addBlank([5, 6])).toEqual([0, 5, 0, 6, 0]);
  });

  it('encodes words, punctuation (tone 0) and blanks per piece, "0 0" where pieces meet', async () => {
    const fe = await frontend();
    // hello = hh(49) ah(23) l(70) ow(80), tones 7 8 7 9; "," = 211 tone 0 ends a piece;
    // world = w(108) er(43) l(70) d(34), tones 7 9 7 7; "." = 212 tone 0.
    expect(await fe.encode('Hello, world.')).toMatchObject({
      x: [0, 49, 0, 23, 0, 70, 0, 80, 0, 211, 0, /* next piece */ 0, 108, 0, 43, 0, 70, 0, 34, 0, 212, 0],
      tones: [0, 7, 0, 8, 0, 7, 0, 9, 0, 0, 0, 0, 7, 0, 9, 0, 7, 0, 7, 0, 0, 0],
    });
  });

  it('maps the lexicon\'s "v" to "V" (14) for English, as MeloTTS post_replace_ph does', async () => {
    const fe = await frontend();
    // VERY  V EH1 - R IY0 -> V(14) eh(39) r(85) iy(65), tones 7 9 7 8
    expect((await fe.encode('very')).x).toEqual([0, 14, 0, 39, 0, 85, 0, 65, 0]);
  });

  it('turns ; and : into commas and drops quotes and brackets', async () => {
    const fe = await frontend();
    expect((await fe.encode('hello; "world" (ok)')).x).toEqual((await fe.encode('hello, world ok')).x);
  });

  it('has no blanks when the metadata says add_blank 0', async () => {
    const fe = await frontend({ ...meloMetadata(), add_blank: '0' });
    expect((await fe.encode('hello.')).x).toEqual([49, 23, 70, 80, 212]);
  });

  it('words missing from the lexicon: acronyms spelled, possessives built, others guessed by espeak-ng', async () => {
    const { phonemize } = await import('phonemizer');
    const fe = await frontend(meloMetadata(), async (w) => (await phonemize(w, 'en-us')).join(' '));
    // T = T IY1, S = EH1 S
    expect(await fe.encode('TTS')).toMatchObject({ x: addBlank([89, 65, 89, 65, 39, 87]), tones: addBlank([7, 9, 7, 9, 9, 7]), oov: ['TTS'] });
    // SMITH = S M IH1 TH; TH is voiceless, so "'s" adds s
    expect((await fe.encode("Smith's")).x).toEqual(addBlank([87, 71, 59, 90, 87]));
    // espeak-ng: Siobhan = ʃɪvˈɔːn -> sh ih v ao n, tones 7 8 7 9 7 (v is V for English)
    expect(await fe.encode('Siobhan')).toMatchObject({ x: addBlank([88, 59, 14, 27, 73]), tones: addBlank([7, 8, 7, 9, 7]) });
  });

  it('without espeak-ng an unknown word is spelled letter by letter (sherpa-onnx\'s fallback)', async () => {
    const fe = await frontend();
    const letters = await Promise.all([...'zob'].map((c) => fe.encode(c)));
    expect((await fe.encode('zob')).x).toEqual(addBlank(letters.flatMap((l: { x: number[] }) => l.x.filter((_: number, i: number) => i % 2 === 1))));
  });

  it('espeak-ng IPA maps onto the CMU phones the lexicon would give', () => {
    expect(ipaToArpabet('həlˈoʊ')).toEqual({ phones: ['hh', 'ah', 'l', 'ow'], tones: [0, 1, 0, 2] }); // HH AH0 L OW1
    expect(ipaToArpabet('ɐpˈɔɪntmənt')).toEqual({ phones: ['ah', 'p', 'oy', 'n', 't', 'm', 'ah', 'n', 't'], tones: [1, 0, 2, 0, 0, 0, 1, 0, 0] });
    expect(ipaToArpabet('wˈɜːld').phones).toEqual(['w', 'er', 'l', 'd']);
  });
});

async function frontend(metadata = meloMetadata(), espeak?: (w: string) => Promise<string>) {
  const dir = join(models, ID);
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  return loadMeloFrontend({ tokensPath: join(dir, 'tokens.txt'), lexiconPath: join(dir, 'lexicon.txt'), metadata, espeak, log, pluginError: kit.pluginError });
}

describe('the model file', () => {
  it('carries the metadata_props and inputs of the real English export', async () => {
    expect(await readOnnxMetadata(join(models, ID, 'model.onnx'))).toEqual(meloMetadata());
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(join(models, ID, 'model.onnx'));
    expect(session.inputNames).toEqual(['x', 'x_lengths', 'tones', 'sid', 'noise_scale', 'length_scale', 'noise_scale_w']);
    expect(session.outputNames).toEqual(['y']);
    await session.release();
  });
});

describe('synthesis through onnxruntime', () => {
  let tts: TtsInstance;
  let ctx: Awaited<ReturnType<typeof makeTtsContext>>;
  beforeAll(async () => {
    ({ tts, ctx } = await melo());
  });
  afterAll(async () => {
    await tts.dispose?.();
  });

  it('runs the model in a child process and says so', () => {
    expect(ctx.lines.find((l) => l.msg === 'melo-tts ready')?.fields).toMatchObject({ runtime: 'child-process', sampleRate: 44100, speakers: 5 });
  });

  it('feeds the model exactly the tokens of the text and yields its audio at the metadata sample rate', async () => {
    const spoken = await speakAll(tts, 'Hello, world.');
    expect(spoken.sampleRate).toBe(44100);
    expect(spoken.chunks).toHaveLength(1);
    expect(spoken.samples).toBeInstanceOf(Float32Array);
    expect(decodeIds(spoken.samples, MELO_SAMPLES_PER_TOKEN)).toEqual([0, 49, 0, 23, 0, 70, 0, 80, 0, 211, 0, 0, 108, 0, 43, 0, 70, 0, 34, 0, 212, 0]);
    expect(spoken.samples.length).toBe(22 * MELO_SAMPLES_PER_TOKEN);
  });

  it('normalizes before looking words up: "$12" reaches the model as "twelve dollars"', async () => {
    const a = await speakAll(tts, 'It costs $12.');
    const b = await speakAll(tts, 'It costs twelve dollars.');
    expect(decodeIds(a.samples, MELO_SAMPLES_PER_TOKEN)).toEqual(decodeIds(b.samples, MELO_SAMPLES_PER_TOKEN));
  });

  it('yields one chunk per sentence, each the audio of that sentence alone', async () => {
    const spoken = await speakAll(tts, 'Hello world. Thank you! How can I help?');
    expect(spoken.chunks).toHaveLength(3);
    const fe = await frontend();
    for (const [i, sentence] of ['Hello world.', 'Thank you!', 'How can I help?'].entries()) {
      expect(decodeIds(spoken.chunks[i]!, MELO_SAMPLES_PER_TOKEN)).toEqual((await fe.encode(sentence)).x);
    }
  });

  it('a clause from the core stays one piece; a longer text is cut only where the core\'s splitter cuts', async () => {
    expect((await speakAll(tts, 'We open at nine in the morning, and we close at five in the evening.')).chunks).toHaveLength(1);
    const greeting = 'Hello, thanks for calling Dr. Jones. Dr. Jones is out today, but I can book you in for tomorrow morning, or later this week.';
    const pieces = ['Hello, thanks for calling Doctor Jones.', 'Doctor Jones is out today, but I can book you in for tomorrow morning,', 'or later this week.'];
    expect(kit.splitClauses(kit.normalizeEnglish(greeting))).toEqual(pieces);
    const spoken = await speakAll(tts, greeting);
    const alone = [];
    for (const piece of pieces) alone.push(decodeIds((await speakAll(tts, piece)).samples, MELO_SAMPLES_PER_TOKEN));
    expect(spoken.chunks.map((c) => decodeIds(c, MELO_SAMPLES_PER_TOKEN))).toEqual(alone);
  });

  it('an already aborted signal stops it before any audio', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(speakAll(tts, 'Hello world.', ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('text with nothing to say yields nothing', async () => {
    expect((await speakAll(tts, ' ... ')).chunks).toHaveLength(0);
  });
});

describe('settings', () => {
  it('speed sets length_scale = 1/speed: twice as fast is half as long', async () => {
    const durations: number[] = [];
    for (const speed of [1, 2, 0.5]) {
      const { tts } = await melo({ settings: { speed } });
      durations.push((await speakAll(tts, 'Hello world.')).samples.length);
      await tts.dispose?.();
    }
    // hello world . = 9 tokens, 19 with blanks; ceil(length_scale * 1024) samples each
    expect(durations).toEqual([19 * 1024, 19 * 512, 19 * 2048]);
  });

  it('speaker by number or name reaches sid; an unknown one falls back to 0 with a warning', async () => {
    const au = await melo({ settings: { speaker: 'EN-AU' } });
    const three = await melo({ settings: { speaker: '3' } });
    const bad = await melo({ settings: { speaker: '9' } });
    const [a, b, c] = await Promise.all([au, three, bad].map(({ tts }) => speakAll(tts, 'Hello.')));
    expect(Array.from(a.samples)).toEqual(Array.from(b.samples));
    expect(Array.from(a.samples)).not.toEqual(Array.from(c.samples)); // pitch differs with sid
    expect(decodeIds(a.samples, 1024)).toEqual(decodeIds(c.samples, 1024));
    expect(bad.ctx.lines.some((l) => l.level === 'warn' && /speaker "9"/.test(l.msg))).toBe(true);
    await Promise.all([au, three, bad].map(({ tts }) => tts.dispose?.()));
  });

  it('model may name a folder or its .onnx file; sentenceSilence pads each sentence', async () => {
    const dir = join(root, 'elsewhere');
    await writeMeloModel(dir);
    for (const model of [dir, join(dir, 'model.onnx')]) {
      const { tts } = await melo({ settings: { model, sentenceSilence: 0.1 }, modelDir: join(root, 'empty') });
      const spoken = await speakAll(tts, 'Hello.');
      expect(spoken.samples.length).toBe(11 * 1024 + Math.round(0.1 * 44100)); // hello . = 5 tokens, 11 with blanks
      await tts.dispose?.();
    }
  });
});

describe('streaming and abort on runs that take time', () => {
  let slowModels: string;
  beforeAll(async () => {
    slowModels = join(root, 'slow');
    // ~3 ms per MatMul on one thread here: each run lasts ~0.1 s (streaming) or ~0.6 s (abort)
    await writeMeloModel(join(slowModels, 'stream', ID), { busyMatMuls: 30 });
    await writeMeloModel(join(slowModels, 'abort', ID), { busyMatMuls: 200 });
  });

  it('the first sentence arrives long before the whole text is done', async () => {
    const { tts } = await melo({ modelDir: join(slowModels, 'stream'), settings: { threads: 1 } });
    const text = 'Hello world. Thank you for calling. How can I help? I am here. Please hold on. Goodbye.';
    const spoken = await speakAll(tts, text);
    await tts.dispose?.();
    expect(spoken.chunks).toHaveLength(6);
    const total = spoken.arrivals[5]!;
    // Streaming spreads the chunks over the runs (without it they would all come at the end, together). The spread
    // is compared, not the first arrival: on a busy machine the first run (cold) can be slower than the rest.
    expect(total - spoken.arrivals[0]!).toBeGreaterThan(total / 3);
  });

  it('abort stops the iterator with an AbortError within 100 ms, mid-run', async () => {
    const { tts } = await melo({ modelDir: join(slowModels, 'abort'), settings: { threads: 1 } });
    const { runMs, err, stoppedMs } = await abortMidRun(tts);
    expect(runMs).toBeGreaterThan(150); // the next run is in flight for about as long
    expect(err.name).toBe('AbortError');
    expect(stoppedMs).toBeLessThan(100);
    await tts.dispose?.();
  });
});

describe('the model process', () => {
  const busyModels = () => join(root, 'busy');
  beforeAll(async () => {
    await writeMeloModel(join(busyModels(), ID), { busyMatMuls: 200 });
  });
  const pidOf = (lines: { msg: string; fields?: Record<string, unknown> }[]) => lines.find((l) => l.msg === 'melo-tts ready')!.fields!.pid as number;
  // A process that has exited but was not reaped (its parent thread is gone) is a zombie: it counts as ended.
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };
  async function gone(pid: number, withinMs: number) {
    const until = performance.now() + withinMs;
    while (alive(pid) && performance.now() < until) await new Promise((r) => setTimeout(r, 25));
    return !alive(pid);
  }

  it('a crash mid-sentence costs that sentence only: PLUGIN_FAILED, then the next one restarts it', async () => {
    const { tts, ctx } = await melo({ modelDir: busyModels(), settings: { threads: 1 } });
    const pid = pidOf(ctx.lines);
    const speaking = speakAll(tts, 'Hello world.');
    setTimeout(() => process.kill(pid, 'SIGKILL'), 100);
    const err = await rejection(speaking);
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/stopped unexpectedly \(signal SIGKILL\)/);
    expect(decodeIds((await speakAll(tts, 'Hello.')).samples, 1024)).toEqual([0, 49, 0, 23, 0, 70, 0, 80, 0, 212, 0]);
    await tts.dispose?.();
  });

  it('dispose ends the model process; synthesize afterwards is a clear error', async () => {
    const { tts, ctx } = await melo();
    const pid = pidOf(ctx.lines);
    expect(alive(pid)).toBe(true);
    await tts.dispose?.();
    await tts.dispose?.();
    expect(await gone(pid, 2000)).toBe(true);
    expect((await rejection(speakAll(tts, 'Hello.'))).code).toBe('PLUGIN_FAILED');
  });

  it('the host may terminate the plugin\'s thread mid-sentence: this process lives on and the model process ends', async () => {
    // A host may run plugins in worker threads and terminate them on unload (Parley's own gives each a worker
    // process). Had onnxruntime run in that thread, terminating it mid-run would abort this whole process
    // ("terminate called after throwing Napi::Error"). The thread gets the kit as a plain ES module.
    const runtimes = {
      'onnxruntime-node': fileURLToPath(import.meta.resolve('onnxruntime-node')),
      phonemizer: fileURLToPath(import.meta.resolve('phonemizer')),
      'parley:kit': fileURLToPath(new URL('../../main/core/plugins/kit/index.js', import.meta.url)),
    };
    const worker = new Worker(
      `const { parentPort, workerData: w } = require('node:worker_threads');
       const { pathToFileURL } = require('node:url');
       (async () => {
         const log = (level) => (msg, fields) => msg === 'melo-tts ready' && parentPort.postMessage({ pid: fields.pid });
         const ctx = { settings: { model: '', speaker: '0', speed: 1, oov: 'spell', threads: 1 }, modelDir: w.modelDir,
           log: { debug() {}, info: log('info'), warn() {}, error() {} },
           import: (name) => import(pathToFileURL(w.runtimes[name]).href), resolve: (name) => w.runtimes[name] };
         const tts = await (await import(w.plugin)).default.create(ctx);
         const it = tts.synthesize('Hello world. Goodbye.', { signal: new AbortController().signal })[Symbol.asyncIterator]();
         parentPort.postMessage({ speaking: true });
         await it.next();
       })();`,
      { eval: true, workerData: { plugin: pathToFileURL(join(PLUGIN, 'index.js')).href, modelDir: busyModels(), runtimes } },
    );
    let pid = 0;
    await new Promise<void>((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (m: { pid?: number; speaking?: boolean }) => {
        if (m.pid) pid = m.pid;
        if (m.speaking) resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 100)); // the model process is inside a run now
    await worker.terminate();
    expect(await gone(pid, 5000)).toBe(true);
  });
});

describe('missing and broken models', () => {
  it('no model: MODEL_MISSING with the pull command and the file looked for', async () => {
    const ctx = await makeTtsContext(PLUGIN, { modelDir: join(root, 'empty') });
    const err = await rejection(createTts(PLUGIN, ctx));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('npm run models -- pull vits-melo-tts-en');
    expect(err.message).toContain(join(root, 'empty', ID, 'model.onnx'));
  });

  it('a folder without lexicon.txt: MODEL_MISSING naming lexicon.txt', async () => {
    const dir = join(root, 'no-lexicon');
    await writeMeloModel(dir);
    await rm(join(dir, 'lexicon.txt'));
    const err = await rejection(melo({ settings: { model: dir } }));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain(join(dir, 'lexicon.txt'));
  });

  it('a model setting that points nowhere says so', async () => {
    const err = await rejection(melo({ settings: { model: join(root, 'nope') } }));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toMatch(/melo-tts\.model is set to .*nope/);
  });

  async function broken(name: string, change: (dir: string) => Promise<void>) {
    const dir = join(root, name);
    await writeMeloModel(dir);
    await change(dir);
    return rejection(melo({ settings: { model: dir } }));
  }

  it('garbage or a cut-off model.onnx: MODEL_CORRUPT naming the file', async () => {
    for (const [name, change] of [
      ['garbage', (dir: string) => writeFile(join(dir, 'model.onnx'), 'this is not a model')],
      ['truncated', async (dir: string) => writeFile(join(dir, 'model.onnx'), (await readFile(join(dir, 'model.onnx'))).subarray(0, 2000))],
    ] as const) {
      const err = await broken(name, change);
      expect(err.code, name).toBe('MODEL_CORRUPT');
      expect(err.message).toContain(join(root, name, 'model.onnx'));
    }
  });

  it('a Piper voice where model.onnx should be: MODEL_CORRUPT, not a MeloTTS export', async () => {
    const err = await broken('piper-in-melo', (dir) => writeFile(join(dir, 'model.onnx'), buildPiperModel()));
    expect(err.code).toBe('MODEL_CORRUPT');
    expect(err.message).toMatch(/not a MeloTTS export/);
  });

  it('a malformed tokens.txt or a lexicon from another model: MODEL_CORRUPT naming the files', async () => {
    const badTokens = await broken('bad-tokens', (dir) => writeFile(join(dir, 'tokens.txt'), '_ 0\nhh\n'));
    expect(badTokens.code).toBe('MODEL_CORRUPT');
    expect(badTokens.message).toContain(join(root, 'bad-tokens', 'tokens.txt'));
    const mismatch = await broken('mismatch', (dir) => writeFile(join(dir, 'tokens.txt'), MELO_EN_SYMBOLS.slice(0, 20).map((s, i) => `${s} ${i}\n`).join('')));
    expect(mismatch.code).toBe('MODEL_CORRUPT');
    expect(mismatch.message).toMatch(/lexicon\.txt uses phones that .*tokens\.txt does not have/);
  });

  it('metadata without sample_rate: MODEL_CORRUPT', async () => {
    const { sample_rate: _, ...rest } = meloMetadata();
    const dir = join(root, 'no-rate');
    await writeMeloModel(dir, { metadata: rest });
    const err = await rejection(melo({ settings: { model: dir } }));
    expect(err.code).toBe('MODEL_CORRUPT');
    expect(err.message).toMatch(/sample_rate/);
  });
});

describe('lifecycle and portability', () => {
  it('without ctx.resolve it runs in-process, with a warning, and still speaks correctly', async () => {
    const { tts, ctx } = await melo({ withoutResolve: true });
    expect(ctx.lines.some((l) => l.level === 'warn' && /in-process/.test(l.msg))).toBe(true);
    expect(decodeIds((await speakAll(tts, 'Hello.')).samples, 1024)).toEqual([0, 49, 0, 23, 0, 70, 0, 80, 0, 212, 0]);
    await tts.dispose?.();
  });

  it('imports nothing from outside its folder but Node built-ins', async () => {
    expect(foreignImports(PLUGIN)).toEqual([]);
  });

  it('works from a copy of its folder anywhere (it reaches the host only through ctx)', async () => {
    const copy = join(root, 'plugins-elsewhere', 'melo-tts');
    await cp(PLUGIN, copy, { recursive: true });
    const ctx = await makeTtsContext(copy, { modelDir: models });
    const tts = await createTts(copy, ctx);
    expect((await speakAll(tts, 'Hello.')).chunks).toHaveLength(1);
    await tts.dispose?.();
  });
});
