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
import { BusyNotice } from './busy-notice.ts';
import { NotReadyNotice, notReadyReason, type NotReady } from './not-ready.ts';
import { openCallTools } from '../tools/open-tools.ts';
import { callPersona } from '../personas-for-calls.ts';
import type { ActionHost } from '../tools/actions.ts';
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
  /** A call coming back to the agent (an unanswered transfer): its conversation so far and what to say first. */
  resume?(callSid: string, parameters: Record<string, string>): { history: ChatMessage[]; lastTurnId: number; greeting: string } | null;
}

export function openCall(deps: OpenCallDeps, start: StartMessage, socket: StreamSocket): CallSession | BusyNotice | NotReadyNotice {
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
  if (deps.calls.inUse >= capacity) return openBusyNotice(deps, start, socket, capacity);
  // A plugin the call needs cannot start (not installed, failed to load, model missing): a spoken notice, not dead air.
  const notReady = notReadyReason(deps.plugins);
  if (notReady) return openNotReadyNotice(deps, start, socket, notReady);
  const { plugins } = deps;
  const taken: Lease<PluginKind>[] = [];
  const take = <K extends PluginKind>(kind: K): Lease<K> => {
    const lease = plugins.acquire(kind);
    taken.push(lease);
    return lease;
  };
  let session: CallSession;
  // Until the registry holds the session, nothing else will release what was taken.
  try {
    const turn = plugins.acquireOptional('turn');
    if (turn) taken.push(turn);
    const leases = { stt: take('stt'), llm: take('llm'), tts: take('tts'), turn };
    const p = s.customParameters;
    const tools = deps.actions ? openCallTools({ config: deps.config, plugins, host: deps.actions, events: deps.events, log: deps.log, call: { callSid: s.callSid, from: p.from ?? null, to: p.to ?? null, direction: callDirection(p.direction) } }) : null;
    if (tools) taken.push(...tools.leases);
    const resume = deps.resume?.(s.callSid, p) ?? null;
    const settings = conversationSettings(deps.config);
    // The persona that takes the call (main/core/personas.ts): by the number called, else the default.
    const persona = callPersona(deps.config, callDirection(p.direction) === 'inbound' ? (p.to ?? null) : null);
    if (persona.problem) deps.log.warn('personas unreadable: this call uses the default settings', { callSid: s.callSid, problem: persona.problem });
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
  return session;
}

/** All lines busy: the call hears the notice and is hung up, with no plugin taken and no model run. */
function openBusyNotice(deps: OpenCallDeps, start: StartMessage, socket: StreamSocket, capacity: number): BusyNotice {
  const s = start.start;
  const p = s.customParameters;
  const notice: BusyNotice = new BusyNotice({
    callSid: s.callSid,
    streamSid: s.streamSid,
    direction: callDirection(p.direction),
    from: p.from ?? null,
    to: p.to ?? null,
    socket,
    events: deps.events,
    log: deps.log.child({ callSid: s.callSid, streamSid: s.streamSid }),
    capacity,
    hangup: () => deps.calls.completeAtTwilio(s.callSid),
    onEnded: () => deps.calls.streamEnded(notice),
  });
  deps.calls.streamStarted(notice, socket);
  notice.start();
  return notice;
}

/** A needed plugin cannot start: the call hears the bundled "not ready" notice and is hung up. */
function openNotReadyNotice(deps: OpenCallDeps, start: StartMessage, socket: StreamSocket, why: NotReady): NotReadyNotice {
  const s = start.start;
  const p = s.customParameters;
  const notice: NotReadyNotice = new NotReadyNotice({
    callSid: s.callSid,
    streamSid: s.streamSid,
    direction: callDirection(p.direction),
    from: p.from ?? null,
    to: p.to ?? null,
    socket,
    events: deps.events,
    log: deps.log.child({ callSid: s.callSid, streamSid: s.streamSid }),
    why,
    hangup: () => deps.calls.completeAtTwilio(s.callSid),
    onEnded: () => deps.calls.streamEnded(notice),
  });
  deps.calls.streamStarted(notice, socket);
  notice.start();
  return notice;
}
