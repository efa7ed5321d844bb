/**
 * G.711 μ-law, as Twilio Media Streams carry it (8 kHz, one byte a sample), for the GUI's test call and the desk:
 * the engine's own codec (main/shared/mulaw.ts, through the contract), and base64 for a frame's payload. Plain
 * functions: no browser API, unit-tested under Node.
 */
import { decodeFloat, decodeSample, encodeFloat, encodeSample } from '../../../main/shared/contract.ts';

/** One 16-bit linear sample (rounded, clipped) → one μ-law byte. */
export function linearToMulaw(sample: number): number {
  return encodeSample(Math.max(-32768, Math.min(32767, Math.round(sample))));
}

/** One μ-law byte → one 16-bit linear sample. */
export const mulawToLinear: (byte: number) => number = decodeSample;

/** Float samples in [-1, 1] (clipped) → μ-law bytes. */
export const encodeMulaw: (samples: Float32Array) => Uint8Array = encodeFloat;

/** μ-law bytes → float samples in [-1, 1]. */
export const decodeMulaw: (bytes: Uint8Array) => Float32Array = (bytes) => decodeFloat(bytes);

/** Bytes → base64 (the `media.payload` of a Twilio frame). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

/** base64 → bytes; throws on text that is not base64. */
export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
