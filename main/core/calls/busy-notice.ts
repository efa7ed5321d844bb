/**
 * A call beyond PARLEY_MAX_CALLS: instead of the agent it hears a short bundled "all lines are busy" clip
 * (main/core/assets/busy-notice.wav, made by generate-busy-notice.sh next to it), sent as media frames and a
 * mark; once Twilio echoes the mark (the caller heard it all) — or a timeout passes — the stream is closed,
 * which ends a `<Connect><Stream>` call (there is no verb after it), and the call is also completed through the
 * REST API when Twilio is set up. It takes no plugin leases and runs no model: the models are busy.
 *
 * It stands in the call registry like a session (so a final status, a hang-up or shutdown end it, and a second
 * stream for the call is still refused), marked `busy`: it is not a call in use and not listed as a live call.
 */
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseWav } from '../audio/wav.ts';
import { APP_ROOT } from '../config-schema.ts';
import { errorMessage, isParleyError } from '../errors.ts';
import type { AgentState, CallDirection, CallPlugins, CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import { FrameEncoder, MediaStreamWriter, type OutboundFrame } from '../twilio/media-stream.ts';
import type { LiveSession, StreamSocket } from './call-registry.ts';

/** The bundled clip (8 kHz μ-law WAV), found from the app root in development and in the bundles alike. */
export const BUSY_NOTICE_WAV = resolve(APP_ROOT, 'main', 'core', 'assets', 'busy-notice.wav');

/** The mark sent after the clip: its echo means the caller heard the whole notice. */
export const BUSY_MARK = 'busy-notice-end';

/** `call.ended` reason of a call refused for capacity (the call records keep it as `end_reason`). */
export const BUSY_REASON = 'busy';

const FRAME_MS = 20;

/** The clip as outbound frames: read per refused call (a few KB; refusals are rare and cheap). */
export function loadBusyNotice(path = BUSY_NOTICE_WAV): OutboundFrame[] {
  const wav = parseWav(readFileSync(path), path);
  const encoder = new FrameEncoder();
  return [...encoder.push(wav.samples, wav.sampleRate), ...encoder.flush()];
}

export interface BusyNoticeOptions {
  callSid: string;
  streamSid: string;
  direction: CallDirection;
  from: string | null;
  to: string | null;
  socket: StreamSocket;
  events: CoreEvents;
  log: Logger;
  /** How many calls are being served (for the log line and the GUI's message). */
  capacity: number;
  /** Complete the call through Twilio's REST API (throws NOT_CONFIGURED / CALL_NOT_FOUND for a simulated call). */
  hangup(): Promise<void>;
  /** The stream is over: the registry forgets it. */
  onEnded(): void;
  /** Waited for the mark's echo beyond the clip's own length before hanging up anyway. Default 3 s. */
  markGraceMs?: number;
  /** The clip (tests pass a short one); default: the bundled notice. */
  frames?(): OutboundFrame[];
}

export class BusyNotice implements LiveSession {
  readonly busy = true;
  readonly callSid: string;
  readonly streamSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt = Date.now();
  readonly state: AgentState = 'speaking';
  readonly plugins: CallPlugins = { stt: '', llm: '', tts: '' };
  readonly #o: BusyNoticeOptions;
  #timer: NodeJS.Timeout | null = null;
  #ended = false;

  constructor(options: BusyNoticeOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.direction = options.direction;
    this.from = options.from;
    this.to = options.to;
  }

  /** Send the whole clip and its mark (no barge-in to honour, so no pacing), then wait for the echo. */
  start(): void {
    const o = this.#o;
    o.log.warn(`call refused: all ${o.capacity} lines are busy (PARLEY_MAX_CALLS = ${o.capacity}); playing the busy notice, then hanging up`);
    let frames: OutboundFrame[] = [];
    try {
      frames = (o.frames ?? loadBusyNotice)();
    } catch (err) {
      // A broken install: hang up at once rather than leave the caller in silence.
      o.log.error('busy notice missing; hanging up without it', { path: BUSY_NOTICE_WAV, error: errorMessage(err) });
      this.#hangUp(BUSY_REASON);
      return;
    }
    const writer = new MediaStreamWriter(this.streamSid, o.socket.send);
    for (const f of frames) writer.media(f);
    writer.mark(BUSY_MARK);
    this.#timer = setTimeout(() => {
      o.log.warn('busy notice: no mark echo in time; hanging up');
      this.#hangUp(BUSY_REASON);
    }, frames.length * FRAME_MS + (o.markGraceMs ?? 3_000));
    this.#timer.unref?.();
  }

  // The media socket's CallHandler: the caller's audio and keys are not listened to.
  onMedia(): void {}
  onDtmf(): void {}
  onMark(name: string): void {
    if (name === BUSY_MARK) this.#hangUp(BUSY_REASON);
  }

  interrupt(): void {}

  /** Ended from elsewhere (the caller hung up, a final status, shutdown): the notice stops where it is. */
  end(reason: string): void {
    this.#finish(reason === BUSY_REASON ? BUSY_REASON : `${BUSY_REASON}: ${reason}`);
  }

  /** Heard (or timed out): close the stream — which ends a <Connect><Stream> call — and complete it at Twilio. */
  #hangUp(reason: string): void {
    if (this.#ended) return;
    this.#finish(reason);
    this.#o.socket.close('all lines are busy');
    this.#o.hangup().catch((err) => {
      // No Twilio behind a simulated call; a call already over is fine too.
      if (isParleyError(err, 'NOT_CONFIGURED') || isParleyError(err, 'CALL_NOT_FOUND')) this.#o.log.debug('busy call not completed through the REST API', { error: errorMessage(err) });
      else this.#o.log.warn('could not complete the busy call through the REST API (closing its stream ends it anyway)', { error: errorMessage(err) });
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
    o.events.emit({
      type: 'call.error',
      callSid: this.callSid,
      code: 'BUSY',
      message:
        `A call from ${o.from ?? 'an unknown number'} was refused: all ${o.capacity} lines were busy (setting PARLEY_MAX_CALLS). ` +
        (reason === BUSY_REASON ? 'The caller heard the busy notice and was hung up.' : `It ended during the busy notice (${reason.slice(BUSY_REASON.length + 2)}).`),
      at: endedAt,
    });
    o.onEnded();
  }
}
