/**
 * The simulated caller's speakerphone: what the phone plays comes back into its microphone, delayed,
 * attenuated and band-limited by the phone line (300–3400 Hz), and is mixed with whatever the caller says
 * before μ-law encoding. Sample-by-sample on the call clock, so it is exact and deterministic.
 */
import { FRAME_BYTES, SAMPLE_RATE } from '../core/audio/frames.ts';
import { decodeFloat, encodeFloat } from '../core/audio/mulaw.ts';

export interface EchoOptions {
  /** Loudspeaker → microphone delay (ms); at least one 20 ms frame. */
  delayMs: number;
  /** Echo level relative to the played audio (dB, e.g. -12). */
  gainDb: number;
}

/** A second-order section (RBJ cookbook), direct form I. */
class Biquad {
  readonly #b0: number;
  readonly #b1: number;
  readonly #b2: number;
  readonly #a1: number;
  readonly #a2: number;
  #x1 = 0;
  #x2 = 0;
  #y1 = 0;
  #y2 = 0;

  constructor(kind: 'lowpass' | 'highpass', hz: number, rate: number, q = Math.SQRT1_2) {
    const w = (2 * Math.PI * hz) / rate;
    const alpha = Math.sin(w) / (2 * q);
    const cos = Math.cos(w);
    const a0 = 1 + alpha;
    const b0 = kind === 'lowpass' ? (1 - cos) / 2 : (1 + cos) / 2;
    this.#b0 = b0 / a0;
    this.#b1 = (kind === 'lowpass' ? 2 * b0 : -2 * b0) / a0;
    this.#b2 = b0 / a0;
    this.#a1 = (-2 * cos) / a0;
    this.#a2 = (1 - alpha) / a0;
  }

  step(x: number): number {
    const y = this.#b0 * x + this.#b1 * this.#x1 + this.#b2 * this.#x2 - this.#a1 * this.#y1 - this.#a2 * this.#y2;
    this.#x2 = this.#x1;
    this.#x1 = x;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

/** The phone line's band: 4th-order high-pass at 300 Hz, 2nd-order low-pass at 3400 Hz. */
export class PhoneBand {
  readonly #stages: Biquad[];

  constructor(rate = SAMPLE_RATE) {
    this.#stages = [new Biquad('highpass', 300, rate), new Biquad('highpass', 300, rate), new Biquad('lowpass', 3400, rate)];
  }

  process(samples: Float32Array, gain = 1): Float32Array {
    const out = new Float32Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      let v = samples[i]!;
      for (const s of this.#stages) v = s.step(v);
      out[i] = v * gain;
    }
    return out;
  }
}

export class EchoPath {
  readonly #delay: number;
  readonly #gain: number;
  readonly #band = new PhoneBand();
  /** Echo samples by call-clock sample position (mod length); one second beyond the delay. */
  readonly #ring: Float32Array;
  #written = 0;

  constructor(options: EchoOptions) {
    this.#delay = Math.max(FRAME_BYTES, Math.round((options.delayMs * SAMPLE_RATE) / 1000));
    this.#gain = 10 ** (options.gainDb / 20);
    this.#ring = new Float32Array(this.#delay + SAMPLE_RATE);
  }

  /**
   * The phone played this μ-law frame (or nothing: `null`) starting at call-clock sample `atSample`. Call it for
   * every frame of the call, in order, so silence is played into the line too.
   */
  play(frame: Uint8Array | null, atSample: number): void {
    const pcm = frame ? decodeFloat(frame) : new Float32Array(FRAME_BYTES);
    const echo = this.#band.process(pcm, this.#gain);
    const n = this.#ring.length;
    for (let i = 0; i < echo.length; i++) this.#ring[(atSample + i) % n] = echo[i]!;
    this.#written = atSample + echo.length;
  }

  /** The caller's μ-law frame starting at call-clock sample `atSample`, with the echo mixed in. */
  mix(frame: Uint8Array, atSample: number): Uint8Array {
    const pcm = decodeFloat(frame);
    const n = this.#ring.length;
    for (let i = 0; i < pcm.length; i++) {
      const src = atSample + i - this.#delay;
      // Nothing was played that long ago (or yet): no echo.
      if (src >= 0 && src < this.#written) pcm[i]! += this.#ring[src % n]!;
    }
    return encodeFloat(pcm);
  }
}
