/** The GUI's μ-law must be byte-for-byte the engine's (ITU-T G.191), or a test call hears noise: its wrappers over the shared codec too. */
import { describe, expect, it } from 'vitest';
import { decodeSample, encodeSample } from '../../../main/core/audio/mulaw.ts';
import { decodeMulaw, encodeMulaw, fromBase64, linearToMulaw, mulawToLinear, toBase64 } from '../../../renderer/src/audio/mulaw.ts';

describe('renderer μ-law', () => {
  it('encodes every 16-bit sample as the engine does', () => {
    const wrong: number[] = [];
    for (let s = -32768; s <= 32767; s++) if (linearToMulaw(s) !== encodeSample(s)) wrong.push(s);
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it('decodes every byte as the engine does', () => {
    for (let b = 0; b < 256; b++) expect(mulawToLinear(b)).toBe(decodeSample(b));
  });

  it('round-trips float audio within μ-law quantisation', () => {
    const tone = Float32Array.from({ length: 160 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 8000));
    const back = decodeMulaw(encodeMulaw(tone));
    for (let i = 0; i < tone.length; i++) expect(Math.abs(back[i]! - tone[i]!)).toBeLessThan(0.02);
    // Out-of-range floats clip instead of wrapping around.
    expect(mulawToLinear(encodeMulaw(Float32Array.of(3))[0]!)).toBeGreaterThan(30000);
    expect(mulawToLinear(encodeMulaw(Float32Array.of(-3))[0]!)).toBeLessThan(-30000);
  });

  it('base64 matches Node', () => {
    const bytes = Uint8Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect(Array.from(fromBase64(Buffer.from(bytes).toString('base64')))).toEqual(Array.from(bytes));
  });
});
