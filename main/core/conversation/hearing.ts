/**
 * Hearing: turns one call's inbound audio into what the conversation acts on — the caller started a turn, and
 * the caller's turn is over (with its audio). It owns voice activity detection (16 kHz windows through the
 * VAD, in order, off the socket's event loop turn), the TurnDetector, and speculative speech-to-text: after a
 * short pause the utterance so far is transcribed, and if no speech follows, that transcript is the turn's.
 * With a turn model, it asks the model, once the caller has been silent for `turnMinMs` and again as the pause
 * grows, whether the caller has finished: a "complete" verdict ends the turn at once, and a model that fails
 * leaves the turn to the silence.
 *
 * Replies, history and interruption are the Dialogue's; this unit never speaks.
 */
import type { VadStream } from '../audio/vad/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Lease } from '../plugins/registry.ts';
import { INBOUND_RATE } from '../twilio/media-stream.ts';
import type { ConversationSettings } from './conversation-settings.ts';
import { guardPromise, linkAbort, timeoutError } from './guard.ts';
import { TurnDetector, type TurnEndReason, type Utterance } from './turn-detector.ts';

export type HearingSettings = Pick<ConversationSettings, 'silenceMs' | 'minSpeechMs' | 'bargeInMinMs' | 'maxTurnMs' | 'speculativeMs' | 'pluginTimeoutMs' | 'turnMinMs' | 'turnThreshold'>;

/** How much longer the pause must grow before the turn model is asked again, ms. */
export const TURN_REASK_MS = 150;
/** A turn model that has not answered by then has failed for this turn, ms. */
export const TURN_TIMEOUT_MS = 1_000;

/** How a turn ended, and what the turn model last said about it (null: it was not asked, or failed). */
export interface TurnEnd {
  endedBy: TurnEndReason;
  turnProbability: number | null;
  turnModelMs: number | null;
}

export interface HearingOptions {
  callSid?: string;
  vad: VadStream;
  stt: Lease<'stt'>;
  /** The call's turn model, or null: turns end after the silence. */
  turn?: Lease<'turn'> | null;
  /** Tells the agent's own voice coming back (speakerphone echo) from the caller speaking; null: off. */
  echo?: { isEcho(window: Float32Array, atMs: number): boolean } | null;
  settings: HearingSettings;
  log: Logger;
  /** Aborted when the call ends: cancels transcription in flight. */
  signal: AbortSignal;
  now?: () => number;
}

export interface HearingEvents {
  /** The caller began a real turn (long enough not to be a cough or an "mm-hm" over the agent). */
  turnStart(info: { speechMs: number }): void;
  /** The caller's turn is over. */
  end(utterance: Utterance, how: TurnEnd): void;
  /** The caller paused inside a turn (the speculative point): the utterance so far. */
  pause?(utterance: Utterance): void;
  /** The caller went on speaking after a pause. */
  resume?(): void;
}

interface TurnAsk {
  controller: AbortController;
  /** #pauses when asked: a resume or an end since makes the answer stale. */
  pause: number;
  startedAt: number;
}

interface Speculation {
  speechEndMs: number;
  controller: AbortController;
  promise: Promise<{ text: string }>;
}

export class Hearing {
  readonly #o: HearingOptions;
  readonly #now: () => number;
  readonly #detector: TurnDetector;
  #buffer = new Float32Array(0);
  #chain: Promise<void> = Promise.resolve();
  #vadFailed = false;
  #spec: Speculation | null = null;
  #closed = false;
  #pauses = 0;
  #ask: TurnAsk | null = null;
  /** Silence (ms) at which the turn model was last asked in this pause. */
  #askedAt: number | null = null;
  #verdict: { probability: number; ms: number } | null = null;
  #turnFailed = false;
  #turnWarned = false;

  constructor(options: HearingOptions, on: HearingEvents) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    const s = options.settings;
    // The pause that starts early work is the speculative point, or the turn model's first question if sooner.
    const pauseMs = Math.min(s.speculativeMs, s.silenceMs, options.turn ? s.turnMinMs : Infinity);
    this.#detector = new TurnDetector(
      { sampleRate: INBOUND_RATE, silenceMs: s.silenceMs, minSpeechMs: s.minSpeechMs, bargeInMinMs: s.bargeInMinMs, maxTurnMs: s.maxTurnMs, speculativeMs: pauseMs },
      {
        turnStart: (info) => {
          options.log.debug('caller turn started', { speechMs: info.speechMs });
          on.turnStart(info);
        },
        pause: (u) => {
          this.#speculate(u);
          on.pause?.(u);
        },
        resume: () => {
          this.#newPause();
          this.#dropSpeculation();
          on.resume?.();
        },
        quiet: ({ silenceMs }) => this.#maybeAskTurn(silenceMs),
        end: (u, { endedBy }) => {
          const verdict = this.#verdict;
          // The silence ran out before the model ever answered in this turn: too slow (or hanging) for it. A late
          // re-ask still out while earlier answers came back is not a failure.
          const pendingMs = this.#ask ? this.#now() - this.#ask.startedAt : 0;
          if (this.#ask && !verdict && endedBy === 'silence' && pendingMs >= (s.silenceMs - s.turnMinMs) / 2) {
            this.#turnModelFailed(timeoutError(options.turn!.name, 'judge the turn', Math.round(pendingMs)));
          }
          this.#newPause();
          this.#turnFailed = false;
          on.end(u, { endedBy, turnProbability: verdict?.probability ?? null, turnModelMs: verdict ? Math.round(verdict.ms * 10) / 10 : null });
        },
        discard: (info) => options.log.debug('ignored a short sound', { speechMs: Math.round(info.speechMs) }),
      },
    );
  }

  /** The agent is talking or about to: a turn then needs `bargeInMinMs` of speech, not `minSpeechMs`. */
  set agentActive(active: boolean) {
    this.#detector.agentActive = active;
  }

  /** Ms of the caller's audio heard so far, on the call's own audio clock. */
  get clockMs(): number {
    return this.#detector.clockMs;
  }

  /** 16 kHz audio from the caller, in order. VAD windows are queued so they run one at a time. */
  hear(samples: Float32Array): void {
    if (this.#closed) return;
    const buf = new Float32Array(this.#buffer.length + samples.length);
    buf.set(this.#buffer);
    buf.set(samples, this.#buffer.length);
    const size = this.#o.vad.windowSamples;
    let off = 0;
    while (buf.length - off >= size) {
      const window = buf.slice(off, off + size);
      off += size;
      this.#chain = this.#chain.then(() => this.#window(window));
    }
    this.#buffer = buf.slice(off);
  }

  async #window(window: Float32Array): Promise<void> {
    if (this.#closed) return;
    let prob: number;
    const atMs = this.#detector.clockMs;
    try {
      prob = await this.#o.vad.process(window);
    } catch (err) {
      if (!this.#vadFailed) this.#o.log.error('voice activity detection failed; treating audio as silence', { error: errorMessage(err) });
      this.#vadFailed = true;
      prob = 0;
    }
    // Every window goes through the echo guard (it learns the echo path from them); the agent's own voice coming
    // back is not the caller speaking.
    if (this.#o.echo?.isEcho(window, atMs) && prob > 0) prob = 0;
    if (!this.#closed) this.#detector.push(window, prob);
  }

  /** A resume or an end: answers to questions asked before are stale. */
  #newPause(): void {
    this.#pauses++;
    this.#ask?.controller.abort();
    this.#ask = null;
    this.#askedAt = null;
    this.#verdict = null;
  }

  #maybeAskTurn(silenceMs: number): void {
    const turn = this.#o.turn;
    const s = this.#o.settings;
    if (!turn || this.#closed || this.#turnFailed || this.#ask || silenceMs < s.turnMinMs) return;
    if (this.#askedAt !== null && silenceMs < this.#askedAt + TURN_REASK_MS) return;
    const samples = this.#detector.turnAudio();
    if (!samples) return;
    this.#askedAt = silenceMs;
    const started = this.#now();
    const ask: TurnAsk = { controller: linkAbort(this.#o.signal, new AbortController()), pause: this.#pauses, startedAt: started };
    this.#ask = ask;
    const options = { signal: ask.controller.signal, ...(this.#o.callSid ? { callSid: this.#o.callSid } : {}) };
    let promise: Promise<{ complete: number }>;
    try {
      promise = turn.instance.predict({ samples, sampleRate: INBOUND_RATE }, options);
    } catch (err) {
      promise = Promise.reject(err);
    }
    guardPromise(promise, { ms: TURN_TIMEOUT_MS, controller: ask.controller, plugin: turn.name, what: 'judge the turn' }).then(
      (r) => {
        if (this.#ask === ask) this.#ask = null;
        if (ask.pause !== this.#pauses || this.#closed) return;
        const p = (r as { complete?: unknown } | null)?.complete;
        if (typeof p !== 'number' || !(p >= 0 && p <= 1)) return this.#turnModelFailed(new Error(`${turn.name} returned ${JSON.stringify(r)} instead of { complete: 0..1 }`));
        this.#verdict = { probability: p, ms: this.#now() - started };
        if (p >= s.turnThreshold) this.#detector.endNow('turn-model');
      },
      (err) => {
        if (this.#ask === ask) this.#ask = null;
        if (ask.pause !== this.#pauses || this.#closed) return;
        this.#turnModelFailed(err);
      },
    );
  }

  /** The turn model threw, hung or answered garbage: this turn ends after the silence. Logged once per call. */
  #turnModelFailed(err: unknown): void {
    this.#turnFailed = true;
    if (this.#turnWarned) return;
    this.#turnWarned = true;
    this.#o.log.warn('turn model failed; turns end after the silence when it does (logged once per call)', { plugin: this.#o.turn?.name, error: errorMessage(err) });
  }

  #speculate(u: Utterance): void {
    if (this.#closed || this.#spec) return;
    const controller = new AbortController();
    const promise = this.#o.stt.instance.transcribe({ samples: u.samples, sampleRate: INBOUND_RATE }, { signal: controller.signal });
    promise.catch(() => {});
    this.#spec = { speechEndMs: u.speechEndMs, controller, promise };
  }

  #dropSpeculation(): void {
    this.#spec?.controller.abort();
    this.#spec = null;
  }

  /**
   * What the caller said in a finished turn. Uses the speculative transcript when no speech came after the
   * pause that started it; otherwise transcribes now. Cancelled only by the call ending.
   */
  async transcribe(u: Utterance, cancel?: AbortSignal): Promise<{ text: string; sttMs: number }> {
    const spec = this.#spec;
    this.#spec = null;
    const started = this.#now();
    const { stt, settings } = this.#o;
    const signal = cancel ? AbortSignal.any([this.#o.signal, cancel]) : this.#o.signal;
    const guard = { ms: settings.pluginTimeoutMs, plugin: stt.name, what: 'transcribe' };
    if (spec && spec.speechEndMs === u.speechEndMs) {
      const r = await guardPromise(spec.promise, { ...guard, controller: linkAbort(signal, spec.controller) });
      return { text: r.text, sttMs: this.#now() - started };
    }
    spec?.controller.abort();
    const controller = linkAbort(signal, new AbortController());
    const r = await guardPromise(stt.instance.transcribe({ samples: u.samples, sampleRate: INBOUND_RATE }, { signal: controller.signal }), { ...guard, controller });
    return { text: r.text, sttMs: this.#now() - started };
  }

  /** The call is over: stop listening, cancel speculation. */
  close(): void {
    this.#closed = true;
    this.#newPause();
    this.#spec?.controller.abort();
    this.#spec = null;
    this.#detector.reset();
  }
}
