/**
 * Dialogue: the speaking half of a call. It owns the turns (caller's turn over → transcript → LLM → Speech),
 * the LLM's history, the agent's state (listening / thinking / speaking), the greeting and the apology, and
 * interruption: a barge-in or a manual interrupt cancels the reply in flight, sends Twilio `clear`, and keeps
 * in the history only what the caller heard.
 *
 * Preemptive replies: when the caller pauses, the whole reply (STT → LLM → TTS) starts on the audio so far,
 * behind a shut ReplyGate. If the turn ends with no more speech, the gate opens and the prepared audio goes out
 * at once; if the caller goes on, the attempt is aborted and leaves nothing behind (no frame, no mark, no
 * transcript, no history). One attempt at a time per call.
 *
 * Backchannels: a short sound over the agent ("mm-hm", "yeah", a noise) still stops playback at once (`clear`),
 * but the reply is only held, not cancelled. If the caller's turn turns out to be a backchannel (short, and STT
 * heard nothing or only words from the backchannel list), the reply plays on from the clause where hearing stopped;
 * otherwise it is cancelled as any barge-in is, and the turn is answered.
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
import type { Hearing, TurnEnd } from './hearing.ts';
import type { Playout } from './playout.ts';
import { ReplyGate } from './reply-gate.ts';
import { Speech, type SpeechResult } from './speech.ts';
import type { CallTools } from '../tools/call-tools.ts';
import { ToolLoop } from '../tools/tool-loop.ts';
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
  /** The call's tools: a reply runs through the tool loop (tools/tool-loop.ts) when there are any. */
  tools?: CallTools | null;
  /** The conversation so far, when this call comes back to the agent (a transfer nobody answered). */
  history?: readonly ChatMessage[];
  /** Turns before this one's first (its records go on after the earlier stream's). */
  firstTurnId?: number;
}

interface Reply {
  turnId: number;
  controller: AbortController;
  speech: Speech | null;
  cancelled: boolean;
  /** Where its audio goes: open at once for a serial reply, shut until the turn ends for a prepared one. */
  gate: ReplyGate;
  /** Unique per call, for its marks. */
  attempt: number;
  /** Playback stopped for what may be a backchannel: resumed or cancelled when the caller's turn ends. */
  held: boolean;
  /** Settles once what the caller heard of it is in the history (or it had nothing to record). */
  recorded: Promise<void>;
  markRecorded: () => void;
}

/** A reply prepared during a pause, for the utterance that ended at `speechEndMs`. */
interface Attempt {
  reply: Reply;
  speechEndMs: number;
  /** Settles when the turn ends with this utterance (commit) or the attempt is dropped (null). */
  commit: (turn: Committed | null) => void;
}

interface Committed {
  how: TurnEnd | null;
  /** When the turn ended, and how long after the caller's end of speech (audio clock). */
  endAt: number;
  endpointMs: number;
}

export class Dialogue {
  readonly #o: DialogueOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #history: ChatMessage[] = [];
  #state: AgentState = 'listening';
  #turnId = 0;
  #attempts = 0;
  #reply: Reply | null = null;
  #attempt: Attempt | null = null;
  /** The last cancelled reply, until what was heard of it is in the history: the next LLM request waits for it. */
  #windingDown: Promise<void> = Promise.resolve();
  /** The call is moving on (transfer, voicemail): the agent says its last words and answers nothing more. */
  #closing = false;
  /** Where the history sent to the LLM starts (#messages). */
  #windowStart = 0;
  /** The messages last handed to the LLM's prepare(), as JSON. */
  #prepared = '';
  #keysSent = 0;
  /** The person at the desk has taken the call over: the agent says nothing and answers nothing. */
  #takenOver = false;
  /** While taken over: the turn the desk's next words join (after the caller's words, or the desk's own last). */
  #deskTurn: { turnId: number; text: string } | null = null;

  constructor(options: DialogueOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#now = options.now ?? (() => performance.now());
    if (options.history) this.#history.push(...options.history.map((m) => ({ ...m })));
    this.#turnId = options.firstTurnId ?? 0;
  }

  /** The last turn's number. */
  get turnId(): number {
    return this.#turnId;
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
    const greeting = this.#o.settings.greeting.trim();
    // Let the LLM evaluate the system prompt (and the greeting it will have said) before the caller speaks.
    this.#prepareAhead([...this.#messages(), ...(greeting ? [{ role: 'assistant' as const, content: greeting }] : [])]);
    if (greeting) void this.#greet();
  }

  /**
   * Let the LLM evaluate what the next turn's prompt starts with while the caller speaks (llama-llm keeps it in
   * the call's KV cache): the opening at the start, then after each reply what the caller heard of it. The next
   * turn then evaluates little more than the caller's words, and a reply cut off by a barge-in is rolled back
   * to what was heard here rather than at the caller's next turn.
   */
  #prepareAhead(messages: ChatMessage[]): void {
    if (messages.length === 0 || this.#ended || this.#closing || this.#takenOver) return;
    // The greeting as heard is usually the opening already prepared.
    const key = JSON.stringify(messages);
    if (key === this.#prepared) return;
    this.#prepared = key;
    this.#o.leases.llm.instance.prepare?.(messages, this.#callOptions(this.#o.signal))?.catch((err: unknown) => {
      if (!this.#ended) this.#log.debug('the LLM could not prepare the call ahead of time', { error: errorMessage(err) });
    });
  }

  #callOptions(signal: AbortSignal): { signal: AbortSignal; callSid?: string } {
    return this.#o.callSid ? { signal, callSid: this.#o.callSid } : { signal };
  }

  #emitState(state: AgentState): void {
    this.#state = state;
    this.#o.events.emit({ type: 'call.state', callSid: this.#o.callSid, state, at: Date.now() });
  }

  #setState(state: AgentState): void {
    if (state !== this.#state) this.#emitState(state);
  }

  // ── Interruption ─────────────────────────────────────────────────────────────

  /** The caller started talking: a reply in flight is a barge-in, or (while it speaks) perhaps a backchannel. */
  callerTurnStarted(): void {
    const reply = this.#reply;
    if (!reply || this.#closing || this.#takenOver) return;
    if (this.#o.settings.backchannel && this.#state === 'speaking' && reply.speech && !reply.held) {
      // Stop what the caller hears now; decide at the end of their turn whether it was only "mm-hm".
      this.#o.playout.clear();
      reply.speech.pause();
      reply.held = true;
      this.#log.debug('agent paused: the caller may only be acknowledging', { turnId: reply.turnId });
      this.#setState('listening');
      return;
    }
    this.interrupt('barge-in');
  }

  /**
   * Stop the agent now: Twilio `clear` (always, unless playback already stopped for a possible backchannel: one
   * clear per interruption), cancel LLM/TTS in flight, keep only what was heard.
   */
  interrupt(source: 'barge-in' | 'manual'): void {
    if (this.#ended) return;
    const reply = this.#reply;
    if (!reply?.held) this.#o.playout.clear();
    if (reply) {
      reply.cancelled = true;
      reply.controller.abort();
      // Never wait long for it: a stuck plugin must not hold up the next answer.
      this.#windingDown = Promise.race([reply.recorded, new Promise<void>((r) => setTimeout(r, 1_000).unref?.())]);
      // The cancelled reply winds down on its own (recording what was heard); it no longer owns the call.
      this.#reply = null;
    }
    this.#o.events.emit({ type: 'call.interrupted', callSid: this.#o.callSid, turnId: reply?.turnId ?? this.#turnId, source, at: Date.now() });
    this.#log.info('agent interrupted', { source, turnId: reply?.turnId });
    this.#o.hearing.agentActive = false;
    this.#setState('listening');
  }

  /**
   * A private note from the person at the desk ("offer Tuesday instead"): a system message in the history, so
   * the agent's next LLM request (and later ones) carries it. It is never spoken: the caller does not hear it.
   * A reply prepared during the pause without it is dropped, so the reply to this turn is made with the note.
   */
  whisper(text: string): number {
    const note = text.trim();
    const turnId = this.#turnId + 1;
    if (this.#ended || !note) return turnId;
    this.#history.push({ role: 'system', content: `${WHISPER_PREFIX}${note}` });
    this.#dropAttempt();
    this.#o.events.emit({ type: 'call.whisper', callSid: this.#o.callSid, turnId, text: note, at: Date.now() });
    this.#log.info('whisper note added for the next reply', { turnId, chars: note.length });
    if (!this.#reply) this.#prepareAhead(this.#messages(null, true));
    return turnId;
  }

  // ── Take over / hand back ────────────────────────────────────────────────────

  get takenOver(): boolean {
    return this.#takenOver;
  }

  /**
   * The person at the desk takes the call: the agent stops at once (Twilio `clear`, everything in flight
   * cancelled, what was heard kept) and answers nothing until `handBack`. The caller's turns are still heard,
   * transcribed and kept in the history; what the desk says joins it as the agent's side (`deskSaid`).
   */
  takeOver(): boolean {
    if (this.#ended || this.#takenOver) return false;
    this.#dropAttempt();
    if (this.#reply) this.interrupt('manual');
    else this.#o.playout.clear();
    this.#takenOver = true;
    this.#deskTurn = null;
    this.#o.hearing.agentActive = false;
    this.#setState('listening');
    // Numbered, like a whisper, for the turn to come: it happens before anything said in it.
    this.#o.events.emit({ type: 'call.takeover', callSid: this.#o.callSid, active: true, turnId: this.#turnId + 1, at: Date.now() });
    this.#log.info('the person at the desk took the call over');
    return true;
  }

  /** The agent has the call again, knowing what was said while it was away. It answers the caller's next turn. */
  handBack(): boolean {
    if (this.#ended || !this.#takenOver) return false;
    this.#takenOver = false;
    this.#deskTurn = null;
    this.#history.push({ role: 'system', content: HANDBACK_NOTE });
    this.#o.events.emit({ type: 'call.takeover', callSid: this.#o.callSid, active: false, turnId: this.#turnId + 1, at: Date.now() });
    this.#log.info('the call was handed back to the agent');
    this.#prepareAhead(this.#messages(null, true));
    return true;
  }

  /** One frame of the desk's mic for the caller (only while taken over): paced out like the agent's audio. */
  sendDeskFrame(mulaw: Uint8Array): void {
    if (this.#takenOver && !this.#ended) this.#o.playout.enqueue([mulaw]);
  }

  /** What the person at the desk said to the caller (transcribed from their mic): the agent's side of the history. */
  deskSaid(text: string): void {
    const said = text.trim();
    if (this.#ended || !said) return;
    // One desk line per turn: what they say until the caller speaks again is one reply.
    const turn = this.#deskTurn?.turnId === this.#turnId ? this.#deskTurn : { turnId: this.#turnId + 1, text: '' };
    if (turn.turnId > this.#turnId) this.#turnId = turn.turnId;
    turn.text = turn.text ? `${turn.text} ${said}` : said;
    this.#deskTurn = turn;
    this.#o.events.emit({ type: 'transcript', callSid: this.#o.callSid, turnId: turn.turnId, role: 'agent', text: turn.text, heard: turn.text, interrupted: false, final: true, by: 'desk', at: Date.now() });
    const last = this.#history[this.#history.length - 1];
    if (last?.role === 'assistant' && !last.toolCalls) last.content = `${last.content} ${said}`;
    else this.#history.push({ role: 'assistant', content: said });
  }

  /** A caller turn while the desk has the call: transcribed and kept, never answered. */
  async #hearOnly(u: Utterance): Promise<void> {
    let text: string;
    try {
      ({ text } = await this.#o.hearing.transcribe(u));
    } catch (err) {
      if (!this.#ended && !isCancellation(err)) this.#log.warn('could not transcribe the caller while taken over', { error: errorMessage(err) });
      return;
    }
    if (typeof text === 'string') this.#callerSaid(text);
  }

  #callerSaid(text: string): void {
    const said = text.trim();
    if (this.#ended || !said) return;
    const turnId = ++this.#turnId;
    // The desk's answer to this belongs to this turn.
    this.#deskTurn = { turnId, text: '' };
    this.#o.events.emit({ type: 'transcript', callSid: this.#o.callSid, turnId, role: 'caller', text: said, final: true, at: Date.now() });
    this.#addUser(said);
  }

  // ── Turns ────────────────────────────────────────────────────────────────────

  #newReply(turnId: number, open: boolean): Reply {
    let markRecorded!: () => void;
    const recorded = new Promise<void>((resolve) => (markRecorded = resolve));
    return {
      recorded,
      markRecorded,
      turnId,
      controller: linkAbort(this.#o.signal, new AbortController()),
      speech: null,
      cancelled: false,
      gate: new ReplyGate(this.#o.playout, { open, now: this.#now }),
      attempt: ++this.#attempts,
      held: false,
    };
  }

  /** This reply now owns the call: the agent is about to talk. */
  #own(reply: Reply): void {
    this.#reply = reply;
    this.#o.hearing.agentActive = true;
  }

  #begin(turnId: number): Reply {
    const reply = this.#newReply(turnId, true);
    this.#own(reply);
    return reply;
  }

  /**
   * The caller paused inside a turn: prepare the reply to what they said so far, shown only if the turn ends
   * here (`respond` with the same utterance end). Off with `preemptive: false`.
   */
  prepare(u: Utterance): void {
    if (this.#ended || this.#closing || this.#takenOver || !this.#o.settings.preemptive) return;
    if (this.#reply?.held) {
      // Still short enough to be a backchannel: wait for the end of the turn before preparing anything.
      if (u.speechMs <= this.#o.settings.backchannelMaxMs) return;
      this.interrupt('barge-in');
    }
    this.#dropAttempt();
    const reply = this.#newReply(0, false);
    let commit!: (turn: Committed | null) => void;
    const committed = new Promise<Committed | null>((resolve) => (commit = resolve));
    this.#attempt = { reply, speechEndMs: u.speechEndMs, commit };
    this.#log.debug('preparing a reply during the pause', { attempt: reply.attempt });
    void this.#run(reply, u, committed, this.#now());
  }

  /** The caller went on speaking: whatever was prepared for the pause is dropped without a trace. */
  resumed(): void {
    this.#dropAttempt();
  }

  #dropAttempt(): void {
    const a = this.#attempt;
    if (!a) return;
    this.#attempt = null;
    this.#log.debug('prepared reply dropped: the caller went on', { attempt: a.reply.attempt });
    a.reply.gate.discard();
    a.reply.cancelled = true;
    a.reply.controller.abort();
    a.commit(null);
  }

  /** The caller's turn is over: answer it, with the reply prepared during the pause if it was for this utterance. */
  async respond(u: Utterance, how: TurnEnd | null = null): Promise<void> {
    if (this.#ended || this.#closing) return;
    if (this.#takenOver) return this.#hearOnly(u);
    const turn: Committed = { how, endAt: this.#now(), endpointMs: this.#o.hearing.clockMs - u.speechEndMs };
    let heard: { text: string; sttMs: number } | undefined;
    const held = this.#reply?.held ? this.#reply : null;
    if (held && u.speechMs <= this.#o.settings.backchannelMaxMs) {
      try {
        heard = await this.#o.hearing.transcribe(u);
      } catch (err) {
        if (this.#ended) return;
        heard = undefined;
        this.#log.debug('could not transcribe what was said over the agent; taken as a real interruption', { error: errorMessage(err) });
      }
      if (this.#ended) return;
      if (heard && typeof heard.text === 'string' && this.#reply === held && isBackchannel(heard.text, this.#o.settings.backchannelWords)) {
        this.#resumeAfterBackchannel(held, heard.text.trim());
        return;
      }
    }
    if (this.#reply) this.interrupt('barge-in');
    const a = this.#attempt;
    if (a && a.speechEndMs === u.speechEndMs) {
      this.#attempt = null;
      a.reply.turnId = ++this.#turnId;
      this.#own(a.reply);
      this.#setState('thinking');
      a.commit(turn);
      return;
    }
    this.#dropAttempt();
    const reply = this.#begin(++this.#turnId);
    this.#setState('thinking');
    await this.#run(reply, u, Promise.resolve(turn), turn.endAt, heard);
  }

  /**
   * A turn the caller took without speaking: `text` is what the LLM reads for it (the keys they pressed, e.g.
   * `[the caller pressed 1]`). Answered like a spoken turn: it interrupts the agent and joins the history.
   */
  async respondToText(text: string): Promise<void> {
    if (this.#ended || this.#closing || !text.trim()) return;
    if (this.#takenOver) return this.#callerSaid(text);
    if (this.#reply) this.interrupt('barge-in');
    this.#dropAttempt();
    const reply = this.#begin(++this.#turnId);
    this.#setState('thinking');
    const at = this.#now();
    const clock = this.#o.hearing.clockMs;
    const u: Utterance = { samples: new Float32Array(0), sampleRate: 16000, speechStartMs: clock, speechEndMs: clock, speechMs: 0, truncated: false };
    await this.#run(reply, u, Promise.resolve({ how: null, endAt: at, endpointMs: 0 }), at, { text, sttMs: 0 });
  }

  /**
   * The agent's last words before the call moves on (a transfer, a voicemail): said as they are, with no barge-in,
   * and nothing the caller says is answered any more. `interrupt` first stops what the agent is saying (a
   * voicemail starts on the beep); without it the words follow what is already queued. Resolves once Twilio has
   * played them (or the call ended).
   */
  async finalWords(text: string, options: { interrupt: boolean }): Promise<void> {
    if (this.#ended) return;
    if (options.interrupt && this.#reply) this.interrupt('manual');
    this.#dropAttempt();
    this.#closing = true;
    if (!text.trim()) return;
    const reply = this.#begin(++this.#turnId);
    const result = await this.#speech(reply, 'final words').say(text);
    this.#recordAgent(reply, result);
    if (result.error) this.#log.error('could not speak the last words', { error: errorMessage(result.error) });
    this.#finish(reply);
  }

  /** The call did not move on after all (the transfer failed): answer the caller again. */
  reopen(): void {
    this.#closing = false;
  }

  /** Nothing in flight: not speaking, thinking or in a tool, and not closing or taken over (the idle watch's question). */
  get idle(): boolean {
    return this.#reply === null && !this.#closing && !this.#ended && !this.#takenOver;
  }

  /** Say `text` as an agent turn of its own, no LLM (the idle question); the caller may barge in as usual. */
  async say(text: string): Promise<void> {
    if (this.#ended || this.#closing || this.#takenOver || !text.trim()) return;
    this.#dropAttempt();
    const reply = this.#begin(++this.#turnId);
    const result = await this.#speech(reply, 'prompt').say(text);
    this.#recordAgent(reply, result);
    if (result.error) this.#log.error('could not speak the prompt', { error: errorMessage(result.error) });
    this.#finish(reply);
  }

  /**
   * Send audio that is not speech (DTMF tones) after what is already queued; resolves when Twilio has played it,
   * or after `timeoutMs` (a call whose marks stopped coming must not hold the caller of this forever).
   */
  sendAudio(frames: Uint8Array[], timeoutMs: number): Promise<boolean> {
    if (this.#ended || frames.length === 0) return Promise.resolve(false);
    const name = `k${++this.#keysSent}`;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref?.();
      const done = (played: boolean) => {
        clearTimeout(timer);
        resolve(played);
      };
      this.#o.signal.addEventListener('abort', () => done(false), { once: true });
      this.#o.playout.enqueue(frames);
      this.#o.playout.enqueueMark(name, () => done(true));
    });
  }

  /** It was only "mm-hm": play the held reply on from where hearing stopped, and record the backchannel as such. */
  #resumeAfterBackchannel(reply: Reply, text: string): void {
    this.#dropAttempt();
    reply.held = false;
    this.#setState('speaking');
    reply.speech!.resume();
    this.#log.info('backchannel ignored; the agent goes on', { turnId: reply.turnId, text });
    this.#o.events.emit({ type: 'call.backchannel', callSid: this.#o.callSid, turnId: reply.turnId, text, at: Date.now() });
  }

  /**
   * One reply: STT → LLM → Speech through the reply's gate. `committed` settles when the turn really ends with
   * this utterance (at once for a serial reply) or with null when the attempt is dropped; nothing reaches the
   * caller, the transcript or the history before it.
   */
  async #run(reply: Reply, u: Utterance, committed: Promise<Committed | null>, startedAt: number, heard?: { text: string; sttMs: number }): Promise<void> {
    const { hearing, leases, callSid, events } = this.#o;
    const gate = reply.gate;
    const log = this.#log.child({ attempt: reply.attempt });

    // Speech to text. A serial reply's is not cancelled by a barge-in (what the caller said still counts); a
    // prepared one's is cancelled with the attempt.
    let text: string;
    let sttMs: number;
    try {
      ({ text, sttMs } = heard ?? (await hearing.transcribe(u, gate.isOpen ? undefined : reply.controller.signal)));
      if (typeof text !== 'string') throw Object.assign(new Error(`${leases.stt.name} returned ${typeof text} instead of { text: string }`), { code: 'PLUGIN_GARBAGE' });
    } catch (err) {
      if (this.#ended || isCancellation(err) || gate.discarded) return this.#finish(reply);
      // A prepared reply's failure is only the call's once the turn ends with it.
      if (!(await committed)) return;
      gate.open();
      await this.#pluginFailed(reply, err, 'stt', log);
      return this.#finish(reply);
    }
    text = text.trim();

    // LLM → TTS → (gate) → phone. The caller's words join the history only when the turn is theirs; until then
    // the LLM sees them on a copy.
    let speaking: Promise<SpeechResult> | null = null;
    let loop: ToolLoop | null = null;
    // What the caller heard of a reply they just cut off belongs in the history this answer is based on.
    await this.#windingDown;
    // After that wait: the LLM's first-token time is the LLM's alone.
    const llmStarted = this.#now();
    if (text && !reply.cancelled && !this.#ended) {
      const speech = this.#speech(reply, leases.llm.name);
      const options = this.#callOptions(reply.controller.signal);
      const tools = this.#o.tools;
      loop = tools ? new ToolLoop({ llm: leases.llm.instance, messages: this.#messages(text), options, tools, committed: committed.then((c) => c !== null), turnId: () => reply.turnId, log }) : null;
      speaking = speech.speak(loop ?? leases.llm.instance.chat(this.#messages(text), options));
    }
    const turn = await committed;
    if (!turn) return; // dropped: its work was aborted, and nothing of it was shown
    if (text) {
      events.emit({ type: 'transcript', callSid, turnId: reply.turnId, role: 'caller', text, final: true, at: Date.now() });
      this.#addUser(text);
    }
    if (!speaking) {
      log.debug(text ? 'caller kept talking; reply skipped' : 'nothing recognisable was said');
      return this.#finish(reply);
    }
    // A reply interrupted between the turn's end and here must not put its held audio out after the clear.
    if (reply.cancelled) gate.discard();
    else gate.open();
    const result = await speaking;
    // What the tools did is part of the conversation, even when the caller cut the reply off.
    if (loop) this.#history.push(...loop.added);
    this.#recordAgent(reply, result);
    const t = result.timings;
    const llmMs = t.firstDeltaAt !== null ? t.firstDeltaAt - llmStarted : null;
    const ttsMs = t.firstChunkAt !== null && t.firstPieceAt !== null ? t.firstChunkAt - t.firstPieceAt : null;
    const firstAudioAt = t.firstAudioAt !== null ? Math.max(t.firstAudioAt, gate.openedAt ?? t.firstAudioAt) : null;
    const speechEndWall = turn.endAt - turn.endpointMs;
    const metrics: TurnMetrics = {
      endpointMs: round(turn.endpointMs),
      sttMs: round(sttMs),
      llmFirstTokenMs: llmMs !== null ? round(llmMs) : null,
      ttsFirstAudioMs: ttsMs !== null ? round(ttsMs) : null,
      voiceToVoiceMs: firstAudioAt !== null ? round(firstAudioAt - speechEndWall) : null,
      engineOverheadMs: firstAudioAt !== null ? round(Math.max(0, firstAudioAt - Math.max(turn.endAt, startedAt + sttMs + (llmMs ?? 0) + (ttsMs ?? 0)))) : null,
      endedBy: turn.how?.endedBy ?? 'silence',
      turnProbability: turn.how?.turnProbability ?? null,
      turnModelMs: turn.how?.turnModelMs ?? null,
      preemptive: turn.endAt > startedAt,
      speechEndAudioMs: round(u.speechEndMs),
    };
    events.emit({ type: 'turn.metrics', callSid, turnId: reply.turnId, metrics, at: Date.now() });
    if (result.error) await this.#pluginFailed(reply, result.error, result.text ? 'tts' : 'llm', log, result.text !== '');
    this.#finish(reply);
    // The reply after a tool has been said (the goodbye before end_call): now what waited for it.
    if (loop?.usedTools) await this.#o.tools!.replyDone();
  }

  #speech(reply: Reply, textName: string): Speech {
    const speech = new Speech({
      tts: this.#o.leases.tts.instance,
      ttsName: this.#o.leases.tts.name,
      textName,
      playout: reply.gate,
      // A prepared reply's turn number is known only when the turn ends: its marks go by the attempt's.
      markPrefix: `${reply.gate.isOpen ? `t${reply.turnId}` : `a${reply.attempt}`}${reply.speech ? 'b' : ''}`,
      controller: reply.controller,
      timeoutMs: this.#o.settings.pluginTimeoutMs,
      now: this.#now,
      onFirstAudio: () =>
        reply.gate.when(() => {
          if (this.#reply === reply) this.#setState('speaking');
        }),
      onProgress: (text, heard) =>
        reply.gate.when(() =>
          this.#o.events.emit({ type: 'transcript', callSid: this.#o.callSid, turnId: reply.turnId, role: 'agent', text, heard, interrupted: false, final: false, at: Date.now() }),
        ),
    });
    reply.speech = speech;
    return speech;
  }

  async #greet(): Promise<void> {
    // A call back from a transfer numbers its greeting after the turns it already had.
    const reply = this.#begin(this.#o.firstTurnId !== undefined ? ++this.#turnId : 0);
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
    this.#recordAgentText(reply, result);
    reply.markRecorded();
  }

  #recordAgentText(reply: Reply, result: SpeechResult): void {
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
    if (!result.heard) return;
    this.#history.push({ role: 'assistant', content: interrupted ? `${result.heard} —` : result.heard });
    this.#prepareAhead(this.#messages(null, true));
  }

  #addUser(text: string): void {
    addUser(this.#history, text);
  }

  /**
   * What the LLM is sent: the system prompt and the recent history, at most maxHistory messages, with
   * `pendingUser` added as #addUser would. The window's start moves on half a window at a time, not one message
   * per turn: a prompt whose start stays put keeps the LLM's cache of the call valid (each turn evaluates only
   * its new words), where a window sliding every turn would make every turn re-evaluate the whole conversation.
   * `ahead` (for #prepareAhead) counts the caller's next words, so what is prepared is the window the next turn uses.
   */
  #messages(pendingUser: string | null = null, ahead = false): ChatMessage[] {
    const { systemPrompt, maxHistory } = this.#o.settings;
    const history = this.#history.map((m) => ({ ...m }));
    if (pendingUser) addUser(history, pendingUser);
    const max = Math.max(1, maxHistory);
    const length = history.length + (ahead && history.at(-1)?.role !== 'user' ? 1 : 0);
    if (length - this.#windowStart > max) this.#windowStart = length - Math.ceil(max / 2);
    const recent = history.slice(this.#windowStart);
    // A tool result without the tool call before it is refused by LLM APIs: the cut never starts with one.
    while (recent.length > 1 && recent[0]!.role === 'tool') recent.shift();
    return [...(systemPrompt.trim() ? [{ role: 'system' as const, content: systemPrompt }] : []), ...recent];
  }

  #finish(reply: Reply): void {
    reply.markRecorded();
    if (this.#reply !== reply) return;
    this.#reply = null;
    this.#o.hearing.agentActive = false;
    if (!this.#ended) this.#setState('listening');
  }
}

/** What the agent is told when the desk hands the call back. */
export const HANDBACK_NOTE =
  'The person at the desk spoke with the caller for a while; what they said is in the conversation as your words. You have the call again: carry on from here, and answer the caller\'s next words.';

/** How a whisper reaches the LLM: marked as private, so it is acted on and not read out. */
export const WHISPER_PREFIX = 'Private note from the person at the desk, for your next reply (the caller cannot hear this; do not read it out or mention it): ';

/**
 * A backchannel: nothing recognisable, or only words and phrases from `list` (comma-separated; case, punctuation
 * and hyphens ignored: "Mm-hm." matches "mm hm").
 */
export function isBackchannel(text: string, list: string): boolean {
  const words = (x: string) => x.toLowerCase().replace(/[-\u2010-\u2015]/g, ' ').replace(/[^\p{L}\p{N}' ]/gu, ' ').split(/\s+/).filter(Boolean);
  const said = words(text);
  const phrases = list.split(',').map(words).filter((p) => p.length > 0).sort((a, b) => b.length - a.length);
  for (let i = 0; i < said.length; ) {
    const p = phrases.find((p) => p.every((w, k) => said[i + k] === w));
    if (!p) return false;
    i += p.length;
  }
  return true;
}

/** The caller's words join the history; if they kept talking before hearing any reply, it is one turn, not two. */
function addUser(history: ChatMessage[], text: string): void {
  const last = history[history.length - 1];
  if (last?.role === 'user') last.content = `${last.content} ${text}`;
  else history.push({ role: 'user', content: text });
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
