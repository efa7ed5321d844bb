/**
 * A sliding-window rate limit for outbound calls: at most N dial attempts in any 60 s, so a script (or a
 * stuck button) can't run up a phone bill. A refusal says when the next attempt will be allowed.
 */
import { ParleyError } from '../errors.ts';

export interface RateLimiterOptions {
  /** Attempts allowed per window (read on every attempt: the setting can change at run time). */
  limit(): number;
  windowMs?: number;
  now?: () => number;
  /** Names the setting in the refusal, e.g. "PARLEY_DIAL_RATE". */
  setting?: string;
}

export class RateLimiter {
  readonly #opts: RateLimiterOptions;
  readonly #windowMs: number;
  readonly #now: () => number;
  #stamps: number[] = [];

  constructor(options: RateLimiterOptions) {
    this.#opts = options;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  #prune(now: number): void {
    while (this.#stamps.length && this.#stamps[0]! <= now - this.#windowMs) this.#stamps.shift();
  }

  /** Attempts left in the current window. */
  remaining(): number {
    this.#prune(this.#now());
    return Math.max(0, this.#opts.limit() - this.#stamps.length);
  }

  /** Count one attempt, or throw RATE_LIMITED with `retryAfterSec` when the window is full. */
  take(): void {
    const now = this.#now();
    this.#prune(now);
    const limit = this.#opts.limit();
    if (this.#stamps.length >= limit) {
      // The attempt that frees a slot is the one `limit` places from the end.
      const frees = this.#stamps[this.#stamps.length - limit]! + this.#windowMs;
      const retryAfterSec = Math.max(1, Math.ceil((frees - now) / 1000));
      const per = this.#windowMs === 60_000 ? 'minute' : `${Math.round(this.#windowMs / 1000)} s`;
      throw new ParleyError('RATE_LIMITED', `Too many calls: at most ${limit} per ${per}${this.#opts.setting ? ` (${this.#opts.setting})` : ''}. Try again in ${retryAfterSec} s.`, {
        details: { retryAfterSec, limit },
      });
    }
    this.#stamps.push(now);
  }
}
