/**
 * Turns a stream of byte counts into what a person wants to see: a rate over the last few seconds (not since
 * the start, so a stall shows), an ETA, and at most a few updates a second so the GUI and terminal keep up.
 */
export interface ProgressSample {
  rate: number | null;
  etaSec: number | null;
}

export class ProgressMeter {
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #samples: { t: number; received: number }[] = [];
  #lastEmit = -Infinity;

  constructor(options: { intervalMs?: number; windowMs?: number; now?: () => number } = {}) {
    this.#intervalMs = options.intervalMs ?? 250;
    this.#windowMs = options.windowMs ?? 5000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** True when enough time has passed since the last emitted update (and marks this one as emitted). */
  due(): boolean {
    const t = this.#now();
    if (t - this.#lastEmit < this.#intervalMs) return false;
    this.#lastEmit = t;
    return true;
  }

  /**
   * `received` counts only bytes that came over the network in this session (a resumed prefix is not
   * throughput); `bytes`/`total` are the overall position, for the ETA.
   */
  sample(received: number, bytes: number, total: number | null): ProgressSample {
    const t = this.#now();
    this.#samples.push({ t, received });
    while (this.#samples.length > 2 && t - this.#samples[1]!.t >= this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const span = (t - first.t) / 1000;
    const rate = span >= 0.05 ? (received - first.received) / span : null;
    const etaSec = rate !== null && rate > 0 && total !== null ? Math.max(0, Math.round((total - bytes) / rate)) : null;
    return { rate: rate === null ? null : Math.round(rate), etaSec };
  }
}
