/**
 * Streaming sample-rate conversion for the test call: the mic (usually 44.1 or 48 kHz) down to Twilio's 8 kHz,
 * and the agent's 8 kHz up to the speakers' rate. Plain functions: no browser API, unit-tested under Node.
 *
 * Down: a windowed-sinc low-pass at the target's Nyquist (no aliasing: a 5 kHz whistle must not come out as
 * 3 kHz), then fractional resampling by linear interpolation between filtered samples. Up: linear
 * interpolation (8 kHz speech has nothing above 4 kHz to lose). Both keep their state across chunks, so a
 * stream cut into any chunks gives the same samples.
 */

/** A low-pass FIR (Blackman-windowed sinc), cut-off as a fraction of the input rate. */
export function lowPassTaps(cutoff: number, length: number): Float32Array {
  const taps = new Float32Array(length);
  const mid = (length - 1) / 2;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (length - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (length - 1));
    taps[i] = sinc * w;
    sum += taps[i]!;
  }
  for (let i = 0; i < length; i++) taps[i]! /= sum;
  return taps;
}

export class Resampler {
  readonly from: number;
  readonly to: number;
  readonly #step: number;
  readonly #taps: Float32Array | null;
  /** The last input samples (the filter's memory), filtered previous sample, and where the next output falls. */
  #history: Float32Array;
  #prev = 0;
  #pos = 0;

  constructor(from: number, to: number) {
    if (!(from > 0) || !(to > 0)) throw new RangeError(`sample rates must be positive (got ${from} → ${to})`);
    this.from = from;
    this.to = to;
    this.#step = from / to;
    // Cut a little below the target's Nyquist so the transition band is out of the way of 4 kHz.
    this.#taps = from > to ? lowPassTaps((0.45 * to) / from, 63) : null;
    this.#history = new Float32Array(this.#taps ? this.#taps.length - 1 : 0);
  }

  /** Convert the next chunk; returns as many samples as this chunk yields. */
  push(input: Float32Array): Float32Array {
    const filtered = this.#filter(input);
    // Output sample k sits at input position pos (relative to the previous chunk's last sample, index -1).
    const out: number[] = [];
    let pos = this.#pos;
    while (pos < filtered.length - 1 + 1e-9) {
      const i = Math.floor(pos);
      const frac = pos - i;
      const a = i < 0 ? this.#prev : filtered[i]!;
      const b = filtered[i + 1] ?? a;
      out.push(a + (b - a) * frac);
      pos += this.#step;
    }
    if (filtered.length) this.#prev = filtered[filtered.length - 1]!;
    this.#pos = pos - filtered.length;
    return Float32Array.from(out);
  }

  /** Forget the stream (a new call). */
  reset(): void {
    this.#history.fill(0);
    this.#prev = 0;
    this.#pos = 0;
  }

  #filter(input: Float32Array): Float32Array {
    const taps = this.#taps;
    if (!taps) return input;
    const n = taps.length;
    const buf = new Float32Array(this.#history.length + input.length);
    buf.set(this.#history);
    buf.set(input, this.#history.length);
    const out = new Float32Array(input.length);
    for (let i = 0; i < input.length; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += buf[i + k]! * taps[n - 1 - k]!;
      out[i] = acc;
    }
    this.#history = buf.slice(buf.length - this.#history.length);
    return out;
  }
}

/** Cuts a stream of 8 kHz samples into Twilio's 20 ms frames (160 samples), keeping the remainder. */
export class FrameCutter {
  readonly size: number;
  #pending = new Float32Array(0);

  constructor(size = 160) {
    this.size = size;
  }

  push(samples: Float32Array): Float32Array[] {
    const all = new Float32Array(this.#pending.length + samples.length);
    all.set(this.#pending);
    all.set(samples, this.#pending.length);
    const frames: Float32Array[] = [];
    let at = 0;
    for (; at + this.size <= all.length; at += this.size) frames.push(all.slice(at, at + this.size));
    this.#pending = all.slice(at);
    return frames;
  }
}
