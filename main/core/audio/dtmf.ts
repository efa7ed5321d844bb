/**
 * DTMF digits as in-band tones, 8 kHz μ-law frames ready for the media stream: how `press_keys` navigates a
 * phone menu on an outbound call.
 *
 * Why in-band and not Twilio's `<Play digits>`: the only documented way to play digits from a live call is to
 * update the call with new TwiML through the REST API, and on a `<Connect><Stream>` call that ends the stream —
 * the agent, its history and its turn state would be gone, and a new stream would have to be set up after every
 * key. Media Streams have no message for sending DTMF (Twilio sends `dtmf` events only for the caller's keys).
 * Tones inside the audio need nothing from Twilio: the stream is G.711 μ-law end to end, the codec DTMF was
 * designed around, and the far end's IVR hears them as it hears a handset. The timings and levels follow what
 * receivers must accept (ITU-T Q.24 / ETSI ES 201 235: ≥ 40 ms tone, ≥ 40 ms pause; each tone around −10 dBm0
 * with the high one slightly louder, "twist"): 120 ms of tone and 120 ms of silence per digit leave wide margins
 * for a jittery network.
 */
import { FRAME_BYTES, SAMPLE_RATE, toFrames } from './frames.ts';
import { encodeFloat } from './mulaw.ts';

const LOW: Record<string, number> = { '1': 697, '2': 697, '3': 697, A: 697, '4': 770, '5': 770, '6': 770, B: 770, '7': 852, '8': 852, '9': 852, C: 852, '*': 941, '0': 941, '#': 941, D: 941 };
const HIGH: Record<string, number> = { '1': 1209, '4': 1209, '7': 1209, '*': 1209, '2': 1336, '5': 1336, '8': 1336, '0': 1336, '3': 1477, '6': 1477, '9': 1477, '#': 1477, A: 1633, B: 1633, C: 1633, D: 1633 };

export const DTMF_TONE_MS = 120;
export const DTMF_GAP_MS = 120;
/** `w`: a half-second pause, as in Twilio's `sendDigits` / `<Play digits>`. */
export const DTMF_WAIT_MS = 500;

/** What `press_keys` accepts: digits, `*`, `#`, A–D and `w` (wait half a second). */
export const DTMF_PATTERN = /^[0-9*#A-Dw]{1,64}$/;

/** The digits as audio frames (tone, gap per digit; `w` is silence). Throws for anything DTMF can't send. */
export function dtmfFrames(digits: string): Uint8Array[] {
  const keys = digits.replace(/[\s-]/g, '').replace(/[a-d]/g, (c) => c.toUpperCase());
  if (!DTMF_PATTERN.test(keys)) throw new RangeError(`"${digits}" is not a key sequence: use 0-9, *, #, A-D, and w for a half-second pause (at most 64)`);
  const perMs = SAMPLE_RATE / 1000;
  const parts: Float32Array[] = [];
  for (const key of keys) {
    if (key === 'w') {
      parts.push(new Float32Array(DTMF_WAIT_MS * perMs));
      continue;
    }
    const tone = new Float32Array(DTMF_TONE_MS * perMs);
    const lo = LOW[key]!;
    const hi = HIGH[key]!;
    for (let i = 0; i < tone.length; i++) {
      const t = i / SAMPLE_RATE;
      tone[i] = 0.22 * Math.sin(2 * Math.PI * lo * t) + 0.28 * Math.sin(2 * Math.PI * hi * t);
    }
    parts.push(tone, new Float32Array(DTMF_GAP_MS * perMs));
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Float32Array(Math.ceil(total / FRAME_BYTES) * FRAME_BYTES);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return toFrames(encodeFloat(all));
}

/**
 * Which DTMF key, if any, a stretch of 8 kHz samples holds (Goertzel on the eight frequencies): the strongest low
 * and high tone, each well above the others. For tests and diagnostics; not used on calls.
 */
export function detectDtmf(samples: Float32Array): string | null {
  const power = (f: number) => {
    const k = 2 * Math.cos((2 * Math.PI * f) / SAMPLE_RATE);
    let s1 = 0;
    let s2 = 0;
    for (const x of samples) {
      const s0 = x + k * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return s1 * s1 + s2 * s2 - k * s1 * s2;
  };
  const strongest = (freqs: number[]) => {
    const p = freqs.map(power).map((v, i) => ({ f: freqs[i]!, v })).sort((a, b) => b.v - a.v);
    return p[0]!.v > 10 * (p[1]!.v + 1e-9) && p[0]!.v > samples.length ? p[0]!.f : null;
  };
  const lo = strongest([697, 770, 852, 941]);
  const hi = strongest([1209, 1336, 1477, 1633]);
  if (lo === null || hi === null) return null;
  return Object.keys(LOW).find((k) => LOW[k] === lo && HIGH[k] === hi) ?? null;
}
