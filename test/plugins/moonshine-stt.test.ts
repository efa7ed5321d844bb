/**
 * moonshine-stt with the real @huggingface/transformers ASR pipeline (onnxruntime-node underneath) on a tiny random
 * Moonshine folder written by test/helpers/tiny-moonshine.ts, fed real speech (jfk.wav), silence and noise. The
 * plugin runs from a copy of its folder in a temp dir, so it is proven to reach the host only through ctx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginModule, SttInstance } from '../../main/core/plugins/api.ts';
import { readManifest } from '../../main/core/plugins/manifest.ts';
import { readWav } from '../../main/core/audio/wav.ts';
import { AUDIO } from '../helpers/core.ts';
import { foreignImports, importPlugin, makePluginContext, pluginFolder, rejection, type TestPluginContext } from '../helpers/plugin-context.ts';
import { writeTinyMoonshine, type TinyMoonshineInfo } from '../helpers/tiny-moonshine.ts';
import { writeTinyWhisper } from '../helpers/tiny-whisper.ts';
import { asrModelFiles, cleanTranscript } from '../../main/core/plugins/kit/index.js';
import { pipeline } from '@huggingface/transformers';

const RATE = 16000;

function whiteNoise(seconds: number, rms: number, seed = 1): Float32Array {
  let a = seed;
  const random = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const amp = rms * Math.sqrt(3);
  return Float32Array.from({ length: Math.round(seconds * RATE) }, () => random() * amp);
}

let work: string;
let pluginDir: string;
let plugin: PluginModule;
let tiny: TinyMoonshineInfo;
let jfk: Float32Array;
const live: SttInstance[] = [];

async function create(settings: Record<string, unknown>, modelDir?: string): Promise<{ stt: SttInstance; ctx: TestPluginContext }> {
  const ctx = await makePluginContext({ pluginDir, settings: { threads: 1, ...settings }, modelDir: modelDir ?? join(work, 'models') });
  const stt = (await plugin.create(ctx)) as SttInstance;
  live.push(stt);
  return { stt, ctx };
}

const audio = (samples: Float32Array) => ({ samples, sampleRate: 16000 as const });
const never = () => new AbortController().signal;
const runs = (ctx: TestPluginContext) => ctx.logs.filter((l) => l.msg === 'transcribed').length;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'parley-moonshine-'));
  pluginDir = join(work, 'plugins', 'moonshine-stt');
  cpSync(pluginFolder('moonshine-stt'), pluginDir, { recursive: true });
  tiny = writeTinyMoonshine(join(work, 'tiny-moonshine'));
  const wav = readWav(AUDIO('jfk.wav'));
  expect(wav.sampleRate).toBe(RATE);
  jfk = wav.samples;
  plugin = await importPlugin(pluginDir);
}, 60_000);

afterAll(async () => {
  await Promise.all(live.map((stt) => stt.dispose?.()));
  rmSync(work, { recursive: true, force: true });
});

describe('moonshine-stt manifest and folder', () => {
  it('has a valid manifest whose catalogue models list exactly the q8 files the plugin loads', async () => {
    const manifest = await readManifest(pluginFolder('moonshine-stt'));
    expect(manifest.kind).toBe('stt');
    expect(manifest.settings.model!.type).toBe('path');
    expect(manifest.settings.dtype!.default).toBe('q8');
    expect(manifest.settings.maxSeconds!.default).toBe(30);
    expect(manifest.models.map((m) => m.id)).toEqual(['moonshine-tiny', 'moonshine-base']);
    expect(manifest.models.filter((m) => m.default).map((m) => m.id)).toEqual(['moonshine-tiny']);
    for (const model of manifest.models) {
      expect(model.files.map((f) => f.path).sort()).toEqual([...asrModelFiles('q8')].sort());
      for (const file of model.files) expect(file.url).toBe(`https://huggingface.co/onnx-community/${model.id}-ONNX/resolve/main/${file.path}`);
      expect(model.size).toBeGreaterThan(10_000_000);
    }
  });

  it('imports nothing but node built-ins and its own files', () => {
    expect(foreignImports(pluginFolder('moonshine-stt'))).toEqual([]);
  });
});

describe('moonshine-stt on a tiny random Moonshine through the real transformers.js pipeline', () => {
  let stt: SttInstance;
  let ctx: TestPluginContext;

  beforeAll(async () => {
    ({ stt, ctx } = await create({ model: tiny.dir }));
  }, 60_000);

  it('loads and warms up in create, with q8 weights', () => {
    expect(ctx.logs.find((l) => l.msg === 'moonshine model loaded')?.fields).toMatchObject({ model: tiny.dir, dtype: 'q8', maxSeconds: 30 });
  });

  it('transcribes real speech end to end into the model\'s vocabulary, deterministically, depending on the audio', async () => {
    const first = await stt.transcribe(audio(jfk), { signal: never() });
    expect(first.text.length).toBeGreaterThan(3);
    for (const ch of first.text) expect(tiny.alphabet.has(ch)).toBe(true);
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text).toBe(first.text);
    const other = await stt.transcribe(audio(jfk.slice(RATE * 4, RATE * 9)), { signal: never() });
    expect(other.text.length).toBeGreaterThan(0);
    expect(other.text).not.toBe(first.text);
    expect(runs(ctx)).toBe(3);
  });

  it('gives the same text as the stock transformers.js pipeline where its token cap does not bite', async () => {
    const asr = await pipeline('automatic-speech-recognition', tiny.dir, { dtype: 'q8', local_files_only: true });
    try {
      for (const clip of [jfk, jfk.slice(0, RATE * 5), jfk.slice(RATE * 4, RATE * 10)]) {
        const stock = (await asr(clip)) as { text: string };
        expect((await stt.transcribe(audio(clip), { signal: never() })).text).toBe(cleanTranscript(stock.text).text);
      }
    } finally {
      await asr.dispose();
    }
  });

  it('still yields words for speech under one second, where the stock pipeline\'s cap is floor(s) * 6 = 0', async () => {
    const short = jfk.slice(RATE, RATE + Math.round(RATE * 0.8));
    const asr = await pipeline('automatic-speech-recognition', tiny.dir, { dtype: 'q8', local_files_only: true });
    let stock: string;
    try {
      stock = ((await asr(short)) as { text: string }).text.trim();
    } finally {
      await asr.dispose();
    }
    const ours = (await stt.transcribe(audio(short), { signal: never() })).text;
    expect(ours.split(/\s+/).filter(Boolean).length).toBeGreaterThanOrEqual(3);
    expect(ours.length).toBeGreaterThan(stock.length);
  });

  it('returns "" for silence and noise without running Moonshine', async () => {
    const before = runs(ctx);
    expect(await stt.transcribe(audio(new Float32Array(RATE * 3)), { signal: never() })).toEqual({ text: '' });
    expect(await stt.transcribe(audio(whiteNoise(3, 0.2)), { signal: never() })).toEqual({ text: '' });
    expect(await stt.transcribe(audio(jfk.slice(RATE, RATE + 1600)), { signal: never() })).toEqual({ text: '' });
    expect(runs(ctx)).toBe(before);
    expect(ctx.logs.filter((l) => l.msg === 'not speech; Moonshine not run').map((l) => (l.fields as { reason: string }).reason)).toEqual(['silence', 'noise', 'too short']);
  });

  it('refuses audio longer than maxSeconds with an error that says what to do, without running the model', async () => {
    const long = new Float32Array(jfk.length * 3); // 33 s
    for (let i = 0; i < 3; i++) long.set(jfk, i * jfk.length);
    const before = runs(ctx);
    const err = await rejection(stt.transcribe(audio(long), { signal: never() }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toContain('moonshine-stt transcribes at most 30 s in one turn, got 33.0 s');
    expect(err.message).toContain('moonshine-stt.maxSeconds');
    expect(runs(ctx)).toBe(before);
    // The same audio is accepted once the cap is raised.
    const { stt: roomy } = await create({ model: tiny.dir, maxSeconds: 40 });
    expect((await roomy.transcribe(audio(long), { signal: never() })).text.length).toBeGreaterThan(0);
    await roomy.dispose?.();
  });

  it('rejects with AbortError within 100 ms of an abort and keeps working', async () => {
    const reference = (await stt.transcribe(audio(jfk), { signal: never() })).text;
    const ac = new AbortController();
    const started = performance.now();
    const pending = stt.transcribe(audio(jfk), { signal: ac.signal });
    const dueAt = started + 5;
    setTimeout(() => ac.abort(), 5);
    const err = await rejection(pending);
    expect(err.name).toBe('AbortError');
    expect(performance.now() - dueAt).toBeLessThan(100);
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text).toBe(reference);
    const pre = new AbortController();
    pre.abort();
    expect((await rejection(stt.transcribe(audio(jfk), { signal: pre.signal }))).name).toBe('AbortError');
  });

  it('refuses audio that is not 16 kHz', async () => {
    const err = await rejection(stt.transcribe({ samples: jfk, sampleRate: 8000 } as never, { signal: never() }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toContain('16000 Hz');
  });
});

describe('moonshine-stt errors', () => {
  it('says which model is missing and how to get it', async () => {
    const err = await rejection(create({}, join(work, 'empty-models')));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('model missing — run `npm run models -- pull moonshine-tiny`');
    expect(err.message).toContain(join(work, 'empty-models', 'moonshine-tiny', 'onnx', 'encoder_model_quantized.onnx'));

    const notThere = await rejection(create({ model: join(work, 'nope') }));
    expect(notThere.code).toBe('MODEL_MISSING');
    expect(notThere.message).toContain('moonshine-stt.model');

    const wrongDtype = await rejection(create({ model: tiny.dir, dtype: 'fp32' }));
    expect(wrongDtype.code).toBe('MODEL_MISSING');
    expect(wrongDtype.message).toContain(join(tiny.dir, 'onnx', 'encoder_model.onnx'));
  });

  it('loads the catalogue default from ctx.modelDir, and refuses work once disposed', async () => {
    const modelDir = join(work, 'catalogue');
    writeTinyMoonshine(join(modelDir, 'moonshine-tiny'));
    const { stt, ctx } = await create({}, modelDir);
    expect(ctx.logs.find((l) => l.msg === 'moonshine model loaded')?.fields).toMatchObject({ model: join(modelDir, 'moonshine-tiny') });
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text.length).toBeGreaterThan(0);
    await stt.dispose?.();
    expect((await rejection(stt.transcribe(audio(jfk), { signal: never() }))).code).toBe('PLUGIN_FAILED');
  });

  it('refuses a folder holding a Whisper model as MODEL_CORRUPT, naming what it found', async () => {
    const whisper = join(work, 'a-whisper');
    writeTinyWhisper(whisper);
    const err = await rejection(create({ model: whisper }));
    expect(err.code).toBe('MODEL_CORRUPT');
    expect(err.message).toContain(`${whisper} holds a "whisper" model, not Moonshine`);
    expect(err.message).toContain('moonshine-stt.model');
  });

  it('reports damaged ONNX files as MODEL_CORRUPT naming the folder and the fix', async () => {
    const broken = join(work, 'broken-moonshine');
    writeTinyMoonshine(broken);
    writeFileSync(join(broken, 'onnx', 'decoder_model_merged_quantized.onnx'), 'version https://git-lfs.github.com/spec/v1\n');
    const err = await rejection(create({ model: broken }));
    expect(err.code).toBe('MODEL_CORRUPT');
    expect(err.message).toContain(broken);
    expect(err.message).toContain('moonshine-stt.model');

    // A broken catalogue model names the re-download.
    const modelDir = join(work, 'broken-catalogue');
    writeTinyMoonshine(join(modelDir, 'moonshine-tiny'));
    writeFileSync(join(modelDir, 'moonshine-tiny', 'onnx', 'encoder_model_quantized.onnx'), 'not onnx');
    const catalogue = await rejection(create({}, modelDir));
    expect(catalogue.code).toBe('MODEL_CORRUPT');
    expect(catalogue.message).toContain('npm run models -- pull moonshine-tiny');
  });
});
