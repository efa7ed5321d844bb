/**
 * A media stream's `start` became a call: take the active plugins, build the CallSession, register it with
 * the call registry (which refuses a second stream for the same call, and — signatures on — one that holds no
 * admission ticket), hand its audio tap to the recorder,
 * and start it. A call beyond PARLEY_MAX_CALLS takes no plugins: it hears the busy notice and is hung up.
 */
import type { VadEngine } from '../audio/vad/types.ts';
import { conversationSettings } from '../conversation/conversation-settings.ts';
import { CallSession } from '../conversation/call-session.ts';
import type { TappedFrame } from '../audio/audio-tap.ts';
import type { PacingStats } from '../conversation/pacing-stats.ts';
import { callCapacity, type Config } from '../config.ts';
import { ParleyError } from '../errors.ts';
import type { CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ChatMessage, PluginKind } from '../plugins/api.ts';
import type { Lease, PluginRegistry } from '../plugins/registry.ts';
import type { StartMessage } from '../twilio/media-stream.ts';
import { callDirection } from '../twilio/twiml.ts';
import { busyNotice } from './busy-notice.ts';
import { ClipNotice, type NoticeKind } from './clip-notice.ts';
import { notReadyNotice, notReadyReason } from './not-ready.ts';
import { openCallTools } from '../tools/open-tools.ts';
import { CallPersonas } from '../personas-for-calls.ts';
import type { Persona } from '../personas.ts';
import type { ActionHost } from '../tools/actions.ts';
import type { ApprovalDesk } from '../tools/approvals.ts';
import type { CallRegistry, StreamSocket } from './call-registry.ts';

export interface OpenCallDeps {
  config: Config;
  plugins: PluginRegistry;
  calls: CallRegistry;
  events: CoreEvents;
  log: Logger;
  pacing: PacingStats;
  /** The started core's VAD (null before start). */
  vad(): VadEngine | null;
  /** Signatures are on: the call must hold an admission ticket (CallRegistry.announce), used up here. */
  requireAdmission(): boolean;
  /** Where call audio is recorded, when recording is on (null: not recorded). */
  recorder(): { recordAudio(callSid: string, frame: TappedFrame): void } | null;
  /** What tools' host actions do (end the call, keep a message); without it, calls get no tools. */
  actions?: ActionHost;
  /** Where "ask first" tools wait for Approve / Deny (tools/approvals.ts); without it no tool asks. */
  approvals?: ApprovalDesk;
  /** A call coming back to the agent (an unanswered transfer): its conversation so far and what to say first. */
  resume?(callSid: string, parameters: Record<string, string>): { history: ChatMessage[]; lastTurnId: number; greeting: string } | null;
  /** Which persona each call has (the core's one memory of it; without it, personas are looked up afresh). */
  personas?: CallPersonas;
}

export function openCall(deps: OpenCallDeps, start: StartMessage, socket: StreamSocket): CallSession | ClipNotice {
  const s = start.start;
  const vad = deps.vad();
  if (!vad) throw new ParleyError('INTERNAL', 'the core is not started');
  // The registry refuses a second stream too; asking first spares taking the plugins for nothing.
  if (deps.calls.session(s.callSid)) throw new ParleyError('BAD_REQUEST', `call ${s.callSid} already has a media stream`);
  if (deps.requireAdmission() && !deps.calls.admit(s.callSid)) {
    throw new ParleyError(
      'FORBIDDEN',
      `call ${s.callSid} was not announced by a signed /voice/incoming or Parley's own dial in the last few minutes, or its stream was already opened once: a replayed or forged stream`,
    );
  }
  // Checked and registered in one synchronous step, so two starts at once can't both take the last line.
  const capacity = callCapacity(deps.config.maxCalls);
  if (deps.calls.inUse >= capacity) return openNotice(deps, start, socket, (from) => busyNotice(capacity, from));
  // A plugin the call needs cannot start (not installed, failed to load, model missing): a spoken notice, not dead air.
  const notReady = notReadyReason(deps.plugins);
  if (notReady) return openNotice(deps, start, socket, (from) => notReadyNotice(notReady, from));
  const { plugins } = deps;
  const taken: Lease<PluginKind>[] = [];
  const take = <K extends PluginKind>(kind: K): Lease<K> => {
    const lease = plugins.acquire(kind);
    taken.push(lease);
    return lease;
  };
  let session: CallSession;
  let persona: Persona;
  // Until the registry holds the session, nothing else will release what was taken.
  try {
    const turn = plugins.acquireOptional('turn');
    if (turn) taken.push(turn);
    const p = s.customParameters;
    const direction = callDirection(p.direction);
    // The persona that takes the call (main/core/personas.ts): inbound by the number called, outbound the one the
    // dial named; else the default. Its voice, tools, prompt and greeting are this call's.
    const chosen = (deps.personas ?? new CallPersonas(deps.config)).open(s.callSid, direction, p.to ?? null);
    if (chosen.problem) deps.log.warn('personas unreadable: this call uses the default settings', { callSid: s.callSid, problem: chosen.problem });
    persona = chosen;
    const leases = { stt: takeStt(deps, persona, s.callSid, taken), llm: take('llm'), tts: takeVoice(deps, persona, s.callSid, taken), turn };
    // The transfer number too: an ask-first transfer shows the desk where the caller would go.
    const toolConfig = { ...deps.config, tools: persona.tools, transferNumber: persona.transferNumber || deps.config.transferNumber };
    const tools = deps.actions ? openCallTools({ config: toolConfig, plugins, host: deps.actions, events: deps.events, log: deps.log, ...(deps.approvals ? { approvals: deps.approvals } : {}), call: { callSid: s.callSid, from: p.from ?? null, to: p.to ?? null, direction: callDirection(p.direction) } }) : null;
    if (tools) taken.push(...tools.leases);
    const resume = deps.resume?.(s.callSid, p) ?? null;
    const settings = conversationSettings(deps.config);
    settings.greeting = persona.greeting;
    settings.systemPrompt = persona.systemPrompt;
    if (resume) settings.greeting = resume.greeting;
    session = new CallSession({
      callSid: s.callSid,
      streamSid: s.streamSid,
      direction: callDirection(p.direction),
      from: p.from ?? null,
      to: p.to ?? null,
      customParameters: p,
      models: { stt: plugins.modelOf(leases.stt.name), llm: plugins.modelOf(leases.llm.name), tts: plugins.modelOf(leases.tts.name) },
      send: socket.send,
      events: deps.events,
      log: deps.log.child({ callSid: s.callSid, streamSid: s.streamSid }),
      vad: vad.createStream(),
      // The desk's mic gets a VAD of its own, made only if the person at the desk takes the call over.
      deskVad: () => vad.createStream(),
      leases,
      tools: tools?.tools ?? null,
      settings,
      pacing: deps.pacing,
      ...(resume ? { resume: { history: resume.history, lastTurnId: resume.lastTurnId } } : {}),
      onEnded: () => deps.calls.streamEnded(session),
      // The idle watch and the longest call hang up the way end_call does.
      hangUp: (reason) => {
        if (deps.actions) void deps.actions.endCall(s.callSid, reason).catch((err: unknown) => deps.log.warn('hanging up failed', { callSid: s.callSid, error: String(err) }));
        else deps.calls.endStream(s.callSid, reason);
      },
    });
    deps.calls.streamStarted(session, socket);
  } catch (err) {
    for (const l of taken) l.release();
    throw err;
  }
  const recorder = deps.recorder();
  if (recorder) session.tap.subscribe((frame) => recorder.recordAudio(s.callSid, frame));
  session.start();
  // After call.started, so the records have the call's row to put it on.
  deps.events.emit({ type: 'call.persona', callSid: s.callSid, persona: persona.name, at: Date.now() });
  return session;
}

/**
 * The persona's voice: its TTS plugin with its settings over the app's. A plugin that is not installed (or whose
 * instance with those settings cannot start) gives the app's voice, with a warning naming the persona and plugin.
 */
function takeVoice(deps: OpenCallDeps, persona: Persona, callSid: string, taken: Lease<PluginKind>[]): Lease<'tts'> {
  const { plugin, settings } = persona.voice;
  const name = plugin || deps.plugins.activeName('tts');
  if (name && (plugin || Object.keys(settings).length > 0)) {
    const voice = deps.plugins.acquireVoice(name, settings);
    if (voice) {
      taken.push(voice);
      return voice;
    }
    deps.log.warn(`persona "${persona.name}": its voice plugin "${name}" is not installed or cannot start; this call uses the app's voice`, { callSid, plugin: name });
  }
  const lease = deps.plugins.acquire('tts');
  taken.push(lease);
  return lease;
}

/**
 * Speech-to-text in the persona's language, when it names one and the STT plugin has a `language` setting
 * (whisper-stt); a plugin without one hears the app's language, which the log says once per call.
 */
function takeStt(deps: OpenCallDeps, persona: Persona, callSid: string, taken: Lease<PluginKind>[]): Lease<'stt'> {
  const language = persona.language.trim();
  const name = deps.plugins.activeName('stt');
  if (language && name) {
    const lease = deps.plugins.hasSetting(name, 'language') ? deps.plugins.acquireVariant('stt', name, { language }) : null;
    if (lease) {
      taken.push(lease);
      return lease;
    }
    deps.log.info(`persona "${persona.name}" asks for language "${language}", which the speech-to-text plugin "${name}" cannot be set to; this call uses its own`, { callSid, plugin: name });
  }
  const lease = deps.plugins.acquire('stt');
  taken.push(lease);
  return lease;
}

/** The call is not the agent's (all lines busy, or a needed plugin cannot start): it hears a notice and is hung up. */
function openNotice(deps: OpenCallDeps, start: StartMessage, socket: StreamSocket, kind: (from: string | null) => NoticeKind): ClipNotice {
  const s = start.start;
  const p = s.customParameters;
  const notice: ClipNotice = new ClipNotice({
    callSid: s.callSid,
    streamSid: s.streamSid,
    direction: callDirection(p.direction),
    from: p.from ?? null,
    to: p.to ?? null,
    socket,
    events: deps.events,
    log: deps.log.child({ callSid: s.callSid, streamSid: s.streamSid }),
    kind: kind(p.from ?? null),
    hangup: () => deps.calls.completeAtTwilio(s.callSid),
    onEnded: () => deps.calls.streamEnded(notice),
  });
  deps.calls.streamStarted(notice, socket);
  notice.start();
  return notice;
}
