/** The test call's mic path: 48 / 44.1 kHz down to 8 kHz without aliasing, the same however the stream is chunked, in 20 ms frames. */
import { describe, expect, it } from 'vitest';
import { FrameCutter, Resampler } from '../../../renderer/src/audio/resample.ts';

const tone = (hz: number, rate: number, seconds: number) => Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));
const rms = (x: Float32Array, from = 0) => Math.sqrt(x.subarray(from).reduce((a, v) => a + v * v, 0) / (x.length - from));

describe('Resampler', () => {
  it('keeps the length ratio (48 kHz and 44.1 kHz to 8 kHz, 8 kHz up to 48 kHz)', () => {
    expect(Math.abs(new Resampler(48000, 8000).push(new Float32Array(48000)).length - 8000)).toBeLessThanOrEqual(1);
    expect(Math.abs(new Resampler(44100, 8000).push(new Float32Array(44100)).length - 8000)).toBeLessThanOrEqual(1);
    expect(Math.abs(new Resampler(8000, 48000).push(new Float32Array(8000)).length - 48000)).toBeLessThanOrEqual(6);
  });

  it('passes speech-band tones and removes what would alias (5 kHz at 48 kHz must not come out as 3 kHz)', () => {
    const pass = new Resampler(48000, 8000).push(tone(1000, 48000, 0.5));
    expect(rms(pass, 100)).toBeGreaterThan(0.65); // a sine's rms is 0.707
    const alias = new Resampler(48000, 8000).push(tone(5000, 48000, 0.5));
    expect(rms(alias, 100)).toBeLessThan(0.03);
  });

  it('gives the same samples however the input is chunked', () => {
    const input = tone(700, 48000, 0.2);
    const whole = new Resampler(48000, 8000).push(input);
    const r = new Resampler(48000, 8000);
    const parts: number[] = [];
    for (let at = 0, n = 1; at < input.length; at += n, n = (n * 7 + 3) % 2048 || 1) parts.push(...r.push(input.subarray(at, at + n)));
    expect(parts.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(parts[i]).toBeCloseTo(whole[i]!, 5);
  });

  it('refuses a bad rate with the numbers it got', () => {
    expect(() => new Resampler(0, 8000)).toThrow(/positive.*0 → 8000/);
  });
});

describe('FrameCutter', () => {
  it('cuts 160-sample frames and keeps the rest for the next push', () => {
    const c = new FrameCutter(160);
    expect(c.push(new Float32Array(100))).toHaveLength(0);
    const frames = c.push(Float32Array.from({ length: 300 }, (_, i) => i));
    expect(frames).toHaveLength(2);
    expect(frames[0]!.length).toBe(160);
    expect(frames[0]![100]).toBe(0); // the first 100 zeros came first
    expect(frames[1]![0]).toBe(60);
  });
});
