/**
 * Dialogue: the speaking half of a call. It owns the turns (caller's turn over → transcript → LLM → Speech),
 * the LLM's history, the agent's state (listening / thinking / speaking), the greeting and the apology, and
 * interruption: a barge-in or a manual interrupt cancels the reply in flight, sends Twilio `clear`, and keeps
 * in the history only what the caller heard.
 *
 * What the caller says comes from Hearing; this unit never touches inbound audio.
 */
import { errorMessage } from '../errors.ts';
import type { AgentState, CoreEvents, TurnMetrics } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ChatMessage } from '../plugins/api.ts';
import type { Lease } from '../plugins/registry.ts';
import type { ConversationSettings } from './conversation-settings.ts';
import { isCancellation, linkAbort } from './guard.ts';
import type { Hearing } from './hearing.ts';
import type { Playout } from './playout.ts';
import { Speech, type SpeechResult } from './speech.ts';
import type { Utterance } from './turn-detector.ts';

export interface DialogueOptions {
  callSid: string;
  hearing: Hearing;
  playout: Playout;
  leases: { stt: Lease<'stt'>; llm: Lease<'llm'>; tts: Lease<'tts'> };
  settings: ConversationSettings;
  events: CoreEvents;
  log: Logger;
  /** The call's signal: aborted when the call ends, which cancels everything in flight. */
  signal: AbortSignal;
  now?: () => number;
}

interface Reply {
  turnId: number;
  controller: AbortController;
  speech: Speech | null;
  cancelled: boolean;
}

export class Dialogue {
  readonly #o: DialogueOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #history: ChatMessage[] = [];
  #state: AgentState = 'listening';
  #turnId = 0;
  #reply: Reply | null = null;

  constructor(options: DialogueOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#now = options.now ?? (() => performance.now());
  }

  get state(): AgentState {
    return this.#state;
  }

  /** The LLM's view of the conversation (what the caller actually heard of the agent). */
  get history(): readonly ChatMessage[] {
    return this.#history;
  }

  get #ended(): boolean {
    return this.#o.signal.aborted;
  }

  /** The call is connected: listen, and greet if there is a greeting. */
  start(): void {
    this.#emitState('listening');
    if (this.#o.settings.greeting.trim()) void this.#greet();
  }

  #emitState(state: AgentState): void {
    this.#state = state;
    this.#o.events.emit({ type: 'call.state', callSid: this.#o.callSid, state, at: Date.now() });
  }

  #setState(state: AgentState): void {
    if (state !== this.#state) this.#emitState(state);
  }

  // ── Interruption ─────────────────────────────────────────────────────────────

  /** The caller started talking: a reply in flight is a barge-in. */
  callerTurnStarted(): void {
    if (this.#reply) this.interrupt('barge-in');
  }

  /** Stop the agent now: Twilio `clear` (always), cancel LLM/TTS in flight, keep only what was heard. */
  interrupt(source: 'barge-in' | 'manual'): void {
    if (this.#ended) return;
    const reply = this.#reply;
    this.#o.playout.clear();
    if (reply) {
      reply.cancelled = true;
      reply.controller.abort();
      // The cancelled reply winds down on its own (recording what was heard); it no longer owns the call.
      this.#reply = null;
    }
    this.#o.events.emit({ type: 'call.interrupted', callSid: this.#o.callSid, turnId: reply?.turnId ?? this.#turnId, source, at: Date.now() });
    this.#log.info('agent interrupted', { source, turnId: reply?.turnId });
    this.#o.hearing.agentActive = false;
    this.#setState('listening');
  }

  // ── Turns ────────────────────────────────────────────────────────────────────

  #begin(turnId: number): Reply {
    const reply: Reply = { turnId, controller: linkAbort(this.#o.signal, new AbortController()), speech: null, cancelled: false };
    this.#reply = reply;
    this.#o.hearing.agentActive = true;
    return reply;
  }

  /** The caller's turn is over: transcribe it, answer it. */
  async respond(u: Utterance): Promise<void> {
    if (this.#ended) return;
    if (this.#reply) this.interrupt('barge-in');
    const { hearing, leases, callSid, events } = this.#o;
    const endAt = this.#now();
    const endpointMs = hearing.clockMs - u.speechEndMs;
    const speechEndWall = endAt - endpointMs;
    const turnId = ++this.#turnId;
    const reply = this.#begin(turnId);
    this.#setState('thinking');
    const log = this.#log.child({ turnId });

    // Speech to text. Not cancelled by a barge-in: what the caller said still counts.
    let text: string;
    let sttMs: number;
    try {
      ({ text, sttMs } = await hearing.transcribe(u));
      if (typeof text !== 'string') throw Object.assign(new Error(`${leases.stt.name} returned ${typeof text} instead of { text: string }`), { code: 'PLUGIN_GARBAGE' });
    } catch (err) {
      if (this.#ended || isCancellation(err)) return this.#finish(reply);
      await this.#pluginFailed(reply, err, 'stt', log);
      return this.#finish(reply);
    }
    text = text.trim();
    if (text) {
      events.emit({ type: 'transcript', callSid, turnId, role: 'caller', text, final: true, at: Date.now() });
      this.#addUser(text);
    }
    if (!text || reply.cancelled || this.#ended) {
      log.debug(text ? 'caller kept talking; reply skipped' : 'nothing recognisable was said');
      return this.#finish(reply);
    }

    // LLM → TTS → phone.
    const messages = this.#messages();
    const llmStarted = this.#now();
    const speech = this.#speech(reply, leases.llm.name);
    const result = await speech.speak(leases.llm.instance.chat(messages, { signal: reply.controller.signal }));
    this.#recordAgent(reply, result);
    const t = result.timings;
    const llmMs = t.firstDeltaAt !== null ? t.firstDeltaAt - llmStarted : null;
    const ttsMs = t.firstChunkAt !== null && t.firstPieceAt !== null ? t.firstChunkAt - t.firstPieceAt : null;
    const metrics: TurnMetrics = {
      endpointMs: round(endpointMs),
      sttMs: round(sttMs),
      llmFirstTokenMs: llmMs !== null ? round(llmMs) : null,
      ttsFirstAudioMs: ttsMs !== null ? round(ttsMs) : null,
      voiceToVoiceMs: t.firstAudioAt !== null ? round(t.firstAudioAt - speechEndWall) : null,
      engineOverheadMs: t.firstAudioAt !== null ? round(t.firstAudioAt - endAt - (sttMs + (llmMs ?? 0) + (ttsMs ?? 0))) : null,
    };
    events.emit({ type: 'turn.metrics', callSid, turnId, metrics, at: Date.now() });
    if (result.error) await this.#pluginFailed(reply, result.error, result.text ? 'tts' : 'llm', log, result.text !== '');
    this.#finish(reply);
  }

  #speech(reply: Reply, textName: string): Speech {
    const speech = new Speech({
      tts: this.#o.leases.tts.instance,
      ttsName: this.#o.leases.tts.name,
      textName,
      playout: this.#o.playout,
      markPrefix: `t${reply.turnId}${reply.speech ? 'b' : ''}`,
      controller: reply.controller,
      timeoutMs: this.#o.settings.pluginTimeoutMs,
      now: this.#now,
      onFirstAudio: () => {
        if (this.#reply === reply) this.#setState('speaking');
      },
      onProgress: (text, heard) =>
        this.#o.events.emit({ type: 'transcript', callSid: this.#o.callSid, turnId: reply.turnId, role: 'agent', text, heard, interrupted: false, final: false, at: Date.now() }),
    });
    reply.speech = speech;
    return speech;
  }

  async #greet(): Promise<void> {
    const reply = this.#begin(0);
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
    this.#o.events.emit({ type: 'call.error', callSid: this.#o.callSid, code, message, at: Date.now() });
    if (kind === 'tts' || spokeSomething || reply.cancelled || this.#ended || !this.#o.settings.apology.trim()) return;
    // The failed step may have aborted the reply's controller (a timeout does): the apology gets a fresh one.
    reply.controller = linkAbort(this.#o.signal, new AbortController());
    const result = await this.#speech(reply, 'apology').say(this.#o.settings.apology);
    this.#recordAgent(reply, result);
    if (result.error) log.error('could not speak the apology either', { error: errorMessage(result.error) });
  }

  #recordAgent(reply: Reply, result: SpeechResult): void {
    if (!result.text) return;
    const interrupted = result.interrupted || (reply.cancelled && result.heard !== result.text);
    this.#o.events.emit({
      type: 'transcript',
      callSid: this.#o.callSid,
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
    this.#o.hearing.agentActive = false;
    if (!this.#ended) this.#setState('listening');
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
