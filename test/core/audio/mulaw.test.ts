import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeFloat, decodeInt16, decodeSample, encodeFloat, encodeInt16, encodeSample } from '../../../main/core/audio/mulaw.ts';
import { AUDIO } from '../../helpers/core.ts';

// Independent vectors: sox's G.711 tables (Sun's g711.c lineage), generated with dither off.
const soxEncode = readFileSync(AUDIO('mulaw-encode-sox.ul'));
const soxDecode = readFileSync(AUDIO('mulaw-decode-sox.s16'));

describe('G.711 μ-law', () => {
  it('decodes all 256 codes exactly as the ITU-T table (and sox) do', () => {
    for (let b = 0; b < 256; b++) expect(decodeSample(b)).toBe(soxDecode.readInt16LE(b * 2));
    // Landmarks of the ITU-T table.
    expect(decodeSample(0x00)).toBe(-32124);
    expect(decodeSample(0x80)).toBe(32124);
    expect(decodeSample(0xff)).toBe(0);
    expect(decodeSample(0x7f)).toBe(0);
    expect(decodeSample(0xf0)).toBe(120);
  });

  it('encodes every non-negative 14-bit value (G.711 works on 14 bits) exactly as sox does', () => {
    for (let v = 0; v < 32768; v += 4) {
      if (encodeSample(v) !== soxEncode[v + 32768]) throw new Error(`encode(${v}) = ${encodeSample(v)}, sox says ${soxEncode[v + 32768]}`);
    }
    // 16 → 14 bits truncates (G.191); sox rounds, so only the two low-bit cases just below a level differ.
    for (let v = 0; v < 32768; v++) {
      if (encodeSample(v) !== soxEncode[v + 32768]) expect([2, 3]).toContain(v % 4);
    }
  });

  it('puts the segment boundaries where the G.711 table puts them', () => {
    // 14-bit magnitudes 0..30 are segment 0 (codes 0xff..0xf0, step 2), 31 starts segment 1, … 8159 is the top.
    expect(encodeSample(0)).toBe(0xff);
    expect(encodeSample(30 * 4)).toBe(0xf0);
    expect(encodeSample(31 * 4)).toBe(0xef);
    expect(encodeSample(95 * 4)).toBe(0xdf);
    expect(encodeSample(4063 * 4)).toBe(0x8f);
    expect(encodeSample(32767)).toBe(0x80);
    expect(encodeSample(-32768)).toBe(0x00);
  });

  it('encodes negative values with the ITU-T one\'s-complement rule: encode(-v-1) = encode(v) without the sign bit', () => {
    let differsFromSox = 0;
    for (let v = 0; v < 32768; v++) {
      expect(encodeSample(-v - 1)).toBe(encodeSample(v) & 0x7f);
      if (encodeSample(-v - 1) !== soxEncode[32768 - v - 1]) differsFromSox++;
    }
    // Sun's g711.c (sox) rounds negatives differently only at the decision levels: a few hundred values.
    expect(differsFromSox).toBeGreaterThan(0);
    expect(differsFromSox).toBeLessThan(600);
  });

  it('round-trips every code, and float helpers agree with the integer ones', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const lin = decodeInt16(codes);
    const again = encodeInt16(lin);
    for (let b = 0; b < 256; b++) {
      // 0x7f and 0xff both mean zero; zero encodes as 0xff.
      expect(again[b]).toBe(b === 0x7f ? 0xff : b);
    }
    const f = decodeFloat(codes);
    expect(f[0x80]).toBeCloseTo(32124 / 32768, 6);
    expect(Array.from(encodeFloat(f))).toEqual(Array.from(again));
    expect(encodeFloat(Float32Array.from([2, -2, Number.NaN]))).toEqual(Uint8Array.from([encodeSample(32767), encodeSample(-32768), 0xff]));
  });
});
