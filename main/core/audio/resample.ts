/**
 * Streaming band-limited resampler (polyphase windowed sinc, Kaiser window). Handles any integer rate pair:
 * 8 kHz ↔ 16 kHz for the caller's audio, and 16 / 22.05 / 24 / 44.1 kHz TTS output down to 8 kHz for the phone.
 * The low-pass cutoff sits below the lower Nyquist, so downsampling does not alias.
 *
 * Stateful: chunk boundaries are seamless. Call `reset()` when a stream is discarded (barge-in), or the filter
 * history of the interrupted reply leaks into the start of the next one.
 */

const ZERO_CROSSINGS = 12;
const ROLLOFF = 0.92;
const KAISER_BETA = 8.6;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

interface Kernel {
  L: number;
  M: number;
  /** Taps per output sample. */
  width: number;
  /** Half width H: output at input time c + f uses x[c - H + 1 .. c + H]. */
  half: number;
  /** L phases × width taps. */
  table: Float32Array;
}

// Immutable, shared filter tables (pure functions of the rate pair).
const kernels = new Map<string, Kernel>();

function kernelFor(inRate: number, outRate: number): Kernel {
  const key = `${inRate}>${outRate}`;
  const cached = kernels.get(key);
  if (cached) return cached;
  const g = gcd(inRate, outRate);
  const L = outRate / g;
  const M = inRate / g;
  // Cutoff as a fraction of the input sample rate (cycles per input sample).
  const fc = (ROLLOFF * Math.min(inRate, outRate)) / 2 / inRate;
  const half = Math.ceil(ZERO_CROSSINGS / (2 * fc));
  const width = 2 * half;
  const table = new Float32Array(L * width);
  const i0beta = besselI0(KAISER_BETA);
  for (let p = 0; p < L; p++) {
    const f = p / L;
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const tau = j - half + 1 - f;
      const x = 2 * fc * tau;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = tau / half;
      const w = Math.abs(r) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0beta;
      const h = 2 * fc * sinc * w;
      table[p * width + j] = h;
      sum += h;
    }
    // Exact unity DC gain for every phase.
    for (let j = 0; j < width; j++) table[p * width + j]! /= sum;
  }
  const kernel = { L, M, width, half, table };
  kernels.set(key, kernel);
  return kernel;
}

export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly #k: Kernel | null;
  #buf = new Float32Array(0);
  #len = 0;
  /** Position of the next output, in 1/L input samples, relative to #buf[0]. */
  #num = 0;

  constructor(inRate: number, outRate: number) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
      throw new RangeError(`Resampler needs positive integer sample rates (got ${inRate} → ${outRate})`);
    }
    this.inRate = inRate;
    this.outRate = outRate;
    this.#k = inRate === outRate ? null : kernelFor(inRate, outRate);
    this.reset();
  }

  /** Forget all history: the next sample starts a fresh stream. */
  reset(): void {
    if (!this.#k) return;
    const { half, L } = this.#k;
    this.#buf = new Float32Array(Math.max(1024, half * 4));
    this.#len = half - 1; // zero history so output 0 lines up with input 0
    this.#buf.fill(0);
    this.#num = (half - 1) * L;
  }

  process(input: Float32Array): Float32Array {
    const k = this.#k;
    if (!k) return input.slice();
    const { L, M, width, half, table } = k;
    if (this.#len + input.length > this.#buf.length) {
      const grown = new Float32Array(Math.max(this.#buf.length * 2, this.#len + input.length));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(input, this.#len);
    this.#len += input.length;
    const buf = this.#buf;
    const available = Math.max(0, Math.ceil(((this.#len - half) * L - this.#num) / M));
    const out = new Float32Array(available);
    let n = 0;
    let num = this.#num;
    for (;;) {
      const c = Math.floor(num / L);
      if (c + half >= this.#len) break;
      const p = num - c * L;
      const base = p * width;
      const start = c - half + 1;
      let acc = 0;
      for (let j = 0; j < width; j++) acc += table[base + j]! * buf[start + j]!;
      if (n < out.length) out[n] = acc;
      n++;
      num += M;
    }
    // Drop input that no future output needs.
    const drop = Math.floor(num / L) - half + 1;
    if (drop > 0) {
      buf.copyWithin(0, drop, this.#len);
      this.#len -= drop;
      num -= drop * L;
    }
    this.#num = num;
    return n === out.length ? out : out.subarray(0, n);
  }

  /** Push the filter tail out (end of stream) and reset. */
  flush(): Float32Array {
    if (!this.#k) return new Float32Array(0);
    const tail = this.process(new Float32Array(this.#k.half));
    this.reset();
    return tail;
  }
}

/** Resample a whole buffer in one go. */
export function resample(samples: Float32Array, inRate: number, outRate: number): Float32Array {
  if (inRate === outRate) return samples.slice();
  const r = new Resampler(inRate, outRate);
  const a = r.process(samples);
  const b = r.flush();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  // Trim to the exact expected length (the flushed tail may overshoot by the filter's half width).
  return out.subarray(0, Math.round((samples.length * outRate) / inRate));
}
