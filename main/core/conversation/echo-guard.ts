/**
 * EchoGuard: tells the agent's own voice coming back through a speakerphone from a caller really speaking, so
 * the echo never barges in on the agent. Cheap and per call, no echo canceller and no FFT: it works on 10 ms
 * energy envelopes only (a few µs per inbound window).
 *
 *  - `played()` records the envelope of what Twilio plays, by its position on the call's audio clock.
 *  - `isEcho()` is called for every inbound window, in order. It keeps, for each lag 0..maxDelayMs, running
 *    (exponentially forgotten, ~1.5 s) correlation sums between the inbound envelope and the played envelope
 *    that many ms earlier. The best lag, when its correlation is high, is the echo path: its delay and gain.
 *  - A window is echo when its energy is no more than the echo that path predicts (the played envelope at
 *    that delay × gain, ±1 cell for smearing) plus `marginDb`. A caller speaking over the echo puts the window
 *    well above the prediction; with nothing played, the prediction is zero. Silence is never echo.
 *  - Until a path is found (the first few hundred ms of echo in a call), the guard assumes the worst echo it
 *    allows (`priorGainDb`, at any delay in range): otherwise the very first reply's echo would barge in before
 *    the path is learned. Once it has heard enough of its own audio without finding a path (a handset, not a
 *    speakerphone), it predicts nothing.
 *  - Cells far above the prediction (the caller talking over the agent) are not learned from, so double talk
 *    does not inflate the path's gain. If they go on for long while the agent plays, the path has changed
 *    (volume up, phone moved): it is forgotten and learned again.
 *
 * Both envelopes are taken of the first difference at 8 kHz (x[n] − x[n − rate/8000]): that tilts away the
 * low frequencies the phone line's high-pass removes from the echo, so played and echoed envelopes match.
 */

export interface EchoGuardOptions {
  /** Rate of the inbound windows given to isEcho (Hearing works at 16 kHz). */
  sampleRate: 8000 | 16000;
  /** Rate of the audio given to played() (Twilio's outbound frames are 8 kHz). Default 8000. */
  playedRate?: 8000 | 16000;
  /** Longest echo path searched: network round trip + the phone's loudspeaker → microphone. Default 500. */
  maxDelayMs?: number;
  /**
   * How far above the predicted echo a window may be and still count as echo. Default 2 dB: the echo alone
   * stays within +1 dB of the prediction; a caller as loud as the echo adds +3 dB.
   */
  marginDb?: number;
  /** Correlation an echo path needs before it is believed. Default 0.6. */
  minCorrelation?: number;
  /** Inbound windows quieter than this are not a barge-in anyway: never echo. Default -55 dBFS. */
  silenceDbfs?: number;
  /** Loudest echo assumed (relative to the played audio) before the path is known. Default -6 dB. */
  priorGainDb?: number;
}

export interface EchoPathEstimate {
  delayMs: number;
  /** Echo level relative to the played audio (dB). */
  gainDb: number;
  correlation: number;
}

const CELL_MS = 10;
/** Forgetting per 10 ms cell: a time constant of about 1.5 s. */
const FORGET = Math.exp(-CELL_MS / 1500);
/** Played audio quieter than this (first-difference RMS) counts as nothing played. */
const PLAYED_FLOOR = 1e-4;
/** Weight (in cells, after forgetting) of evidence needed before a path is believed: about 300 ms of echo. */
const MIN_EVIDENCE = 30;
/** Evidence (cells with the agent's audio in range) after which no path means no echo: the prior ends. */
const PRIOR_EVIDENCE = 80;
/** Correlations are searched every this many inbound cells. */
const SEARCH_EVERY = 5;
/** A cell this far (energy ratio, 10 dB) above the predicted echo is double talk: not learned from. */
const DOUBLE_TALK = 10;
/** First-difference energy below which an inbound cell is line noise, never double talk. */
const CELL_FLOOR = 1e-7;
/** Net double-talk cells (while the agent plays) after which the path is believed to have changed: ~1.5 s. */
const REACQUIRE_CELLS = 150;

export class EchoGuard {
  readonly #rate: number;
  readonly #lagSamples: number;
  readonly #playedRate: number;
  readonly #playedLag: number;
  readonly #lags: number;
  readonly #margin: number;
  readonly #minCorr: number;
  readonly #silence: number;
  readonly #prior: number;
  // Played envelope: first-difference energy per 10 ms cell, in a ring tagged with the cell's index.
  readonly #ring: Float64Array;
  readonly #ringCount: Float64Array;
  readonly #ringTag: Float64Array;
  #playedUntilMs = -Infinity;
  readonly #playedTail: number[] = [];
  // Inbound envelope under construction.
  #inCell = -1;
  #inSum = 0;
  #inCount = 0;
  readonly #inTail: number[] = [];
  #inNextSample = -1;
  // Running sums per lag (x = inbound amplitude, y = played amplitude `lag` cells earlier).
  readonly #sxy: Float64Array;
  readonly #sy: Float64Array;
  readonly #syy: Float64Array;
  #sx = 0;
  #sxx = 0;
  #n = 0;
  #cellsSinceSearch = 0;
  #doubleTalk = 0;
  #path: { lag: number; gain: number; correlation: number } | null = null;
  // Per-window scratch, filled by #inboundCell (no closure allocated per window).
  #winSum = 0;
  #winPredicted = 0;
  readonly #onPlayed = (cell: number, sum: number, count: number): void => this.#playedCell(cell, sum, count);
  readonly #onInbound = (cell: number, sum: number, count: number, complete: boolean): void => this.#inboundCell(cell, sum, count, complete);

  constructor(options: EchoGuardOptions) {
    this.#rate = options.sampleRate;
    this.#lagSamples = options.sampleRate / 8000;
    this.#playedRate = options.playedRate ?? 8000;
    this.#playedLag = this.#playedRate / 8000;
    this.#lags = Math.floor((options.maxDelayMs ?? 500) / CELL_MS) + 1;
    this.#margin = 10 ** ((options.marginDb ?? 2) / 10);
    this.#minCorr = options.minCorrelation ?? 0.6;
    this.#silence = 10 ** ((options.silenceDbfs ?? -55) / 10);
    this.#prior = 10 ** ((options.priorGainDb ?? -6) / 10);
    const size = this.#lags + 256; // the delay range plus 2.5 s of played audio ahead of the inbound clock
    this.#ring = new Float64Array(size);
    this.#ringCount = new Float64Array(size);
    this.#ringTag = new Float64Array(size).fill(-1);
    this.#sxy = new Float64Array(this.#lags);
    this.#sy = new Float64Array(this.#lags);
    this.#syy = new Float64Array(this.#lags);
  }

  /** The echo path believed now, or null (none found yet). */
  get path(): EchoPathEstimate | null {
    const p = this.#path;
    return p && { delayMs: p.lag * CELL_MS, gainDb: 20 * Math.log10(Math.max(1e-9, p.gain)), correlation: p.correlation };
  }

  /**
   * Audio the caller hears from `atMs` on the call's audio clock (where Twilio plays it). Calls follow the
   * playback order; audio for a span already given (playback restarted after a `clear`) replaces it.
   */
  played(samples: Float32Array, atMs: number): void {
    if (atMs < this.#playedUntilMs - 0.5) this.cancel(atMs);
    else if (atMs > this.#playedUntilMs + 0.5) this.#playedTail.length = 0;
    this.#accumulate(samples, atMs, this.#playedRate, this.#playedLag, this.#playedTail, this.#onPlayed);
    this.#playedUntilMs = atMs + (samples.length * 1000) / this.#playedRate;
  }

  /** Audio recorded as played from `fromMs` on was never heard (Twilio dropped it on `clear`): forget it. */
  cancel(fromMs: number): void {
    const first = Math.max(0, Math.ceil(fromMs / CELL_MS));
    const last = Math.ceil(this.#playedUntilMs / CELL_MS);
    for (let c = first; c <= last && c - first < this.#ring.length; c++) {
      const i = c % this.#ring.length;
      if (this.#ringTag[i] === c) this.#ringTag[i] = -1;
    }
    this.#playedUntilMs = Math.min(this.#playedUntilMs, fromMs);
    this.#playedTail.length = 0;
  }

  /**
   * Is this inbound window, starting at `atMs` on the inbound audio clock, (mostly) the agent's own echo?
   * Call it for every window, in order: it also learns the echo path. Silence is never echo.
   */
  isEcho(window: Float32Array, atMs: number): boolean {
    let energy = 0;
    for (let i = 0; i < window.length; i++) energy += window[i]! * window[i]!;
    energy /= Math.max(1, window.length);
    const start = Math.round((atMs * this.#rate) / 1000);
    if (start !== this.#inNextSample) this.#inTail.length = 0;
    this.#inNextSample = start + window.length;
    // The window's cells go into the correlation sums, and each is set against the echo predicted for it.
    this.#winSum = 0;
    this.#winPredicted = 0;
    this.#accumulate(window, atMs, this.#rate, this.#lagSamples, this.#inTail, this.#onInbound);
    if (energy < this.#silence) return false;
    return this.#winPredicted > 0 && this.#winSum <= this.#winPredicted * this.#margin;
  }

  #playedCell(cell: number, sum: number, count: number): void {
    const i = cell % this.#ring.length;
    if (this.#ringTag[i] !== cell) {
      this.#ringTag[i] = cell;
      this.#ring[i] = 0;
      this.#ringCount[i] = 0;
    }
    this.#ring[i]! += sum;
    this.#ringCount[i]! += count;
  }

  #inboundCell(cell: number, sum: number, count: number, complete: boolean): void {
    this.#winSum += sum;
    this.#winPredicted += count * this.#predicted(cell);
    if (cell !== this.#inCell) {
      this.#finishInboundCell();
      this.#inCell = cell;
    }
    this.#inSum += sum;
    this.#inCount += count;
    if (complete) this.#finishInboundCell();
  }

  /**
   * The echo energy (first difference, per sample) expected in inbound cell `cell`: by the path, or before one
   * is known by the prior (the loudest played cell in range at the prior gain), or nothing.
   */
  #predicted(cell: number): number {
    const path = this.#path;
    if (path) {
      const c = cell - path.lag;
      return path.gain * path.gain * Math.max(this.#playedEnergy(c - 1), this.#playedEnergy(c), this.#playedEnergy(c + 1));
    }
    if (this.#n >= PRIOR_EVIDENCE) return 0;
    let max = 0;
    for (let l = 0; l < this.#lags; l++) max = Math.max(max, this.#playedEnergy(cell - l));
    return this.#prior * max;
  }

  /** Mean first-difference energy of played cell `c` (0 when nothing is known to have played there). */
  #playedEnergy(cell: number): number {
    if (cell < 0) return 0;
    const i = cell % this.#ring.length;
    if (this.#ringTag[i] !== cell || this.#ringCount[i] === 0) return 0;
    return this.#ring[i]! / this.#ringCount[i]!;
  }

  /**
   * First-difference energy of `samples` (at `rate`, starting at `atMs`) per 10 ms cell; `tail` holds the
   * previous call's last samples so the difference runs across calls. `emit(cell, sum, count, complete)`.
   */
  #accumulate(samples: Float32Array, atMs: number, rate: number, lag: number, tail: number[], emit: (cell: number, sum: number, count: number, complete: boolean) => void): void {
    const perCell = (rate * CELL_MS) / 1000;
    const start = Math.round((atMs * rate) / 1000);
    let i = 0;
    while (i < samples.length) {
      const pos = start + i;
      const cell = Math.floor(pos / perCell);
      const end = Math.min(samples.length, (cell + 1) * perCell - start);
      let sum = 0;
      for (let j = i; j < end; j++) {
        const prev = j >= lag ? samples[j - lag]! : tail.length >= lag - j ? tail[tail.length - (lag - j)]! : samples[j]!;
        const d = samples[j]! - prev;
        sum += d * d;
      }
      emit(cell, sum, end - i, start + end === (cell + 1) * perCell);
      i = end;
    }
    tail.length = 0;
    for (let j = Math.max(0, samples.length - lag); j < samples.length; j++) tail.push(samples[j]!);
  }

  /** One inbound 10 ms cell is complete: fold it into the correlation sums, and now and then re-find the path. */
  #finishInboundCell(): void {
    if (this.#inCell < 0 || this.#inCount === 0) return;
    const cell = this.#inCell;
    const e = this.#inSum / this.#inCount;
    this.#inSum = 0;
    this.#inCount = 0;
    this.#inCell = -1;
    // Learn only while something was played within the delay range: the path is about the agent's audio.
    let active = false;
    for (let l = 0; l < this.#lags && !active; l += 4) active = this.#playedEnergy(cell - l) > PLAYED_FLOOR * PLAYED_FLOOR;
    if (!active) return;
    // Double talk (the caller over the agent) says nothing about the path: skip it, and if it goes on and on
    // while the agent plays, the path itself has changed.
    if (this.#path && e > CELL_FLOOR && e > DOUBLE_TALK * this.#predicted(cell)) {
      if (++this.#doubleTalk >= REACQUIRE_CELLS) this.#forget();
      return;
    }
    if (this.#doubleTalk > 0) this.#doubleTalk--;
    const x = Math.sqrt(e);
    const sxy = this.#sxy;
    const sy = this.#sy;
    const syy = this.#syy;
    for (let l = 0; l < this.#lags; l++) {
      const y = Math.sqrt(this.#playedEnergy(cell - l));
      sxy[l] = sxy[l]! * FORGET + x * y;
      sy[l] = sy[l]! * FORGET + y;
      syy[l] = syy[l]! * FORGET + y * y;
    }
    this.#sx = this.#sx * FORGET + x;
    this.#sxx = this.#sxx * FORGET + x * x;
    this.#n = this.#n * FORGET + 1;
    if (++this.#cellsSinceSearch >= SEARCH_EVERY) {
      this.#cellsSinceSearch = 0;
      this.#search();
    }
  }

  /** The path is no longer believed: learn it again from scratch (under the prior meanwhile). */
  #forget(): void {
    this.#path = null;
    this.#sxy.fill(0);
    this.#sy.fill(0);
    this.#syy.fill(0);
    this.#sx = 0;
    this.#sxx = 0;
    this.#n = 0;
    this.#doubleTalk = 0;
    this.#cellsSinceSearch = 0;
  }

  /** Best lag by Pearson correlation of the envelopes; believed (and its gain taken) when clearly correlated. */
  #search(): void {
    if (this.#n < MIN_EVIDENCE) return;
    const n = this.#n;
    const vx = n * this.#sxx - this.#sx * this.#sx;
    if (vx <= 0) return;
    let best = -1;
    let bestCorr = -Infinity;
    for (let l = 0; l < this.#lags; l++) {
      const vy = n * this.#syy[l]! - this.#sy[l]! * this.#sy[l]!;
      if (vy <= 0) continue;
      const corr = (n * this.#sxy[l]! - this.#sx * this.#sy[l]!) / Math.sqrt(vx * vy);
      if (corr > bestCorr) {
        bestCorr = corr;
        best = l;
      }
    }
    if (best < 0 || bestCorr < this.#minCorr) return;
    // Least-squares gain of inbound on played at that lag (the echo is a scaled copy of the played envelope).
    const gain = this.#sxy[best]! / this.#syy[best]!;
    this.#path = { lag: best, gain, correlation: bestCorr };
  }
}
