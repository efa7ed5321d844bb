/**
 * One phone call: everything it owns lives here and nowhere else, so two calls can never hear or see each
 * other's audio, text or history.
 *
 *   caller audio → μ-law decode → 16 kHz → VAD → TurnDetector ─┬─ end of turn → STT → LLM → Speech → Playout
 *                                                              └─ barge-in → clear + abort (keep only what was heard)
 */
import { decodeFloat } from '../audio/mulaw.ts';
import { Resampler } from '../audio/resample.ts';
import type { VadStream } from '../audio/vad/types.ts';
import type { Config } from '../config.ts';
import { errorMessage } from '../errors.ts';
import type { AgentState, CallDirection, CallPlugins, CoreEvents, TurnMetrics } from '../events.ts';
import type { Logger } from '../log.ts';
import type { ChatMessage } from '../plugins/api.ts';
import type { Lease } from '../plugins/registry.ts';
import { clearMessage, markMessage, mediaMessage } from '../twilio/protocol.ts';
import { guardPromise, isCancellation } from './guard.ts';
import type { PacingStats } from './pacing-stats.ts';
import { Playout } from './playout.ts';
import { Speech, type SpeechResult } from './speech.ts';
import { TurnDetector, type Utterance } from './turn-detector.ts';

/** The settings a call takes from the config when it starts (GUI edits apply to the next call). */
export const CONVERSATION_KEYS = [
  'greeting',
  'systemPrompt',
  'maxHistory',
  'silenceMs',
  'minSpeechMs',
  'bargeInMinMs',
  'maxTurnMs',
  'speculativeMs',
  'pluginTimeoutMs',
  'leadMs',
  'apology',
] as const satisfies readonly (keyof Config)[];

export type ConversationSettings = Pick<Config, (typeof CONVERSATION_KEYS)[number]>;

export function conversationSettings(config: Config): ConversationSettings {
  const out = Object.fromEntries(CONVERSATION_KEYS.map((k) => [k, config[k]])) as ConversationSettings;
  // Speculative transcription can't start later than the end of the turn.
  out.speculativeMs = Math.min(out.speculativeMs, out.silenceMs);
  return out;
}

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
  leases: { stt: Lease<'stt'>; llm: Lease<'llm'>; tts: Lease<'tts'> };
  settings: ConversationSettings;
  /** Shared outbound pacing statistics. */
  pacing?: PacingStats;
  /** Called once when the call ends (after its leases are released and call.ended is emitted). */
  onEnded?(reason: string): void;
  now?: () => number;
}

interface Reply {
  turnId: number;
  controller: AbortController;
  speech: Speech | null;
  cancelled: boolean;
}

interface Speculation {
  speechEndMs: number;
  samples: number;
  controller: AbortController;
  startedAt: number;
  promise: Promise<{ text: string }>;
}

export class CallSession {
  readonly callSid: string;
  readonly streamSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt = Date.now();
  readonly #o: CallSessionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #playout: Playout;
  readonly #detector: TurnDetector;
  readonly #upsampler = new Resampler(8000, 16000);
  readonly #call = new AbortController();
  readonly #history: ChatMessage[] = [];
  #vadBuf = new Float32Array(0);
  #vadChain: Promise<void> = Promise.resolve();
  #vadFailed = false;
  #state: AgentState = 'listening';
  #turnId = 0;
  #reply: Reply | null = null;
  #spec: Speculation | null = null;
  #inboundMs = 0;
  #ended = false;

  constructor(options: CallSessionOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.direction = options.direction;
    this.from = options.from;
    this.to = options.to;
    this.#now = options.now ?? (() => performance.now());
    this.#log = options.log;
    const s = options.settings;
    this.#playout = new Playout({
      leadMs: s.leadMs,
      stats: options.pacing,
      now: this.#now,
      send: (m) => {
        if (m.kind === 'media') this.#send(mediaMessage(this.streamSid, m.frame));
        else if (m.kind === 'mark') this.#send(markMessage(this.streamSid, m.name));
        else this.#send(clearMessage(this.streamSid));
      },
      onFrame: (frame, playbackMs) => this.#o.events.emit({ type: 'call.audio', callSid: this.callSid, track: 'outbound', offsetMs: playbackMs, mulaw: frame }),
    });
    this.#detector = new TurnDetector(
      { sampleRate: 16000, silenceMs: s.silenceMs, minSpeechMs: s.minSpeechMs, bargeInMinMs: s.bargeInMinMs, maxTurnMs: s.maxTurnMs, speculativeMs: Math.min(s.speculativeMs, s.silenceMs) },
      {
        turnStart: (info) => {
          if (this.#reply) this.interrupt('barge-in');
          this.#log.debug('caller turn started', { speechMs: info.speechMs });
        },
        pause: (u) => this.#speculate(u),
        resume: () => this.#dropSpeculation(),
        end: (u) => void this.#respond(u),
        discard: (info) => this.#log.debug('ignored a short sound', { speechMs: Math.round(info.speechMs) }),
      },
    );
  }

  get state(): AgentState {
    return this.#state;
  }

  get plugins(): CallPlugins {
    return { stt: this.#o.leases.stt.name, llm: this.#o.leases.llm.name, tts: this.#o.leases.tts.name };
  }

  /** The LLM's view of the conversation (what the caller actually heard of the agent). */
  get history(): readonly ChatMessage[] {
    return this.#history;
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
    this.#emitState('listening');
    if (o.settings.greeting.trim()) void this.#greet();
  }

  #send(text: string): void {
    if (!this.#ended) this.#o.send(text);
  }

  #emitState(state: AgentState): void {
    this.#state = state;
    this.#o.events.emit({ type: 'call.state', callSid: this.callSid, state, at: Date.now() });
  }

  #setState(state: AgentState): void {
    if (state !== this.#state) this.#emitState(state);
  }

  // ── Inbound audio ────────────────────────────────────────────────────────────

  /** One inbound media frame (μ-law bytes). `timestampMs` is Twilio's media.timestamp when present. */
  onMedia(mulaw: Uint8Array, timestampMs: number | null): void {
    if (this.#ended) return;
    const offsetMs = timestampMs ?? this.#inboundMs;
    this.#inboundMs = offsetMs + (mulaw.length / 8000) * 1000;
    this.#o.events.emit({ type: 'call.audio', callSid: this.callSid, track: 'inbound', offsetMs, mulaw });
    const wide = this.#upsampler.process(decodeFloat(mulaw));
    const buf = new Float32Array(this.#vadBuf.length + wide.length);
    buf.set(this.#vadBuf);
    buf.set(wide, this.#vadBuf.length);
    const size = this.#o.vad.windowSamples;
    let off = 0;
    while (buf.length - off >= size) {
      const window = buf.slice(off, off + size);
      off += size;
      this.#vadChain = this.#vadChain.then(() => this.#onWindow(window));
    }
    this.#vadBuf = buf.slice(off);
  }

  async #onWindow(window: Float32Array): Promise<void> {
    if (this.#ended) return;
    let prob: number;
    try {
      prob = await this.#o.vad.process(window);
    } catch (err) {
      if (!this.#vadFailed) this.#log.error('voice activity detection failed; treating audio as silence', { error: errorMessage(err) });
      this.#vadFailed = true;
      prob = 0;
    }
    if (this.#ended) return;
    this.#detector.push(window, prob);
  }

  onMark(name: string): void {
    if (!this.#playout.onMark(name)) this.#log.debug('mark echo ignored (cleared or unknown)', { mark: name });
  }

  onDtmf(digit: string): void {
    this.#log.info('dtmf', { digit });
    this.#o.events.emit({ type: 'call.dtmf', callSid: this.callSid, digit, at: Date.now() });
  }

  // ── Interruption ─────────────────────────────────────────────────────────────

  /** Stop the agent now: Twilio `clear` (always), cancel LLM/TTS in flight, keep only what was heard. */
  interrupt(source: 'barge-in' | 'manual'): void {
    if (this.#ended) return;
    const reply = this.#reply;
    this.#playout.clear();
    if (reply) {
      reply.cancelled = true;
      reply.controller.abort();
      // The cancelled reply winds down on its own (recording what was heard); it no longer owns the call.
      this.#reply = null;
    }
    this.#o.events.emit({ type: 'call.interrupted', callSid: this.callSid, turnId: reply?.turnId ?? this.#turnId, source, at: Date.now() });
    this.#log.info('agent interrupted', { source, turnId: reply?.turnId });
    this.#detector.agentActive = false;
    this.#setState('listening');
  }

  // ── Turns ────────────────────────────────────────────────────────────────────

  #speculate(u: Utterance): void {
    if (this.#ended || this.#spec) return;
    const controller = new AbortController();
    const promise = this.#o.leases.stt.instance.transcribe({ samples: u.samples, sampleRate: 16000 }, { signal: controller.signal });
    promise.catch(() => {});
    this.#spec = { speechEndMs: u.speechEndMs, samples: u.samples.length, controller, startedAt: this.#now(), promise };
  }

  #dropSpeculation(): void {
    this.#spec?.controller.abort();
    this.#spec = null;
  }

  async #transcribe(u: Utterance): Promise<{ text: string; sttMs: number }> {
    const spec = this.#spec;
    this.#spec = null;
    const started = this.#now();
    const settings = this.#o.settings;
    // The speculative transcript is valid if no speech came after the pause that started it.
    if (spec && spec.speechEndMs === u.speechEndMs) {
      this.#linkToCall(spec.controller);
      const r = await guardPromise(spec.promise, { ms: settings.pluginTimeoutMs, controller: spec.controller, plugin: this.#o.leases.stt.name, what: 'transcribe' });
      return { text: r.text, sttMs: this.#now() - started };
    }
    spec?.controller.abort();
    const controller = new AbortController();
    this.#linkToCall(controller);
    const r = await guardPromise(this.#o.leases.stt.instance.transcribe({ samples: u.samples, sampleRate: 16000 }, { signal: controller.signal }), {
      ms: settings.pluginTimeoutMs,
      controller,
      plugin: this.#o.leases.stt.name,
      what: 'transcribe',
    });
    return { text: r.text, sttMs: this.#now() - started };
  }

  #linkToCall(controller: AbortController): void {
    if (this.#call.signal.aborted) controller.abort();
    else this.#call.signal.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
  }

  async #respond(u: Utterance): Promise<void> {
    if (this.#ended) return;
    if (this.#reply) this.interrupt('barge-in');
    const endAt = this.#now();
    const endpointMs = this.#detector.clockMs - u.speechEndMs;
    const speechEndWall = endAt - endpointMs;
    const turnId = ++this.#turnId;
    const reply: Reply = { turnId, controller: new AbortController(), speech: null, cancelled: false };
    this.#linkToCall(reply.controller);
    this.#reply = reply;
    this.#detector.agentActive = true;
    this.#setState('thinking');
    const log = this.#log.child({ turnId });

    // Speech to text. Not cancelled by a barge-in: what the caller said still counts.
    let text: string;
    let sttMs: number;
    try {
      ({ text, sttMs } = await this.#transcribe(u));
      if (typeof text !== 'string') throw Object.assign(new Error(`${this.#o.leases.stt.name} returned ${typeof text} instead of { text: string }`), { code: 'PLUGIN_GARBAGE' });
    } catch (err) {
      if (this.#ended || isCancellation(err)) return this.#finish(reply);
      await this.#pluginFailed(reply, err, 'stt', log);
      return this.#finish(reply);
    }
    text = text.trim();
    if (text) {
      this.#o.events.emit({ type: 'transcript', callSid: this.callSid, turnId, role: 'caller', text, final: true, at: Date.now() });
      this.#addUser(text);
    }
    if (!text || reply.cancelled || this.#ended) {
      log.debug(text ? 'caller kept talking; reply skipped' : 'nothing recognisable was said');
      return this.#finish(reply);
    }

    // LLM → TTS → phone.
    const messages = this.#messages();
    const llm = this.#o.leases.llm;
    const llmStarted = this.#now();
    const speech = this.#speech(reply, llm.name);
    const result = await speech.speak(llm.instance.chat(messages, { signal: reply.controller.signal }));
    this.#recordAgent(reply, result);
    const t = result.timings;
    const pluginMs = sttMs + (t.firstDeltaAt !== null ? t.firstDeltaAt - llmStarted : 0) + (t.firstChunkAt !== null && t.firstPieceAt !== null ? t.firstChunkAt - t.firstPieceAt : 0);
    const metrics: TurnMetrics = {
      endpointMs: round(endpointMs),
      sttMs: round(sttMs),
      llmFirstTokenMs: t.firstDeltaAt !== null ? round(t.firstDeltaAt - llmStarted) : null,
      ttsFirstAudioMs: t.firstChunkAt !== null && t.firstPieceAt !== null ? round(t.firstChunkAt - t.firstPieceAt) : null,
      voiceToVoiceMs: t.firstAudioAt !== null ? round(t.firstAudioAt - speechEndWall) : null,
      engineOverheadMs: t.firstAudioAt !== null ? round(t.firstAudioAt - endAt - pluginMs) : null,
    };
    this.#o.events.emit({ type: 'turn.metrics', callSid: this.callSid, turnId, metrics, at: Date.now() });
    if (result.error) {
      await this.#pluginFailed(reply, result.error, result.text ? 'tts' : 'llm', log, result.text !== '');
    }
    this.#finish(reply);
  }

  #speech(reply: Reply, textName: string): Speech {
    const speech = new Speech({
      tts: this.#o.leases.tts.instance,
      ttsName: this.#o.leases.tts.name,
      textName,
      playout: this.#playout,
      markPrefix: `t${reply.turnId}${reply.speech ? 'b' : ''}`,
      controller: reply.controller,
      timeoutMs: this.#o.settings.pluginTimeoutMs,
      now: this.#now,
      onFirstAudio: () => {
        if (this.#reply === reply) this.#setState('speaking');
      },
      onProgress: (text, heard) =>
        this.#o.events.emit({ type: 'transcript', callSid: this.callSid, turnId: reply.turnId, role: 'agent', text, heard, interrupted: false, final: false, at: Date.now() }),
    });
    reply.speech = speech;
    return speech;
  }

  async #greet(): Promise<void> {
    const reply: Reply = { turnId: 0, controller: new AbortController(), speech: null, cancelled: false };
    this.#linkToCall(reply.controller);
    this.#reply = reply;
    this.#detector.agentActive = true;
    const result = await this.#speech(reply, 'greeting').say(this.#o.settings.greeting);
    this.#recordAgent(reply, result);
    if (result.error) await this.#pluginFailed(reply, result.error, 'tts', this.#log, true);
    this.#finish(reply);
  }

  /** A plugin failed: log it, tell the GUI, and (unless TTS itself is broken) apologise out loud. */
  async #pluginFailed(reply: Reply, err: unknown, kind: 'stt' | 'llm' | 'tts', log: Logger, spokeSomething = false): Promise<void> {
    const code = (err as { code?: string }).code ?? 'PLUGIN_FAILED';
    const message = errorMessage(err);
    log.error(`${kind} plugin failed; turn ended`, { code, error: message });
    this.#o.events.emit({ type: 'call.error', callSid: this.callSid, code, message, at: Date.now() });
    if (kind === 'tts' || spokeSomething || reply.cancelled || this.#ended || !this.#o.settings.apology.trim()) return;
    // The failed step may have aborted the reply's controller (a timeout does): the apology gets a fresh one.
    reply.controller = new AbortController();
    this.#linkToCall(reply.controller);
    const result = await this.#speech(reply, 'apology').say(this.#o.settings.apology);
    this.#recordAgent(reply, result);
    if (result.error) log.error('could not speak the apology either', { error: errorMessage(result.error) });
  }

  #recordAgent(reply: Reply, result: SpeechResult): void {
    if (!result.text) return;
    const interrupted = result.interrupted || reply.cancelled && result.heard !== result.text;
    this.#o.events.emit({
      type: 'transcript',
      callSid: this.callSid,
      turnId: reply.turnId,
      role: 'agent',
      text: result.text,
      heard: result.heard,
      interrupted,
      final: true,
      at: Date.now(),
    });
    // The LLM must not believe it said what the caller never heard.
    if (result.heard) this.#history.push({ role: 'assistant', content: interrupted ? `${result.heard} —` : result.heard });
  }

  #addUser(text: string): void {
    const last = this.#history[this.#history.length - 1];
    // The caller kept talking before hearing any reply: one turn, not two.
    if (last?.role === 'user') last.content = `${last.content} ${text}`;
    else this.#history.push({ role: 'user', content: text });
  }

  #messages(): ChatMessage[] {
    const { systemPrompt, maxHistory } = this.#o.settings;
    const recent = this.#history.slice(-Math.max(1, maxHistory));
    return [...(systemPrompt.trim() ? [{ role: 'system' as const, content: systemPrompt }] : []), ...recent.map((m) => ({ ...m }))];
  }

  #finish(reply: Reply): void {
    if (this.#reply !== reply) return;
    this.#reply = null;
    this.#detector.agentActive = false;
    if (!this.#ended) this.#setState('listening');
  }

  /** End the call (Twilio `stop`, socket closed, hang-up). Idempotent. */
  end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#call.abort();
    this.#spec?.controller.abort();
    this.#playout.close();
    this.#detector.reset();
    for (const lease of Object.values(this.#o.leases)) lease.release();
    const endedAt = Date.now();
    this.#log.info('call ended', { reason });
    this.#o.events.emit({ type: 'call.ended', callSid: this.callSid, reason, endedAt, durationMs: endedAt - this.startedAt });
    this.#o.onEnded?.(reason);
  }

  get ended(): boolean {
    return this.#ended;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
