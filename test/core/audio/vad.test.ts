import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../../../main/core/audio/resample.ts';
import { createEnergyVad } from '../../../main/core/audio/vad/energy.ts';
import { createSileroVad } from '../../../main/core/audio/vad/silero.ts';
import type { VadEngine } from '../../../main/core/audio/vad/types.ts';
import { readWav } from '../../../main/core/audio/wav.ts';
import { AUDIO } from '../../helpers/core.ts';

function load16k(name: string): Float32Array {
  const w = readWav(AUDIO(name));
  return w.sampleRate === 16000 ? w.samples : resample(w.samples, w.sampleRate, 16000);
}

/** Fraction of windows judged speech. */
async function speechFraction(engine: VadEngine, samples: Float32Array): Promise<number> {
  const s = engine.createStream();
  let speech = 0;
  let n = 0;
  for (let off = 0; off + engine.windowSamples <= samples.length; off += engine.windowSamples) {
    if ((await s.process(samples.slice(off, off + engine.windowSamples))) >= 0.5) speech++;
    n++;
  }
  return speech / n;
}

describe.each([
  ['silero', () => createSileroVad()],
  ['energy', async () => createEnergyVad()],
] as const)('%s VAD', (name, make) => {
  let vad: VadEngine;
  beforeAll(async () => {
    vad = await make();
  });
  afterAll(async () => {
    await vad.dispose();
  });

  it('finds speech in real human speech and in synthetic speech (both through the phone codec)', async () => {
    // About two thirds of the JFK clip is voiced; the energy fallback is coarser than Silero.
    expect(await speechFraction(vad, load16k('jfk-8k-mulaw.wav'))).toBeGreaterThan(name === 'silero' ? 0.6 : 0.4);
    expect(await speechFraction(vad, load16k('hello.wav'))).toBeGreaterThan(0.5);
  });

  it('finds none in silence', async () => {
    expect(await speechFraction(vad, new Float32Array(16000 * 2))).toBe(0);
  });

  it(name === 'silero' ? 'rejects steady noise' : 'adapts to steady noise after a moment', async () => {
    const noise = load16k('noise.wav');
    const frac = await speechFraction(vad, name === 'silero' ? noise : new Float32Array([...noise, ...noise, ...noise]));
    expect(frac).toBeLessThan(name === 'silero' ? 0.05 : 0.3);
  });

  it('keeps per-call state apart', async () => {
    const speech = load16k('hello.wav');
    const a = vad.createStream();
    const b = vad.createStream();
    const w = vad.windowSamples;
    // Warm a up on speech; b on silence; b's verdict on silence must not change.
    for (let off = 0; off + w <= 16000; off += w) await a.process(speech.slice(16000 + off, 16000 + off + w));
    expect(await b.process(new Float32Array(w))).toBeLessThan(0.5);
  });
});
