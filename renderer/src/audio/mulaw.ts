/**
 * G.711 μ-law, as Twilio Media Streams carry it (8 kHz, one byte a sample), for the GUI's test call. Plain
 * functions: no browser API, unit-tested under Node.
 */
// Bit-exact with the engine (main/core/audio/mulaw.ts, ITU-T G.191 ulaw_compress / ulaw_expand): the renderer
// may not import main/core, and test/renderer/audio/mulaw.test.ts checks every value against it.

/** One 16-bit linear sample → one μ-law byte. */
export function linearToMulaw(sample: number): number {
  const lin = Math.max(-32768, Math.min(32767, Math.round(sample)));
  let absno = lin < 0 ? ~lin >> 2 : lin >> 2;
  absno += 33;
  if (absno > 0x1fff) absno = 0x1fff;
  let i = absno >> 6;
  let segno = 1;
  while (i !== 0) {
    segno++;
    i >>= 1;
  }
  let out = ((0x08 - segno) << 4) | (0x0f - ((absno >> segno) & 0x0f));
  if (lin >= 0) out |= 0x80;
  return out;
}

/** One μ-law byte → one 16-bit linear sample. */
export function mulawToLinear(byte: number): number {
  const b = byte & 0xff;
  const inv = ~b & 0xff;
  const exponent = (inv >> 4) & 0x07;
  const step = 4 << (exponent + 1);
  const magnitude = (0x80 << exponent) + step * (inv & 0x0f) + step / 2 - 4 * 33;
  return (b < 0x80 ? -magnitude : magnitude) | 0;
}

/** Float samples in [-1, 1] → μ-law bytes. */
export function encodeMulaw(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToMulaw(samples[i]! * 32767);
  return out;
}

/** μ-law bytes → float samples in [-1, 1]. */
export function decodeMulaw(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = mulawToLinear(bytes[i]!) / 32768;
  return out;
}

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
