/**
 * Calls that don't go as planned (issue 14 §3): an idle caller and a call that runs too long.
 *
 * - After `repromptMs` of caller silence while the agent is idle (not speaking, thinking or in a tool) the agent
 *   asks once "Are you still there?" (`prompt`); the question itself does not restart the silence.
 * - After `hangupMs` of such silence it says `idleGoodbye` and the call is ended with reason `idle`.
 * - `maxCallMs` after the call started it says `maxGoodbye` (after what is queued) and ends with `max-length`.
 *
 * Caller speech restarts the silence (and allows another question later); the agent being busy holds it.
 * 0 turns each off. Timers only (setInterval / setTimeout, Date.now), so fake time drives it in tests.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';

export const IDLE_REASON = 'idle';
export const MAX_LENGTH_REASON = 'max-length';

export interface IdleWatchOptions {
  repromptMs: number;
  hangupMs: number;
  maxCallMs: number;
  prompt: string;
  idleGoodbye: string;
  maxGoodbye: string;
  /** The agent has nothing in flight (Dialogue.idle). */
  agentIdle(): boolean;
  /** Say a line as an agent turn (Dialogue.say). */
  say(text: string): Promise<void>;
  /** The agent's last words (Dialogue.finalWords, no interruption); resolves once played. */
  finalWords(text: string): Promise<void>;
  /** End the call the way end_call does (stream closed, REST hang-up). */
  hangUp(reason: string): void;
  log: Logger;
  /** Longest wait for the goodbye to be played before hanging up anyway. Default 30 s. */
  goodbyeTimeoutMs?: number;
}

export class IdleWatch {
  readonly #o: IdleWatchOptions;
  #quietSince = Date.now();
  #callerSpeaking = false;
  #prompted = false;
  #prompting = false;
  #closing = false;
  #stopped = false;
  #tick: NodeJS.Timeout | null = null;
  #maxTimer: NodeJS.Timeout | null = null;

  constructor(options: IdleWatchOptions) {
    this.#o = options;
  }

  start(): void {
    const { repromptMs, hangupMs, maxCallMs } = this.#o;
    this.#quietSince = Date.now();
    const idleLimits = [repromptMs, hangupMs].filter((ms) => ms > 0);
    if (idleLimits.length > 0) {
      // Checked a few times per limit: precise enough for seconds-long limits, cheap for a call.
      const every = Math.max(20, Math.min(250, Math.floor(Math.min(...idleLimits) / 10)));
      this.#tick = setInterval(() => this.#check(), every);
      this.#tick.unref?.();
    }
    if (maxCallMs > 0) {
      this.#maxTimer = setTimeout(() => this.#close(this.#o.maxGoodbye, MAX_LENGTH_REASON), maxCallMs);
      this.#maxTimer.unref?.();
    }
  }

  /** The caller started (or went on) speaking. */
  callerSpeaking(): void {
    this.#callerSpeaking = true;
    this.#heard();
  }

  /** The caller's turn ended. */
  callerDone(): void {
    this.#callerSpeaking = false;
    this.#heard();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tick) clearInterval(this.#tick);
    if (this.#maxTimer) clearTimeout(this.#maxTimer);
    this.#tick = this.#maxTimer = null;
  }

  #heard(): void {
    this.#quietSince = Date.now();
    this.#prompted = false;
  }

  #check(): void {
    if (this.#stopped || this.#closing) return;
    const o = this.#o;
    const idle = o.agentIdle();
    // The agent's own question does not count as activity; anything else it does holds the clock.
    if (this.#callerSpeaking || (!idle && !this.#prompting)) {
      this.#quietSince = Date.now();
      return;
    }
    if (!idle) return;
    const quiet = Date.now() - this.#quietSince;
    if (o.hangupMs > 0 && quiet >= o.hangupMs) {
      o.log.info('idle caller: hanging up', { quietMs: quiet });
      this.#close(o.idleGoodbye, IDLE_REASON);
      return;
    }
    if (o.repromptMs > 0 && !this.#prompted && quiet >= o.repromptMs && (o.hangupMs === 0 || o.repromptMs < o.hangupMs)) {
      this.#prompted = true;
      this.#prompting = true;
      o.log.info('idle caller: asking if they are still there', { quietMs: quiet });
      o.say(o.prompt)
        .catch((err: unknown) => o.log.warn('the idle question failed', { error: errorMessage(err) }))
        .finally(() => {
          this.#prompting = false;
        });
    }
  }

  /** Say the goodbye (bounded in time), then hang up with `reason`. */
  #close(goodbye: string, reason: string): void {
    if (this.#stopped || this.#closing) return;
    this.#closing = true;
    const o = this.#o;
    if (reason === MAX_LENGTH_REASON) o.log.info('the call reached its longest length: hanging up', { maxCallMs: o.maxCallMs });
    let timer: NodeJS.Timeout | null = null;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, o.goodbyeTimeoutMs ?? 30_000);
      timer.unref?.();
    });
    const said = goodbye.trim() ? o.finalWords(goodbye).catch((err: unknown) => o.log.warn('the goodbye failed', { error: errorMessage(err) })) : Promise.resolve();
    void Promise.race([said, bound]).then(() => {
      if (timer) clearTimeout(timer);
      this.stop();
      o.hangUp(reason);
    });
  }
}
