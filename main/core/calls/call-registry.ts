/**
 * The one registry of live calls, keyed by callSid: each call's Twilio status, its media stream (the socket)
 * and its session, so dial, hang-up, interrupt and `GET /calls` all read one place. A call is here from the
 * first word Twilio says of it (the dial, the incoming webhook, a status callback) until it is over —
 * including calls that never get a media stream. Fed by status callbacks, the REST API and the media socket;
 * status callbacks may arrive late, twice or out of order, so a status only ever moves forward
 * (queued → initiated → ringing → in-progress → one final status) and a final one sticks, and ends the call's
 * session if it has one.
 *
 * Admission: when signatures are on, a media stream may open only a call that a signed `/voice/incoming` (or
 * Parley's own dial) announced within `ticketMs`, and only once (`announce` / `admit`): a signed upgrade
 * replayed later, or a `start` naming a made-up callSid, finds no ticket.
 *
 * Capacity: `inUse` counts the calls being served (their sessions hold plugins); a call beyond the limit stands
 * here as a busy notice (calls/busy-notice.ts), a session marked `busy` that is neither in use nor listed.
 *
 * Nothing hangs around forever:
 * - answered but no media stream within `streamMs` → hung up through the API, reported as failed with why;
 * - no news while queued/ringing for `ringMs` → Twilio is asked (when it can be); still nothing → failed;
 * - the stream ended but no final status came within `endGraceMs` → over (inbound numbers often have no
 *   status callback configured at all).
 */
import type { LiveCall } from '../../shared/calls.ts';
import type { AgentState, CallDirection, CallPlugins, CallStatus, CallStatusUpdate, CoreEvent } from '../event-bus.ts';
import { ParleyError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';

export const FINAL_STATUSES: readonly CallStatus[] = ['completed', 'busy', 'no-answer', 'failed', 'canceled'];

const RANK: Record<CallStatus, number> = { queued: 0, initiated: 1, ringing: 2, 'in-progress': 3, completed: 4, busy: 4, 'no-answer': 4, failed: 4, canceled: 4 };

export function isFinal(status: CallStatus): boolean {
  return RANK[status] === 4;
}

export type CallUpdate = CallStatusUpdate;

export interface TrackedCall {
  callSid: string;
  status: CallStatus;
  direction: CallDirection | null;
  from: string | null;
  to: string | null;
  /** When Parley first heard of the call. */
  createdAt: number;
  updatedAt: number;
  stream: 'none' | 'live' | 'ended';
}

/** One call's media socket, as the engine sees it. */
export interface StreamSocket {
  /** Send one text frame (dropped once the socket is closing). */
  send(text: string): void;
  /** Close the stream from this side (hung up). */
  close(reason: string): void;
}

/** What the registry needs of a call's session (CallSession; tests pass a stand-in). */
export interface LiveSession {
  readonly callSid: string;
  readonly streamSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt: number;
  readonly state: AgentState;
  readonly plugins: CallPlugins;
  /** A call refused for capacity, hearing the busy notice: holds no plugins, not a call in use, not listed. */
  readonly busy?: boolean;
  interrupt(source: 'manual'): void;
  /** A private note for the agent's next reply (Dialogue.whisper); returns that turn's number. */
  whisper?(text: string): number;
  /** The person at the desk has the call (CallSession.takeOver / handBack / deskAudio). */
  readonly takenOver?: boolean;
  takeOver?(): boolean;
  handBack?(): boolean;
  deskAudio?(mulaw: Uint8Array): boolean;
  /** Both directions' audio as it flows (for Listen). */
  readonly tap?: { subscribe(listener: (frame: { track: 'inbound' | 'outbound'; offsetMs: number; mulaw: Uint8Array }) => void): () => void };
  end(reason: string): void;
}

export interface CallTimeouts {
  /** Queued/initiated/ringing with no news for this long: ask Twilio, then give up. Default 120 s. */
  ringMs: number;
  /** Longest a call may stay unanswered while Twilio still says it rings (Twilio's own maximum is 600 s). */
  maxRingMs: number;
  /** Answered, but no media stream for this long: hang up. Default 20 s. */
  streamMs: number;
  /** Stream over, no final status for this long: consider the call over. Default 15 s. */
  endGraceMs: number;
  /** How long finished calls are remembered, to drop late duplicate callbacks. Default 10 min. */
  keepFinishedMs: number;
  /** How long an announced call may wait for its one media stream. Default 5 min. */
  ticketMs: number;
}

export const DEFAULT_CALL_TIMEOUTS: CallTimeouts = { ringMs: 120_000, maxRingMs: 660_000, streamMs: 20_000, endGraceMs: 15_000, keepFinishedMs: 600_000, ticketMs: 300_000 };

/** Admission tickets kept at most (oldest dropped first): a flood of webhooks can't grow memory without bound. */
const MAX_TICKETS = 10_000;

export interface CallRegistryOptions {
  emit(event: CoreEvent): void;
  log: Logger;
  /** Twilio's current status of a call (REST), or null when Parley can't ask. */
  lookup?(callSid: string): Promise<CallStatus | null>;
  /** Hang up through the REST API (answered calls whose stream never came). */
  hangup?(callSid: string): Promise<void>;
  /** For messages: where Twilio should be reaching this app. */
  publicUrl(): string;
  timeouts?: Partial<CallTimeouts>;
  now?: () => number;
}

interface Entry extends TrackedCall {
  timer: NodeJS.Timeout | null;
  /** The media stream and its session, while the stream runs. */
  live: { session: LiveSession; socket: StreamSocket | null } | null;
}

const notFound = (callSid: string) => new ParleyError('CALL_NOT_FOUND', `no live call ${callSid}. GET /calls lists the live calls.`);

interface Finished {
  status: CallStatus;
  at: number;
  /** Ended by Parley's own timeout, not by a status from Twilio: Twilio's word may still correct it. */
  synthetic: boolean;
}

export class CallRegistry {
  readonly #o: CallRegistryOptions;
  readonly #t: CallTimeouts;
  readonly #now: () => number;
  readonly #calls = new Map<string, Entry>();
  readonly #finished = new Map<string, Finished>();
  /** callSid → when its admission ticket expires (insertion order = oldest first). */
  readonly #tickets = new Map<string, number>();
  #stopped = false;

  constructor(options: CallRegistryOptions) {
    this.#o = options;
    this.#t = { ...DEFAULT_CALL_TIMEOUTS, ...options.timeouts };
    this.#now = options.now ?? Date.now;
  }

  /** Calls not over yet, oldest first. */
  list(): TrackedCall[] {
    return [...this.#calls.values()].map(tracked);
  }

  get(callSid: string): TrackedCall | null {
    const e = this.#calls.get(callSid);
    return e ? tracked(e) : null;
  }

  /** The live calls as the GUI and `GET /calls` show them: talking ones, then those without a stream yet. */
  live(): LiveCall[] {
    const talking: LiveCall[] = [];
    const waiting: LiveCall[] = [];
    for (const e of this.#calls.values()) {
      const s = e.live?.session;
      if (s?.busy) continue;
      if (s) talking.push({ callSid: s.callSid, streamSid: s.streamSid, direction: s.direction, from: s.from, to: s.to, startedAt: s.startedAt, state: s.state, plugins: s.plugins, status: e.status, ...(s.takenOver ? { takenOver: true } : {}) });
      // A call whose stream ended is over for the user, even while its final status is awaited.
      else if (e.stream === 'none') waiting.push({ callSid: e.callSid, streamSid: null, direction: e.direction ?? 'inbound', from: e.from, to: e.to, startedAt: e.createdAt, state: null, plugins: null, status: e.status });
    }
    return [...talking, ...waiting];
  }

  /** How many calls have a media stream running. */
  get streams(): number {
    let n = 0;
    for (const e of this.#calls.values()) if (e.live) n++;
    return n;
  }

  /** Calls being served now (a media stream with a session, not a busy notice): what PARLEY_MAX_CALLS limits. */
  get inUse(): number {
    let n = 0;
    for (const e of this.#calls.values()) if (e.live && !e.live.session.busy) n++;
    return n;
  }

  /** Complete a call through Twilio's REST API (the busy notice's hang-up); rejects when Parley can't. */
  async completeAtTwilio(callSid: string): Promise<void> {
    if (!this.#o.hangup) throw new ParleyError('NOT_CONFIGURED', 'no Twilio REST API here');
    await this.#o.hangup(callSid);
  }

  /** The call's session while its stream runs. */
  session(callSid: string): LiveSession | null {
    return this.#calls.get(callSid)?.live?.session ?? null;
  }

  /** Stop the agent talking on a live call (`POST /calls/:sid/interrupt`). */
  interrupt(callSid: string): void {
    const session = this.session(callSid);
    if (!session) throw notFound(callSid);
    session.interrupt('manual');
  }

  /** Whisper a note to the agent on a live call (`POST /calls/:sid/whisper`); returns the turn it is for. */
  whisper(callSid: string, text: string): { turnId: number } {
    const session = this.session(callSid);
    if (!session?.whisper || session.busy) throw notFound(callSid);
    return { turnId: session.whisper(text) };
  }

  /** A live call the person at the desk can join (not a busy notice), or NOT_FOUND. */
  deskSession(callSid: string): LiveSession {
    const session = this.session(callSid);
    if (!session?.takeOver || session.busy) throw notFound(callSid);
    return session;
  }

  /**
   * The person at the desk takes a live call over (`POST /calls/:sid/takeover`) or hands it back
   * (`POST /calls/:sid/handback`). Returns whether the call is now taken over; asking twice is not an error.
   */
  takeOver(callSid: string, take: boolean): { takenOver: boolean } {
    const session = this.deskSession(callSid);
    if (take) session.takeOver!();
    else session.handBack?.();
    return { takenOver: session.takenOver === true };
  }

  /** End a call's session and close its stream from this side. Returns whether it had one. */
  endStream(callSid: string, reason: string): boolean {
    const live = this.#calls.get(callSid)?.live;
    if (!live) return false;
    live.session.end(reason);
    live.socket?.close(reason);
    return true;
  }

  /** How a finished call ended (for late callbacks and tests), while remembered. */
  finished(callSid: string): { status: CallStatus; synthetic: boolean } | null {
    const f = this.#finished.get(callSid);
    return f ? { status: f.status, synthetic: f.synthetic } : null;
  }

  /**
   * A status from Twilio (callback, webhook, REST answer). Returns whether it changed anything; a change is
   * emitted as `call.status`. Stale, duplicate and backward updates are dropped.
   */
  update(u: CallUpdate): boolean {
    if (this.#stopped) return false;
    const now = this.#now();
    const done = this.#finished.get(u.callSid);
    if (done && !this.#calls.has(u.callSid)) {
      // Twilio's own final word corrects a call Parley had given up on; anything else is a late echo.
      if (!(done.synthetic && isFinal(u.status))) return false;
      this.#finished.set(u.callSid, { status: u.status, at: now, synthetic: false });
      this.#emitStatus(u);
      return true;
    }
    let e = this.#calls.get(u.callSid);
    if (!e) {
      e = { callSid: u.callSid, status: u.status, direction: u.direction ?? null, from: u.from ?? null, to: u.to ?? null, createdAt: now, updatedAt: now, stream: 'none', timer: null, live: null };
      this.#calls.set(u.callSid, e);
    } else {
      if (RANK[u.status] < RANK[e.status] || u.status === e.status) {
        this.#o.log.debug('call status ignored (not newer)', { callSid: u.callSid, status: u.status, current: e.status });
        return false;
      }
      e.status = u.status;
      e.updatedAt = now;
      e.direction ??= u.direction ?? null;
      e.from ??= u.from ?? null;
      e.to ??= u.to ?? null;
    }
    this.#emitStatus(u);
    if (isFinal(u.status)) {
      const live = e.live;
      this.#finish(e, u.status, false);
      // The call is over at Twilio: end its session and close its stream, if it still has them.
      live?.session.end(`status ${u.status}`);
      live?.socket?.close(`call ${u.status}`);
    } else this.#schedule(e);
    return true;
  }

  /** A signed `/voice/incoming` or Parley's own dial named this call: it may open one media stream, soon. */
  announce(callSid: string): void {
    if (this.#stopped) return;
    const now = this.#now();
    for (const [sid, expires] of this.#tickets) {
      if (expires > now && this.#tickets.size < MAX_TICKETS) break;
      this.#tickets.delete(sid);
    }
    this.#tickets.delete(callSid);
    this.#tickets.set(callSid, now + this.#t.ticketMs);
  }

  /** Take the call's admission ticket: true once per announcement, within `ticketMs`; false otherwise. */
  admit(callSid: string): boolean {
    const expires = this.#tickets.get(callSid);
    this.#tickets.delete(callSid);
    return expires !== undefined && expires > this.#now();
  }

  /**
   * The call's media stream started (it is answered and talking). Throws when the call already has one: a
   * second stream for a call is refused.
   */
  streamStarted(session: LiveSession, socket: StreamSocket | null = null): void {
    if (this.#stopped) throw new ParleyError('INTERNAL', 'the core is stopping');
    const c = session;
    if (this.#calls.get(c.callSid)?.live) throw new ParleyError('BAD_REQUEST', `call ${c.callSid} already has a media stream`);
    const now = this.#now();
    this.#finished.delete(c.callSid);
    let e = this.#calls.get(c.callSid);
    if (!e) {
      e = { callSid: c.callSid, status: 'in-progress', direction: c.direction, from: c.from, to: c.to, createdAt: now, updatedAt: now, stream: 'live', timer: null, live: null };
      this.#calls.set(c.callSid, e);
    }
    e.live = { session, socket };
    e.stream = 'live';
    if (RANK[e.status] < RANK['in-progress']) e.status = 'in-progress';
    e.updatedAt = now;
    this.#schedule(e);
  }

  /** The session's media stream is gone (stop, socket closed, hung up). */
  streamEnded(session: LiveSession): void {
    const e = this.#calls.get(session.callSid);
    if (!e || e.live?.session !== session || this.#stopped) return;
    e.live = null;
    e.stream = 'ended';
    e.updatedAt = this.#now();
    this.#schedule(e);
  }

  /** Shutdown: end every live session, cancel every timer. */
  stop(reason = 'server stopping'): void {
    for (const e of [...this.#calls.values()]) e.live?.session.end(reason);
    this.#stopped = true;
    for (const e of this.#calls.values()) if (e.timer) clearTimeout(e.timer);
    this.#calls.clear();
    this.#tickets.clear();
  }

  #emitStatus(u: CallUpdate): void {
    this.#o.emit({
      type: 'call.status',
      callSid: u.callSid,
      status: u.status,
      ...(u.direction ? { direction: u.direction } : {}),
      ...(u.from !== undefined ? { from: u.from } : {}),
      ...(u.to !== undefined ? { to: u.to } : {}),
      ...(u.durationSec !== undefined ? { durationSec: u.durationSec } : {}),
      ...(u.errorCode ? { errorCode: u.errorCode } : {}),
      at: this.#now(),
    });
  }

  #finish(e: Entry, status: CallStatus, synthetic: boolean): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    this.#calls.delete(e.callSid);
    const now = this.#now();
    this.#finished.set(e.callSid, { status, at: now, synthetic });
    for (const [sid, f] of this.#finished) {
      if (now - f.at < this.#t.keepFinishedMs && this.#finished.size <= 5_000) break;
      this.#finished.delete(sid);
    }
  }

  /** Parley gives up on a call: say why (call.error), then report it failed. */
  #giveUp(e: Entry, code: string, message: string): void {
    this.#o.log.warn(message, { callSid: e.callSid, status: e.status });
    this.#o.emit({ type: 'call.error', callSid: e.callSid, code, message, at: this.#now() });
    this.#o.emit({ type: 'call.status', callSid: e.callSid, status: 'failed', ...(e.direction ? { direction: e.direction } : {}), at: this.#now() });
    this.#finish(e, 'failed', true);
  }

  #schedule(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    const later = (ms: number, fn: () => void | Promise<void>) => {
      e.timer = setTimeout(() => {
        e.timer = null;
        if (this.#calls.get(e.callSid) === e && !this.#stopped) void fn();
      }, ms);
      e.timer.unref?.();
    };
    if (e.stream === 'live') return;
    if (e.stream === 'ended') {
      later(this.#t.endGraceMs, () => this.#finish(e, 'completed', true));
      return;
    }
    const base = this.#o.publicUrl() || '<public URL>';
    if (e.status === 'in-progress') {
      later(this.#t.streamMs, async () => {
        const message =
          `Twilio answered call ${e.callSid} but its media stream never connected within ${Math.round(this.#t.streamMs / 1000)} s, so it was hung up. ` +
          `Check that ${base.replace(/^http/, 'ws')}/media is reachable from the internet (the tunnel / your proxy must pass WebSocket upgrades) and that the log shows no refused signature.`;
        this.#giveUp(e, 'STREAM_TIMEOUT', message);
        try {
          await this.#o.hangup?.(e.callSid);
        } catch (err) {
          this.#o.log.warn('could not hang up the call whose stream never came', { callSid: e.callSid, error: errorMessage(err) });
        }
      });
      return;
    }
    later(this.#t.ringMs, async () => {
      let twilioSays: CallStatus | null = null;
      try {
        twilioSays = (await this.#o.lookup?.(e.callSid)) ?? null;
      } catch (err) {
        this.#o.log.warn('could not ask Twilio for a quiet call\'s status', { callSid: e.callSid, error: errorMessage(err) });
      }
      if (this.#calls.get(e.callSid) !== e) return; // news arrived meanwhile
      if (twilioSays && RANK[twilioSays] > RANK[e.status]) {
        this.update({ callSid: e.callSid, status: twilioSays });
        return;
      }
      if (twilioSays && !isFinal(twilioSays) && this.#now() - e.createdAt < this.#t.maxRingMs) {
        this.#schedule(e); // Twilio says it still rings: wait another round
        return;
      }
      this.#giveUp(
        e,
        'NO_STATUS',
        `No news from Twilio about call ${e.callSid} for ${Math.round((this.#now() - e.updatedAt) / 1000)} s (last status: ${e.status}); Parley stopped tracking it. ` +
          `Status callbacks go to ${base}/voice/status: check that it is reachable from the internet.`,
      );
    });
  }
}

function tracked(e: Entry): TrackedCall {
  const { timer: _timer, live: _live, ...c } = e;
  return c;
}
