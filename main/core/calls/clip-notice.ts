/**
 * A call the agent does not take (all lines busy: busy-notice.ts; a needed plugin cannot start: not-ready.ts)
 * hears a short bundled clip instead, sent as 20 ms μ-law media frames and a mark; once Twilio echoes the mark
 * (the caller heard it all) — or a timeout passes — the stream is closed, which ends a `<Connect><Stream>` call
 * (there is no verb after it), and the call is also completed through the REST API when Twilio is set up. It
 * takes no plugin leases and runs no model.
 *
 * It stands in the call registry like a session (so a final status, a hang-up or shutdown end it, and a second
 * stream for the call is still refused), marked `busy`: it is not a call in use and not listed as a live call.
 */
import { readFileSync } from 'node:fs';
import { parseWav } from '../audio/wav.ts';
import { errorMessage, isParleyError } from '../errors.ts';
import type { AgentState, CallDirection, CallPlugins, CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import { FrameEncoder, MediaStreamWriter, type OutboundFrame } from '../twilio/media-stream.ts';
import type { LiveSession, StreamSocket } from './call-registry.ts';

const FRAME_MS = 20;

/** A bundled clip (8 kHz μ-law WAV) as outbound frames: read per call it plays to (a few KB; such calls are rare). */
export function loadClip(path: string): OutboundFrame[] {
  const wav = parseWav(readFileSync(path), path);
  const encoder = new FrameEncoder();
  return [...encoder.push(wav.samples, wav.sampleRate), ...encoder.flush()];
}

/** What one kind of notice says and does. */
export interface NoticeKind {
  /** `call.ended` reason (the call records keep it as `end_reason`); "REASON: why" when ended during the clip. */
  reason: string;
  /** The mark sent after the clip: its echo means the caller heard the whole notice. */
  mark: string;
  /** The bundled clip's path (named in the log when it is missing). */
  clip: string;
  /** Logged as a warning when the notice starts. */
  startLine: string;
  /** What the call is called in log lines ("busy", "not-ready"). */
  label: string;
  /** Sent with the socket's close. */
  closeText: string;
  /** The `call.error` said after `call.ended`: how the call ended (`heard`: the whole clip, or why not). */
  error(heard: boolean, reason: string): { code: string; message: string };
}

export interface ClipNoticeOptions {
  callSid: string;
  streamSid: string;
  direction: CallDirection;
  from: string | null;
  to: string | null;
  socket: StreamSocket;
  events: CoreEvents;
  log: Logger;
  kind: NoticeKind;
  /** Complete the call through Twilio's REST API (throws NOT_CONFIGURED / CALL_NOT_FOUND for a simulated call). */
  hangup(): Promise<void>;
  /** The stream is over: the registry forgets it. */
  onEnded(): void;
  /** Waited for the mark's echo beyond the clip's own length before hanging up anyway. Default 3 s. */
  markGraceMs?: number;
  /** The clip (tests pass a short one); default: the kind's bundled clip. */
  frames?(): OutboundFrame[];
}

export class ClipNotice implements LiveSession {
  readonly busy = true;
  readonly callSid: string;
  readonly streamSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt = Date.now();
  readonly state: AgentState = 'speaking';
  readonly plugins: CallPlugins = { stt: '', llm: '', tts: '' };
  readonly #o: ClipNoticeOptions;
  #timer: NodeJS.Timeout | null = null;
  #ended = false;

  constructor(options: ClipNoticeOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.direction = options.direction;
    this.from = options.from;
    this.to = options.to;
  }

  /** Send the whole clip and its mark (no barge-in to honour, so no pacing), then wait for the echo. */
  start(): void {
    const { kind, log } = this.#o;
    log.warn(kind.startLine);
    let frames: OutboundFrame[] = [];
    try {
      frames = (this.#o.frames ?? (() => loadClip(kind.clip)))();
    } catch (err) {
      // A broken install: hang up at once rather than leave the caller in silence.
      log.error(`${kind.label} notice missing; hanging up without it`, { path: kind.clip, error: errorMessage(err) });
      this.#hangUp(kind.reason);
      return;
    }
    const writer = new MediaStreamWriter(this.streamSid, this.#o.socket.send);
    for (const f of frames) writer.media(f);
    writer.mark(kind.mark);
    this.#timer = setTimeout(() => {
      log.warn(`${kind.label} notice: no mark echo in time; hanging up`);
      this.#hangUp(kind.reason);
    }, frames.length * FRAME_MS + (this.#o.markGraceMs ?? 3_000));
    this.#timer.unref?.();
  }

  // The media socket's CallHandler: the caller's audio and keys are not listened to.
  onMedia(): void {}
  onDtmf(): void {}
  onMark(name: string): void {
    if (name === this.#o.kind.mark) this.#hangUp(this.#o.kind.reason);
  }

  interrupt(): void {}

  /** Ended from elsewhere (the caller hung up, a final status, shutdown): the notice stops where it is. */
  end(reason: string): void {
    const own = this.#o.kind.reason;
    this.#finish(reason === own ? own : `${own}: ${reason}`);
  }

  /** Heard (or timed out): close the stream — which ends a <Connect><Stream> call — and complete it at Twilio. */
  #hangUp(reason: string): void {
    if (this.#ended) return;
    this.#finish(reason);
    const { kind, log } = this.#o;
    this.#o.socket.close(kind.closeText);
    this.#o.hangup().catch((err) => {
      // No Twilio behind a simulated call; a call already over is fine too.
      if (isParleyError(err, 'NOT_CONFIGURED') || isParleyError(err, 'CALL_NOT_FOUND')) log.debug(`${kind.label} call not completed through the REST API`, { error: errorMessage(err) });
      else log.warn(`could not complete the ${kind.label} call through the REST API (closing its stream ends it anyway)`, { error: errorMessage(err) });
    });
  }

  #finish(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const endedAt = Date.now();
    const o = this.#o;
    o.events.emit({ type: 'call.ended', callSid: this.callSid, reason, endedAt, durationMs: endedAt - this.startedAt });
    // Said after `call.ended`, so the GUI lists the call as over (never as a live call) and the records,
    // which now know the call, keep the explanation with it.
    const error = o.kind.error(reason === o.kind.reason, reason);
    o.events.emit({ type: 'call.error', callSid: this.callSid, code: error.code, message: error.message, at: endedAt });
    o.onEnded();
  }
}
