/**
 * One phone call: everything it owns lives here and nowhere else, so two calls can never hear or see each
 * other's audio, text or history. The session is the shell that joins the call's parts:
 *
 *   media socket ─ InboundAudio (16 kHz) ─▶ Hearing ─ turn start / turn end ─▶ Dialogue ─▶ Speech ─▶ Playout
 *        ▲                                                                                            │
 *        └────────────── MediaStreamWriter (media + mark + clear, with the streamSid) ◀───────────────┘
 *
 * and the AudioTap, which carries both directions' frames to the recorder (never the event bus).
 */
import type { VadStream } from '../audio/vad/types.ts';
import { errorMessage } from '../errors.ts';
import type { AgentState, CallDirection, CallPlugins, CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ChatMessage } from '../plugins/api.ts';
import type { Lease } from '../plugins/registry.ts';
import { MediaStreamWriter, type InboundAudio } from '../twilio/media-stream.ts';
import { AudioTap } from '../audio/audio-tap.ts';
import type { ConversationSettings } from './conversation-settings.ts';
import { decodeFloat } from '../audio/mulaw.ts';
import { Dialogue } from './dialogue.ts';
import { EchoGuard } from './echo-guard.ts';
import { Hearing } from './hearing.ts';
import type { PacingStats } from './pacing-stats.ts';
import { Playout } from './playout.ts';
import type { CallTools } from '../tools/call-tools.ts';
import { IdleWatch } from './idle-watch.ts';
import { Resampler } from '../audio/resample.ts';
import { SAMPLE_RATE } from '../audio/frames.ts';
import { INBOUND_RATE } from '../twilio/media-stream.ts';

export interface CallSessionOptions {
  callSid: string;
  streamSid: string;
  direction: CallDirection;
  from: string | null;
  to: string | null;
  customParameters: Record<string, string>;
  /** The model each plugin runs, for the records. */
  models?: Partial<Record<'stt' | 'llm' | 'tts', string | null>>;
  /** Send one text frame on the call's WebSocket. */
  send(text: string): void;
  events: CoreEvents;
  log: Logger;
  vad: VadStream;
  leases: { stt: Lease<'stt'>; llm: Lease<'llm'>; tts: Lease<'tts'>; turn?: Lease<'turn'> | null };
  /** The call's tools (their plugin leases are released with the others when the call ends). */
  tools?: CallTools | null;
  settings: ConversationSettings;
  /** Shared outbound pacing statistics. */
  pacing?: PacingStats;
  /** Called once when the call ends (after its leases are released and call.ended is emitted). */
  onEnded?(reason: string): void;
  now?: () => number;
  /** Coming back to the agent after an unanswered transfer: the conversation so far, and its last turn. */
  resume?: { history: readonly ChatMessage[]; lastTurnId: number };
  /** End the call from this side (the idle watch, the longest call): the way end_call does. Default: end(). */
  hangUp?(reason: string): void;
  /** Keys pressed within this long of each other are one turn ("[the caller pressed 1 2 3]"). Default 1000 ms. */
  dtmfGapMs?: number;
  /** A VAD stream of its own for the desk's mic when the person at the desk takes the call over (null: not transcribed). */
  deskVad?: () => VadStream | null;
}

/** One 20 ms frame of 8 kHz μ-law: what the desk's mic sends while it has the call. */
export const DESK_FRAME_BYTES = 160;

export class CallSession {
  readonly callSid: string;
  readonly streamSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt = Date.now();
  /** Both directions' audio, for the recorder (and live listening). */
  readonly tap: AudioTap;
  readonly #o: CallSessionOptions;
  readonly #log: Logger;
  readonly #call = new AbortController();
  readonly #playout: Playout;
  readonly #hearing: Hearing;
  readonly #dialogue: Dialogue;
  readonly #idle: IdleWatch;
  #inboundMs = 0;
  #ended = false;
  #keys: string[] = [];
  #keysTimer: NodeJS.Timeout | null = null;
  /** Hears the desk's mic while it has the call (made on the first take-over): its words join the transcript. */
  #desk: { hearing: Hearing; up: Resampler } | null = null;

  constructor(options: CallSessionOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.direction = options.direction;
    this.from = options.from;
    this.to = options.to;
    this.#log = options.log;
    const now = options.now ?? (() => performance.now());
    const s = options.settings;
    this.tap = new AudioTap((err) => this.#log.error('an audio tap listener failed and was removed', { error: errorMessage(err) }));
    const writer = new MediaStreamWriter(options.streamSid, (text) => {
      if (!this.#ended) options.send(text);
    });
    // The echo guard hears what Twilio plays, where it plays it, and forgets what a `clear` dropped.
    const echo = s.echoGuard ? new EchoGuard({ sampleRate: 16000 }) : null;
    this.#playout = new Playout({
      stream: writer,
      leadMs: s.leadMs,
      stats: options.pacing,
      now,
      onFrame: (mulaw, offsetMs) => {
        this.tap.push({ track: 'outbound', offsetMs, mulaw });
        echo?.played(decodeFloat(mulaw), offsetMs);
      },
      onClear: (atMs) => echo?.cancel(atMs),
    });
    this.#hearing = new Hearing(
      { callSid: options.callSid, vad: options.vad, stt: options.leases.stt, turn: options.leases.turn ?? null, echo, settings: s, log: this.#log, signal: this.#call.signal, now },
      {
        turnStart: () => {
          this.#idle.callerSpeaking();
          this.#dialogue.callerTurnStarted();
        },
        pause: (u) => this.#dialogue.prepare(u),
        resume: () => {
          this.#idle.callerSpeaking();
          this.#dialogue.resumed();
        },
        end: (u, how) => {
          this.#idle.callerDone();
          void this.#dialogue.respond(u, how);
        },
      },
    );
    this.#dialogue = new Dialogue({
      callSid: options.callSid,
      hearing: this.#hearing,
      playout: this.#playout,
      leases: options.leases,
      settings: s,
      events: options.events,
      log: this.#log,
      signal: this.#call.signal,
      now,
      tools: options.tools ?? null,
      ...(options.resume ? { history: options.resume.history, firstTurnId: options.resume.lastTurnId } : {}),
    });
    this.#idle = this.#idleWatch(s);
  }

  // Idle caller and longest call (issue 14 §3).
  #idleWatch(s: ConversationSettings): IdleWatch {
    return new IdleWatch({
      // Settings made before these existed (tests' own) leave them off.
      repromptMs: s.idleRepromptMs ?? 0,
      hangupMs: s.idleHangupMs ?? 0,
      maxCallMs: s.maxCallMs ?? 0,
      prompt: s.idlePrompt ?? '',
      idleGoodbye: s.idleGoodbye ?? '',
      maxGoodbye: s.maxCallGoodbye ?? '',
      agentIdle: () => this.#dialogue.idle,
      say: (text) => this.#dialogue.say(text),
      finalWords: (text) => this.finalWords(text, { interrupt: false }),
      hangUp: (reason) => (this.#o.hangUp ? this.#o.hangUp(reason) : this.end(reason)),
      log: this.#log,
    });
  }

  get state(): AgentState {
    return this.#dialogue.state;
  }

  get plugins(): CallPlugins {
    const { stt, llm, tts, turn } = this.#o.leases;
    return { stt: stt.name, llm: llm.name, tts: tts.name, ...(turn ? { turn: turn.name } : {}) };
  }

  /** The LLM's view of the conversation (what the caller actually heard of the agent). */
  get history(): readonly ChatMessage[] {
    return this.#dialogue.history;
  }

  get ended(): boolean {
    return this.#ended;
  }

  start(): void {
    const o = this.#o;
    o.events.emit({
      type: 'call.started',
      callSid: this.callSid,
      streamSid: this.streamSid,
      direction: o.direction,
      from: o.from,
      to: o.to,
      startedAt: this.startedAt,
      customParameters: o.customParameters,
      plugins: this.plugins,
      models: o.models ?? {},
    });
    this.#dialogue.start();
    this.#idle.start();
  }

  /** One inbound media frame, decoded by the wire module. */
  onMedia(audio: InboundAudio): void {
    if (this.#ended) return;
    const offsetMs = audio.timestampMs ?? this.#inboundMs;
    this.#inboundMs = offsetMs + audio.mulaw.length / 8;
    this.tap.push({ track: 'inbound', offsetMs, mulaw: audio.mulaw });
    this.#hearing.hear(audio.samples);
  }

  onMark(name: string): void {
    if (!this.#playout.onMark(name)) this.#log.debug('mark echo ignored (cleared or unknown)', { mark: name });
  }

  onDtmf(digit: string): void {
    this.#log.info('dtmf', { digit });
    this.#o.events.emit({ type: 'call.dtmf', callSid: this.callSid, digit, at: Date.now() });
    if (this.#ended) return;
    // The LLM reads the keys as the caller's turn, once they stop pressing.
    this.#keys.push(digit);
    if (this.#keysTimer) clearTimeout(this.#keysTimer);
    this.#keysTimer = setTimeout(() => {
      this.#keysTimer = null;
      const keys = this.#keys.splice(0);
      void this.#dialogue.respondToText(`[the caller pressed ${keys.join(' ')}]`);
    }, this.#o.dtmfGapMs ?? 1000);
  }

  /** The last turn's number. */
  get turnId(): number {
    return this.#dialogue.turnId;
  }

  /** The agent's last words before a transfer or a voicemail hang-up (see Dialogue.finalWords). */
  finalWords(text: string, options: { interrupt: boolean }): Promise<void> {
    return this.#ended ? Promise.resolve() : this.#dialogue.finalWords(text, options);
  }

  /** The call did not move on after all (a failed transfer): the agent answers the caller again. */
  reopen(): void {
    this.#dialogue.reopen();
  }

  /** Play non-speech audio (DTMF tones) after what is queued; true once Twilio confirms it was played. */
  sendAudio(frames: Uint8Array[], timeoutMs: number): Promise<boolean> {
    return this.#ended ? Promise.resolve(false) : this.#dialogue.sendAudio(frames, timeoutMs);
  }

  /** A private note for the agent's next reply, never spoken (Dialogue.whisper); returns that turn's number. */
  whisper(text: string): number {
    return this.#ended ? this.#dialogue.turnId : this.#dialogue.whisper(text);
  }

  get takenOver(): boolean {
    return this.#dialogue.takenOver;
  }

  /**
   * The person at the desk takes the call (`POST /calls/:sid/takeover`): the agent stops at once and answers
   * nothing; `deskAudio` frames go to the caller and are transcribed. False if it already was (or the call ended).
   */
  takeOver(): boolean {
    if (this.#ended || !this.#dialogue.takeOver()) return false;
    if (!this.#desk) {
      const vad = this.#o.deskVad?.() ?? null;
      if (vad) {
        const s = this.#o.settings;
        const hearing = new Hearing(
          { callSid: this.callSid, vad, stt: this.#o.leases.stt, turn: null, echo: null, settings: s, log: this.#log.child({ side: 'desk' }), signal: this.#call.signal },
          {
            turnStart: () => {},
            end: (u) => {
              hearing.transcribe(u).then(
                ({ text }) => {
                  if (typeof text === 'string') this.#dialogue.deskSaid(text);
                },
                (err: unknown) => {
                  if (!this.#ended) this.#log.warn('could not transcribe the desk', { error: errorMessage(err) });
                },
              );
            },
          },
        );
        this.#desk = { hearing, up: new Resampler(SAMPLE_RATE, INBOUND_RATE) };
      } else this.#log.warn('no VAD for the desk mic: what the person at the desk says is sent but not transcribed');
    }
    return true;
  }

  /** The agent has the call again (`POST /calls/:sid/handback`), with what was said while it was away. */
  handBack(): boolean {
    return !this.#ended && this.#dialogue.handBack();
  }

  /**
   * One 20 ms frame of 8 kHz μ-law from the desk's mic. While the call is taken over it goes to the caller as an
   * ordinary frame (paced like the agent's, recorded as the outbound track) and is heard for the transcript;
   * otherwise it is dropped. Returns whether it was used.
   */
  deskAudio(mulaw: Uint8Array): boolean {
    if (this.#ended || !this.#dialogue.takenOver || mulaw.length !== DESK_FRAME_BYTES) return false;
    this.#dialogue.sendDeskFrame(mulaw);
    if (this.#desk) this.#desk.hearing.hear(this.#desk.up.process(decodeFloat(mulaw)));
    return true;
  }

  /** Stop the agent now: Twilio `clear` (always), cancel LLM/TTS in flight, keep only what was heard. */
  interrupt(source: 'barge-in' | 'manual'): void {
    if (!this.#ended) this.#dialogue.interrupt(source);
  }

  /** End the call (Twilio `stop`, socket closed, hang-up). Idempotent. */
  end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#keysTimer) clearTimeout(this.#keysTimer);
    this.#idle.stop();
    this.#call.abort();
    this.#hearing.close();
    this.#desk?.hearing.close();
    this.#playout.close();
    this.tap.close();
    const { leases } = this.#o;
    // The LLM may free what it kept for this call (its sequence, its KV cache).
    leases.llm.instance.endCall?.(this.callSid)?.catch((err: unknown) => this.#log.debug('the LLM could not free the call', { error: errorMessage(err) }));
    for (const lease of Object.values(leases)) lease?.release();
    this.#o.tools?.release();
    const endedAt = Date.now();
    this.#log.info('call ended', { reason });
    this.#o.events.emit({ type: 'call.ended', callSid: this.callSid, reason, endedAt, durationMs: endedAt - this.startedAt });
    this.#o.onEnded?.(reason);
  }
}
