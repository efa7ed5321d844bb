import { describe, expect, it } from 'vitest';
import { Resampler, resample } from '../../../main/core/audio/resample.ts';

const tone = (f: number, rate: number, seconds: number, amp = 0.5) => Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * f * i) / rate));
const rms = (x: Float32Array, skip = 0) => Math.sqrt(x.subarray(skip, x.length - skip).reduce((s, v) => s + v * v, 0) / (x.length - 2 * skip));
const db = (ratio: number) => 20 * Math.log10(ratio);

describe('Resampler', () => {
  for (const [from, to] of [[8000, 16000], [16000, 8000], [22050, 8000], [24000, 8000], [44100, 8000], [16000, 16000]] as const) {
    it(`${from} → ${to} Hz keeps a 1 kHz tone and the length right`, () => {
      const out = resample(tone(1000, from, 1), from, to);
      expect(out.length).toBe(to);
      expect(Math.abs(db(rms(out, 200) / (0.5 / Math.SQRT2)))).toBeLessThan(0.1);
    });
  }

  for (const from of [16000, 22050, 24000, 44100]) {
    it(`${from} → 8000 Hz removes content above 4 kHz instead of aliasing it`, () => {
      // 5.5 kHz would fold to 2.5 kHz — right into the voice band — without a proper anti-aliasing filter.
      const out = resample(tone(5500, from, 1), from, 8000);
      expect(db(rms(out, 200) / (0.5 / Math.SQRT2))).toBeLessThan(-60);
    });
  }

  it('is seamless across chunk boundaries', () => {
    const x = tone(440, 22050, 0.5);
    const whole = new Resampler(22050, 8000).process(x);
    const r = new Resampler(22050, 8000);
    const parts: number[] = [];
    for (let i = 0; i < x.length; i += 317) parts.push(...r.process(x.subarray(i, i + 317)));
    expect(parts.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(Math.abs(parts[i]! - whole[i]!)).toBeLessThan(1e-6);
  });

  it('reset() forgets the previous stream: no tail of an interrupted reply leaks into the next', () => {
    const r = new Resampler(24000, 8000);
    r.process(tone(300, 24000, 0.2, 0.9));
    r.reset();
    const out = r.process(new Float32Array(2400));
    expect(Math.max(...out.map(Math.abs))).toBe(0);
    const fresh = new Resampler(24000, 8000);
    fresh.process(tone(300, 24000, 0.2, 0.9));
    expect(Math.max(...fresh.process(new Float32Array(2400)).map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('refuses nonsense rates', () => {
    expect(() => new Resampler(0, 8000)).toThrow(/positive integer/);
    expect(() => new Resampler(22050.5, 8000)).toThrow(/positive integer/);
  });
});
