/**
 * whisper-stt with the real @huggingface/transformers ASR pipeline (onnxruntime-node underneath) on a tiny random
 * Whisper folder written by test/helpers/tiny-whisper.ts, fed real speech (jfk.wav), silence and noise. The plugin
 * runs from a copy of its folder in a temp dir, so it is proven to reach the host only through ctx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginModule, SttInstance } from '../../main/core/plugins/api.ts';
import { readManifest } from '../../main/core/plugins/manifest.ts';
import { foreignImports, importPlugin, makePluginContext, pluginFolder, rejection, type TestPluginContext } from '../helpers/plugin-context.ts';
import { writeTinyWhisper, type TinyWhisperInfo } from '../helpers/tiny-whisper.ts';
import { asrModelFiles as requiredFiles, cleanTranscript, speechCheck } from '../../main/core/plugins/kit/index.js';
import * as kit from '../../main/core/plugins/kit/index.js';
// @ts-expect-error plain-JS plugin module without type declarations
import { whisperFeatures } from '../../plugins/whisper-stt/features.js';
import { AutoProcessor, Tensor, pipeline } from '@huggingface/transformers';

const JFK = fileURLToPath(new URL('../fixtures/audio/jfk.wav', import.meta.url));
const RATE = 16000;

/** 16-bit PCM mono WAV → Float32 samples in [-1, 1]. */
function readWav(path: string): { samples: Float32Array; sampleRate: number } {
  const buf = readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path}: not a WAV file`);
  let offset = 12;
  let sampleRate = 0;
  let channels = 0;
  let bits = 0;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (channels !== 1 || bits !== 16) throw new Error(`${path}: expected 16-bit mono, got ${bits}-bit ${channels} channels`);
      const pcm = new Int16Array(buf.buffer.slice(buf.byteOffset + body, buf.byteOffset + body + size));
      return { samples: Float32Array.from(pcm, (v) => v / 32768), sampleRate };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

function whiteNoise(seconds: number, rms: number, seed = 1): Float32Array {
  let a = seed;
  const random = () => ((a = (a * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const amp = rms * Math.sqrt(3); // uniform noise on [-A, A] has RMS A/sqrt(3)
  return Float32Array.from({ length: Math.round(seconds * RATE) }, () => random() * amp);
}

let work: string;
let pluginDir: string;
let plugin: PluginModule;
let tiny: TinyWhisperInfo;
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

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'parley-whisper-'));
  pluginDir = join(work, 'plugins', 'whisper-stt');
  cpSync(pluginFolder('whisper-stt'), pluginDir, { recursive: true });
  tiny = writeTinyWhisper(join(work, 'tiny-whisper'));
  const wav = readWav(JFK);
  expect(wav.sampleRate).toBe(RATE);
  jfk = wav.samples;
  return importPlugin(pluginDir).then((p) => {
    plugin = p;
  });
});

afterAll(async () => {
  await Promise.all(live.map((stt) => stt.dispose?.()));
  rmSync(work, { recursive: true, force: true });
});

describe('whisper-stt manifest and folder', () => {
  it('has a valid manifest whose catalogue models list exactly the files the plugin loads', async () => {
    const manifest = await readManifest(pluginFolder('whisper-stt'));
    expect(manifest.kind).toBe('stt');
    expect(Object.keys(manifest.settings)).toEqual(expect.arrayContaining(['model', 'language', 'dtype', 'threads']));
    expect(manifest.settings.model!.type).toBe('path');
    expect(manifest.models.filter((m) => m.default).map((m) => m.id)).toEqual(['whisper-tiny.en']);
    for (const model of manifest.models) {
      expect(model.files.map((f) => f.path).sort()).toEqual([...requiredFiles('q8')].sort());
      for (const file of model.files) expect(file.url).toBe(`https://huggingface.co/onnx-community/${model.id}/resolve/main/${file.path}`);
    }
  });

  it('imports nothing but node built-ins and its own files', () => {
    expect(foreignImports(pluginFolder('whisper-stt'))).toEqual([]);
  });
});

describe('speech guard', () => {
  it('passes real speech and refuses silence, hiss, loud white noise and clicks', () => {
    expect(speechCheck(jfk, RATE).speech).toBe(true);
    expect(speechCheck(new Float32Array(RATE * 2), RATE)).toMatchObject({ speech: false, reason: 'silence' });
    expect(speechCheck(whiteNoise(2, 0.003), RATE)).toMatchObject({ speech: false, reason: 'silence' });
    expect(speechCheck(whiteNoise(2, 0.2), RATE)).toMatchObject({ speech: false, reason: 'noise' });
    expect(speechCheck(jfk.subarray(RATE, RATE + RATE / 10), RATE)).toMatchObject({ speech: false, reason: 'too short' });
    const click = new Float32Array(RATE * 2);
    click.set(jfk.subarray(RATE, RATE + 800), RATE); // 50 ms of speech in 2 s of silence
    expect(speechCheck(click, RATE).speech).toBe(false);
  });

  it('strips Whisper hallucinations and keeps real speech', () => {
    const clean = (t: string) => cleanTranscript(t).text;
    expect(clean(' Thank you for watching!')).toBe('');
    expect(clean('Thanks for watching.')).toBe('');
    expect(clean('[BLANK_AUDIO]')).toBe('');
    expect(clean(' (music)')).toBe('');
    expect(clean(' you')).toBe('');
    expect(clean('♪ ♪')).toBe('');
    expect(clean(' Subtitles by the Amara.org community')).toBe('');
    expect(clean(' I need a table for two. Subtitles by the Amara.org community')).toBe('I need a table for two.');
    expect(clean(' [Music] Hello, is this the bakery?')).toBe('Hello, is this the bakery?');
    expect(clean(" I'm sorry. I'm sorry. I'm sorry. I'm sorry. I'm sorry.")).toBe("I'm sorry.");
    expect(clean(' the the the the the the the')).toBe('the');
    expect(clean(' Thank you.')).toBe('Thank you.');
    expect(clean(' Can you call me back tomorrow?')).toBe('Can you call me back tomorrow?');
    expect(clean(' Yes, yes.')).toBe('Yes, yes.');
    expect(clean(' Bye bye.')).toBe('Bye bye.');
  });
});

describe('whisper-stt on a tiny random Whisper through the real transformers.js pipeline', () => {
  let stt: SttInstance;
  let ctx: TestPluginContext;

  beforeAll(async () => {
    ({ stt, ctx } = await create({ model: tiny.dir }));
  });

  it('loads and warms up in create', () => {
    const loaded = ctx.logs.find((l) => l.msg === 'whisper model loaded');
    expect(loaded?.fields).toMatchObject({ model: tiny.dir, dtype: 'q8', multilingual: false });
  });

  it('transcribes real speech end to end into text made of the model vocabulary, depending on the audio', async () => {
    const first = await stt.transcribe(audio(jfk), { signal: never() });
    expect(first.text.length).toBeGreaterThan(3);
    const words = first.text.split(/\s+/).filter(Boolean);
    for (const w of words) expect(tiny.textPieces.some((p) => p.includes(w) || w.includes(p.trim()))).toBe(true);
    // Deterministic for the same audio, different for different audio: the encoder output reaches the decoder.
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text).toBe(first.text);
    const secondHalf = await stt.transcribe(audio(jfk.slice(jfk.length / 2)), { signal: never() });
    expect(secondHalf.text.length).toBeGreaterThan(0);
    expect(secondHalf.text).not.toBe(first.text);
    const runs = ctx.logs.filter((l) => l.msg === 'transcribed');
    expect(runs).toHaveLength(3);
    expect((runs[0]!.fields as { rtf: number }).rtf).toBeGreaterThan(0);
  });

  it('returns "" for silence and noise without running Whisper', async () => {
    const before = ctx.logs.filter((l) => l.msg === 'transcribed').length;
    expect(await stt.transcribe(audio(new Float32Array(RATE * 3)), { signal: never() })).toEqual({ text: '' });
    expect(await stt.transcribe(audio(whiteNoise(3, 0.2)), { signal: never() })).toEqual({ text: '' });
    expect(await stt.transcribe(audio(jfk.slice(RATE, RATE + 1600)), { signal: never() })).toEqual({ text: '' });
    expect(ctx.logs.filter((l) => l.msg === 'transcribed').length).toBe(before);
    expect(ctx.logs.filter((l) => l.msg === 'not speech; Whisper not run').map((l) => (l.fields as { reason: string }).reason)).toEqual(['silence', 'noise', 'too short']);
  });

  it('transcribes audio longer than Whisper\'s 30 s window in chunks', async () => {
    const long = new Float32Array(jfk.length * 3);
    for (let i = 0; i < 3; i++) long.set(jfk, i * jfk.length);
    const { text } = await stt.transcribe(audio(long), { signal: never() });
    expect(text.length).toBeGreaterThan(3);
  });

  it('rejects with AbortError within 100 ms of an abort and keeps working', async () => {
    const reference = (await stt.transcribe(audio(jfk), { signal: never() })).text;
    const ac = new AbortController();
    const started = performance.now();
    const pending = stt.transcribe(audio(jfk), { signal: ac.signal });
    // Latency is counted from when the abort was due, so time the event loop spent blocked inside the plugin
    // (feature extraction is synchronous JS) counts against it.
    const dueAt = started + 5;
    setTimeout(() => ac.abort(), 5);
    const err = await rejection(pending);
    expect(err.name).toBe('AbortError');
    expect(performance.now() - dueAt).toBeLessThan(100);
    // The next call is not disturbed by the discarded one.
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text).toBe(reference);
    const pre = new AbortController();
    pre.abort();
    expect((await rejection(stt.transcribe(audio(jfk), { signal: pre.signal }))).name).toBe('AbortError');
  });

  it('gives the same text as the stock transformers.js pipeline (minus hallucination cleaning)', async () => {
    const asr = await pipeline('automatic-speech-recognition', tiny.dir, { dtype: 'q8', local_files_only: true });
    try {
      for (const clip of [jfk, jfk.slice(0, RATE * 3), jfk.slice(RATE * 4, RATE * 9)]) {
        const stock = (await asr(clip)) as { text: string };
        expect((await stt.transcribe(audio(clip), { signal: never() })).text).toBe(cleanTranscript(stock.text).text);
      }
    } finally {
      await asr.dispose();
    }
  });

  it('refuses audio that is not 16 kHz', async () => {
    const err = await rejection(stt.transcribe({ samples: jfk, sampleRate: 8000 } as never, { signal: never() }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toContain('16000 Hz');
  });
});

describe('log-mel features', () => {
  it('equal transformers.js\'s WhisperFeatureExtractor, and stop when asked', async () => {
    const processor = await AutoProcessor.from_pretrained(tiny.dir, { local_files_only: true });
    const fe = processor.feature_extractor!;
    const features = whisperFeatures(fe, Tensor, kit);
    const thirtyThree = new Float32Array(jfk.length * 3);
    for (let i = 0; i < 3; i++) thirtyThree.set(jfk, i * jfk.length);
    const clips = [jfk, jfk.slice(0, RATE * 2), jfk.slice(RATE * 3, RATE * 3 + 1234), new Float32Array(RATE), thirtyThree.slice(0, 30 * RATE - 77), thirtyThree];
    for (const clip of clips) {
      const full = (await fe(clip)).input_features as Tensor;
      const ours = (await features(clip)) as Tensor;
      expect(ours.dims).toEqual(full.dims);
      const a = full.data as Float32Array;
      const b = ours.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst).toBeLessThan(1e-6);
    }
    let polls = 0;
    expect(await features(jfk, () => ++polls > 2)).toBeNull();
  });
});

describe('whisper-stt errors', () => {
  it('says which model is missing and how to get it', async () => {
    const err = await rejection(create({}, join(work, 'empty-models')));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('model missing — run `npm run models -- pull whisper-tiny.en`');
    expect(err.message).toContain(join(work, 'empty-models', 'whisper-tiny.en', 'onnx', 'encoder_model_quantized.onnx'));

    const notThere = await rejection(create({ model: join(work, 'nope') }));
    expect(notThere.code).toBe('MODEL_MISSING');
    expect(notThere.message).toContain('whisper-stt.model');

    const wrongDtype = await rejection(create({ model: tiny.dir, dtype: 'fp32' }));
    expect(wrongDtype.code).toBe('MODEL_MISSING');
    expect(wrongDtype.message).toContain(join(tiny.dir, 'onnx', 'encoder_model.onnx'));
  });

  it('loads the catalogue default from ctx.modelDir', async () => {
    const modelDir = join(work, 'catalogue');
    writeTinyWhisper(join(modelDir, 'whisper-tiny.en'));
    const { stt, ctx } = await create({}, modelDir);
    expect(ctx.logs.find((l) => l.msg === 'whisper model loaded')?.fields).toMatchObject({ model: join(modelDir, 'whisper-tiny.en') });
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text.length).toBeGreaterThan(0);
    await stt.dispose?.();
    expect((await rejection(stt.transcribe(audio(jfk), { signal: never() }))).code).toBe('PLUGIN_FAILED');
  });

  it('passes the language to multilingual models and rejects one the model does not know', async () => {
    const multi = join(work, 'tiny-whisper-multilingual');
    writeTinyWhisper(multi, { multilingual: true });
    const { stt, ctx } = await create({ model: multi, language: 'english' });
    expect(ctx.logs.find((l) => l.msg === 'whisper model loaded')?.fields).toMatchObject({ multilingual: true });
    expect((await stt.transcribe(audio(jfk), { signal: never() })).text.length).toBeGreaterThan(0);
    await stt.dispose?.();
    const err = await rejection(create({ model: multi, language: 'klingon' }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toContain('whisper-stt.language "klingon"');
  });

  it('reports damaged ONNX files as MODEL_CORRUPT naming the folder', async () => {
    const broken = join(work, 'broken-whisper');
    writeTinyWhisper(broken);
    writeFileSync(join(broken, 'onnx', 'decoder_model_merged_quantized.onnx'), 'version https://git-lfs.github.com/spec/v1\n');
    const err = await rejection(create({ model: broken }));
    expect(err.code).toBe('MODEL_CORRUPT');
    expect(err.message).toContain(broken);
  });
});
