/**
 * G.711 μ-law, bit-exact with the ITU-T reference (G.191 `ulaw_compress` / `ulaw_expand`). Negative inputs
 * use the one's-complement magnitude of the reference, which differs from Sun's widely copied g711.c (and sox)
 * at the negative decision levels. Both directions are table lookups: this runs for every frame of every call.
 * One copy for the engine (through main/core/audio/mulaw.ts) and the GUI's test call and desk (through the contract).
 */

/** 16-bit linear → μ-law byte, per ITU-T G.191. */
function compress(lin: number): number {
  let absno = lin < 0 ? ~lin >> 2 : lin >> 2;
  absno += 33;
  if (absno > 0x1fff) absno = 0x1fff;
  let i = absno >> 6;
  let segno = 1;
  while (i !== 0) {
    segno++;
    i >>= 1;
  }
  const high = 0x08 - segno;
  const low = 0x0f - ((absno >> segno) & 0x0f);
  let out = (high << 4) | low;
  if (lin >= 0) out |= 0x80;
  return out;
}

/** μ-law byte → 16-bit linear, per ITU-T G.191. */
function expand(log: number): number {
  const sign = log < 0x80 ? -1 : 1;
  const inv = ~log & 0xff;
  const exponent = (inv >> 4) & 0x07;
  const mantissa = inv & 0x0f;
  const step = 4 << (exponent + 1);
  return sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33);
}

const ENCODE = new Uint8Array(65536);
for (let v = -32768; v < 32768; v++) ENCODE[v & 0xffff] = compress(v);
const DECODE_INT16 = new Int16Array(256);
const DECODE_FLOAT = new Float32Array(256);
for (let b = 0; b < 256; b++) {
  DECODE_INT16[b] = expand(b);
  DECODE_FLOAT[b] = DECODE_INT16[b]! / 32768;
}

/** μ-law byte for digital silence (linear 0). */
export const MULAW_SILENCE = 0xff;

export function encodeSample(lin16: number): number {
  return ENCODE[lin16 & 0xffff]!;
}

export function decodeSample(byte: number): number {
  return DECODE_INT16[byte & 0xff]!;
}

export function encodeInt16(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = ENCODE[samples[i]! & 0xffff]!;
  return out;
}

export function decodeInt16(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_INT16[bytes[i]!]!;
  return out;
}

/** Float samples in [-1, 1] (clipped) → μ-law. */
export function encodeFloat(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    let v = Math.round(samples[i]! * 32768);
    if (v > 32767) v = 32767;
    else if (v < -32768) v = -32768;
    else if (Number.isNaN(v)) v = 0;
    out[i] = ENCODE[v & 0xffff]!;
  }
  return out;
}

/** μ-law → float samples in [-1, 1]. */
export function decodeFloat(bytes: Uint8Array, out = new Float32Array(bytes.length)): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_FLOAT[bytes[i]!]!;
  return out;
}
