/**
 * smart-turn on the real onnxruntime-node (through the kit's ONNX session, in a child process) with a stand-in
 * graph of Smart Turn v3's exact interface (test/helpers/tiny-smart-turn.ts), fed real speech (jfk.wav) and the
 * same speech as a phone line carries it (jfk-8k-mulaw.wav). The front end is checked against an independent numpy
 * computation of pipecat's recipe, and end to end: the stand-in's answer is a known function of the features, so
 * predict() must equal that function of the reference features. The plugin runs from a copy of its folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginModule, TurnInstance } from '../../main/core/plugins/api.ts';
import { readManifest } from '../../main/core/plugins/manifest.ts';
import { readWav } from '../../main/core/audio/wav.ts';
import { resample } from '../../main/core/audio/resample.ts';
import { foreignImports, importPlugin, makePluginContext, pluginFolder, rejection, type TestPluginContext } from '../helpers/plugin-context.ts';
import { standInProbability, writeTinySmartTurn } from '../helpers/tiny-smart-turn.ts';
import * as kit from '../../main/core/plugins/kit/index.js';
// @ts-expect-error plain-JS plugin module without type declarations
import { smartTurnFeatures, smartTurnWindow } from '../../plugins/smart-turn/features.js';

const RATE = 16000;
const WINDOW = 8 * RATE;
const AUDIO = fileURLToPath(new URL('../fixtures/audio/', import.meta.url));

let work: string;
let pluginDir: string;
let models: string;
let plugin: PluginModule;
let jfk: Float32Array;
let phone: Float32Array;
const live: TurnInstance[] = [];
const features: (samples: Float32Array, isStopped?: () => boolean) => Promise<Float32Array | null> = smartTurnFeatures(kit);

async function create(settings: Record<string, unknown> = {}, modelDir = models): Promise<{ turn: TurnInstance; ctx: TestPluginContext }> {
  const ctx = await makePluginContext({ pluginDir, settings, modelDir });
  const turn = (await plugin.create(ctx)) as TurnInstance;
  live.push(turn);
  return { turn, ctx };
}

const audio = (samples: Float32Array) => ({ samples, sampleRate: 16000 as const });
const never = () => new AbortController().signal;
const worstDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};
const concat = (...parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

// An independent numpy implementation of pipecat's Smart Turn v3 front end (local_smart_turn_v3.py truncation +
// _whisper_features.py), written from the recipe, not from the plugin: float32 in, [80, 800] float32 out.
const NUMPY_REFERENCE = String.raw`
import sys, numpy as np
x = np.frombuffer(sys.stdin.buffer.read(), dtype=np.float32)
n = 128000
x = x[-n:] if x.size > n else np.concatenate([np.zeros(n - x.size, np.float32), x])
x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
n_fft, hop, sr, n_mels = 400, 160, 16000, 80
def hz2mel(f):
    f = np.asarray(f, np.float64)
    return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-12) / 1000) * 27 / np.log(6.4), 3 * f / 200)
def mel2hz(m):
    m = np.asarray(m, np.float64)
    return np.where(m >= 15, 1000 * np.exp(np.log(6.4) / 27 * (m - 15)), 200 * m / 3)
edges = mel2hz(np.linspace(hz2mel(0), hz2mel(sr / 2), n_mels + 2))
bins = np.linspace(0, sr // 2, n_fft // 2 + 1)
fb = np.zeros((n_mels, bins.size))
for m in range(n_mels):
    lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
    fb[m] = np.maximum(0, np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c))) * 2 / (hi - lo)
win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
padded = np.pad(x.astype(np.float64), n_fft // 2, mode='reflect')
frames = np.stack([padded[i * hop : i * hop + n_fft] for i in range(1 + (padded.size - n_fft) // hop)])
power = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2
logmel = np.log10(np.maximum(1e-10, fb @ power.T))[:, :-1]
logmel = (np.maximum(logmel, logmel.max() - 8) + 4) / 4
assert logmel.shape == (80, 800), logmel.shape
sys.stdout.buffer.write(logmel.astype(np.float32).tobytes())
`;
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function numpyFeatures(samples: Float32Array): Float32Array {
  const run = spawnSync('python3', ['-c', NUMPY_REFERENCE], { input: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`numpy reference failed: ${run.stderr}`);
  const out = new Float32Array(run.stdout.buffer.slice(run.stdout.byteOffset, run.stdout.byteOffset + run.stdout.byteLength));
  expect(out.length).toBe(80 * 800);
  return out;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'parley-smart-turn-'));
  pluginDir = join(work, 'plugins', 'smart-turn');
  cpSync(pluginFolder('smart-turn'), pluginDir, { recursive: true });
  models = join(work, 'models');
  mkdirSync(join(models, 'smart-turn-v3'), { recursive: true });
  writeTinySmartTurn(join(models, 'smart-turn-v3', 'smart-turn-v3.2-cpu.onnx'));
  const wav = readWav(join(AUDIO, 'jfk.wav'));
  expect(wav.sampleRate).toBe(RATE);
  jfk = wav.samples;
  const line = readWav(join(AUDIO, 'jfk-8k-mulaw.wav'));
  expect(line.sampleRate).toBe(8000);
  phone = resample(line.samples, 8000, RATE); // what Parley hands a turn plugin on a phone call
  plugin = await importPlugin(pluginDir);
});

afterAll(async () => {
  await Promise.all(live.map((t) => t.dispose?.()));
  rmSync(work, { recursive: true, force: true });
});

describe('smart-turn manifest and folder', () => {
  it('is a turn plugin whose catalogue model is Pipecat\'s Smart Turn v3 file on Hugging Face', async () => {
    const manifest = await readManifest(pluginFolder('smart-turn'));
    expect(manifest.kind).toBe('turn');
    expect(manifest.name).toBe('smart-turn');
    expect(manifest.settings.model!.type).toBe('path');
    expect(manifest.settings.threads!.type).toBe('integer');
    expect(manifest.models.filter((m) => m.default).map((m) => m.id)).toEqual(['smart-turn-v3']);
    const [model] = manifest.models;
    expect(model!.license).toBe('BSD-2-Clause');
    expect(model!.files).toEqual([{ path: 'smart-turn-v3.2-cpu.onnx', url: 'https://huggingface.co/pipecat-ai/smart-turn-v3/resolve/main/smart-turn-v3.2-cpu.onnx' }]);
  });

  it('imports nothing but node built-ins and its own files', () => {
    expect(foreignImports(pluginFolder('smart-turn'))).toEqual([]);
  });
});

describe('the Smart Turn front end', () => {
  it.skipIf(!hasNumpy)('equals an independent numpy computation of pipecat\'s recipe (short, long, phone-band, trailing silence)', async () => {
    const clips = [jfk.slice(0, 2 * RATE), jfk, phone, concat(jfk.slice(RATE, 4 * RATE), new Float32Array(RATE)), jfk.slice(0, WINDOW)];
    for (const clip of clips) {
      const ours = (await features(clip))!;
      expect(ours).toHaveLength(80 * 800);
      expect(worstDiff(ours, numpyFeatures(clip))).toBeLessThan(2e-4);
    }
  }, 60_000);

  it('pads at the start, normalises over the whole 8 s window including the padding, and keeps only the last 8 s', async () => {
    const short = jfk.slice(0, 3 * RATE);
    const ours = (await features(short))!;
    const front = concat(new Float32Array(WINDOW - short.length), short);
    const back = concat(short, new Float32Array(WINDOW - short.length));
    expect(worstDiff(ours, (await features(front))!)).toBe(0);
    expect(worstDiff(ours, (await features(back))!)).toBeGreaterThan(0.5);
    // The window itself: padding first, and zero mean / unit variance over all 128,000 samples.
    const w = smartTurnWindow(short) as Float32Array;
    expect(w).toHaveLength(WINDOW);
    let mean = 0;
    for (const v of w) mean += v / WINDOW;
    let variance = 0;
    for (const v of w) variance += (v - mean) ** 2 / WINDOW;
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    expect(variance).toBeCloseTo(1, 4);
    expect(new Set(w.subarray(0, WINDOW - short.length)).size).toBe(1); // the normalised padding: one value
    expect(w[0]).not.toBe(0);
    // Loudness does not matter once normalised.
    expect(worstDiff(ours, (await features(short.map((v) => v * 0.25)))!)).toBeLessThan(1e-4);
    // Longer than 8 s: the last 8 s only.
    expect(jfk.length).toBeGreaterThan(WINDOW);
    expect(worstDiff((await features(jfk))!, (await features(jfk.slice(-WINDOW)))!)).toBe(0);
    expect(worstDiff((await features(jfk))!, (await features(jfk.slice(0, WINDOW)))!)).toBeGreaterThan(0.5);
  }, 60_000);

  it('stops when asked', async () => {
    let polls = 0;
    expect(await features(jfk, () => ++polls > 2)).toBeNull();
  });
});

describe('smart-turn on the real onnxruntime', () => {
  let turn: TurnInstance;
  let ctx: TestPluginContext;

  beforeAll(async () => {
    ({ turn, ctx } = await create({ threads: 1 }));
  }, 60_000);

  it('loads the model from the catalogue folder and warms up in create', () => {
    const loaded = ctx.logs.find((l) => l.msg === 'smart-turn model loaded');
    expect(loaded?.fields).toMatchObject({ model: join(models, 'smart-turn-v3', 'smart-turn-v3.2-cpu.onnx'), mode: 'child-process' });
  });

  it('answers a probability in [0, 1] that is the model\'s answer to exactly these features', async () => {
    const clips = [jfk.slice(0, 2 * RATE), jfk, concat(jfk.slice(RATE, 4 * RATE), new Float32Array(RATE)), phone];
    const answers: number[] = [];
    for (const clip of clips) {
      const { complete } = await turn.predict(audio(clip), { signal: never() });
      expect(typeof complete).toBe('number');
      expect(complete).toBeGreaterThanOrEqual(0);
      expect(complete).toBeLessThanOrEqual(1);
      const reference = hasNumpy ? numpyFeatures(clip) : (await features(clip))!;
      expect(Math.abs(complete - standInProbability(reference))).toBeLessThan(1e-4);
      answers.push(complete);
    }
    // Speech at the end and silence at the end are told apart.
    expect(Math.abs(answers[0]! - answers[2]!)).toBeGreaterThan(0.05);
    // Deterministic.
    expect((await turn.predict(audio(clips[0]!), { signal: never() })).complete).toBe(answers[0]);
  }, 60_000);

  it('hears only the last 8 s of a longer turn', async () => {
    const whole = (await turn.predict(audio(jfk), { signal: never() })).complete;
    expect((await turn.predict(audio(jfk.slice(-WINDOW)), { signal: never() })).complete).toBe(whole);
    expect((await turn.predict(audio(jfk.slice(0, WINDOW)), { signal: never() })).complete).not.toBe(whole);
  }, 60_000);

  it('refuses audio that is not 16 kHz (8 kHz fed as 16 kHz silently breaks Smart Turn)', async () => {
    const line = readWav(join(AUDIO, 'jfk-8k-mulaw.wav'));
    const err = await rejection(turn.predict({ samples: line.samples, sampleRate: 8000 } as never, { signal: never() }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toContain('16000 Hz');
    expect(err.message).toContain('8000 Hz');
  });

  it('rejects with AbortError when aborted, before or during a prediction, and keeps working', async () => {
    const reference = (await turn.predict(audio(jfk), { signal: never() })).complete;
    const pre = new AbortController();
    pre.abort();
    expect((await rejection(turn.predict(audio(jfk), { signal: pre.signal }))).name).toBe('AbortError');
    const ac = new AbortController();
    const pending = turn.predict(audio(jfk), { signal: ac.signal });
    setTimeout(() => ac.abort(), 1);
    expect((await rejection(pending)).name).toBe('AbortError');
    expect((await turn.predict(audio(jfk), { signal: never() })).complete).toBe(reference);
  }, 60_000);
});

describe('smart-turn errors', () => {
  it('says which model is missing and how to get it', async () => {
    const empty = join(work, 'no-models');
    const err = await rejection(create({}, empty));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('model missing — run `npm run models -- pull smart-turn-v3`');
    expect(err.message).toContain(join(empty, 'smart-turn-v3', 'smart-turn-v3.2-cpu.onnx'));
    const notThere = await rejection(create({ model: join(work, 'nope.onnx') }));
    expect(notThere.code).toBe('MODEL_MISSING');
    expect(notThere.message).toContain('smart-turn.model');
  });

  it('refuses a corrupt file and models with another interface, naming the file and what is wrong', async () => {
    const garbage = join(work, 'garbage.onnx');
    writeFileSync(garbage, Buffer.from('this is not an onnx model at all'));
    const corrupt = await rejection(create({ model: garbage }));
    expect(corrupt.code).toBe('MODEL_CORRUPT');
    expect(corrupt.message).toContain(garbage);

    const cases: [Parameters<typeof writeTinySmartTurn>[1], string][] = [
      [{ inputName: 'features' }, 'no input "input_features"'],
      [{ outputWidth: 2 }, 'shape [1, 2]'],
      [{ sigmoid: false, bias: 10 }, 'not a probability'],
    ];
    for (const [options, says] of cases) {
      const file = writeTinySmartTurn(join(work, `wrong-${says.replace(/\W+/g, '-')}.onnx`), options);
      const err = await rejection(create({ model: file }));
      expect(err.code).toBe('MODEL_CORRUPT');
      expect(err.message).toContain(file);
      expect(err.message).toContain(says);
    }
  }, 60_000);
});
