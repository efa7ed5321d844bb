/**
 * createCore(config): wires the engine together — plugins, voice activity detection, the HTTP server with
 * Twilio webhooks and the control API, the media WebSocket — and returns start()/stop(), the event stream and
 * the call controls. Plain Node: runs headless and inside Electron alike. Nothing here is global: two cores in
 * one process (the tests do that) share nothing.
 */
import { mkdirSync } from 'node:fs';
import { createEnergyVad } from './audio/vad/energy.ts';
import { createSileroVad } from './audio/vad/silero.ts';
import type { VadEngine } from './audio/vad/types.ts';
import { activePlugins, validatePatch, type Config } from './config.ts';
import { CallSession, type CallSessionOptions, type ConversationSettings } from './conversation/call-session.ts';
import { ParleyError, errorMessage } from './errors.ts';
import { CoreEvents, type CoreEvent, type AgentState, type CallDirection, type CallPlugins, type CallStatus } from './events.ts';
import { consoleSink, createLogger, type Logger } from './log.ts';
import type { PluginKind } from './plugins/api.ts';
import { PluginRegistry, type Lease } from './plugins/registry.ts';
import { checkControlToken, type Authorizer } from './server/access.ts';
import { HttpServer } from './server/http.ts';
import { MediaSocketServer } from './server/media-socket.ts';
import { controlRoutes, direction, voiceRoutes } from './server/routes.ts';
import { modelRoutes, pluginRoutes, recordRoutes } from './server/data-routes.ts';
import { buildCatalog } from './models/catalog.ts';
import { ModelManager } from './models/manager.ts';
import { CallStore } from './records/call-store.ts';
import type { StartMessage } from './twilio/protocol.ts';

export interface LiveCall {
  callSid: string;
  streamSid: string;
  direction: CallDirection;
  from: string | null;
  to: string | null;
  startedAt: number;
  state: AgentState;
  plugins: CallPlugins;
}

export interface CoreOptions {
  log?: Logger;
  events?: CoreEvents;
  /** Extra authorization (Twilio signatures); runs after the built-in control-token check. */
  authorize?: Authorizer;
  /** Start active plugins at start-up rather than at the first call (default true). */
  warmPlugins?: boolean;
  /** Watch plugin folders for changes (default true). */
  watchPlugins?: boolean;
  /** Keep call records in <dataDir> (default true). */
  records?: boolean;
}

export interface Core {
  readonly config: Config;
  readonly events: CoreEvents;
  readonly log: Logger;
  readonly plugins: PluginRegistry;
  readonly models: ModelManager;
  /** The call records (null until started, or when the database could not open). */
  readonly records: CallStore | null;
  readonly http: HttpServer;
  /** Set once started. */
  readonly url: string | null;
  start(): Promise<{ url: string; host: string; port: number }>;
  stop(): Promise<void>;
  interrupt(callSid: string): void;
  calls(): LiveCall[];
  /** The conversation settings new calls get (GUI edits change them live). */
  conversationSettings(): ConversationSettings;
  /**
   * Change settings at run time (validated; see config.ts SETTINGS). Conversation settings apply to new calls;
   * components that depend on others (Twilio client, tunnel) listen for `config.changed`.
   */
  applySettings(patch: Record<string, unknown>): Partial<Config>;
}

export function createCore(config: Config, options: CoreOptions = {}): Core {
  const log = options.log ?? createLogger({ level: config.logLevel, sinks: [consoleSink(config.logFormat)] });
  const events = options.events ?? new CoreEvents((err, event) => log.error('event listener failed', { event: event.type, error: errorMessage(err) }));
  const sessions = new Map<string, CallSession>();
  let vad: VadEngine | null = null;
  let url: string | null = null;
  let started = false;

  const conversation: ConversationSettings = {
    greeting: config.greeting,
    systemPrompt: config.systemPrompt,
    maxHistory: config.maxHistory,
    silenceMs: config.silenceMs,
    minSpeechMs: config.minSpeechMs,
    bargeInMinMs: config.bargeInMinMs,
    maxTurnMs: config.maxTurnMs,
    speculativeMs: config.speculativeMs,
    pluginTimeoutMs: config.pluginTimeoutMs,
    leadMs: config.leadMs,
    apology: config.apology,
  };

  const plugins = new PluginRegistry({
    builtinDir: config.pluginsDir || null,
    userDir: config.userPluginsDir || null,
    active: activePlugins(config),
    settings: config.pluginSettings,
    modelDir: config.modelsDir,
    log,
    events,
    watch: options.watchPlugins ?? true,
    warm: options.warmPlugins ?? true,
  });

  const models = new ModelManager({
    modelsDir: config.modelsDir,
    catalog: () => buildCatalog(plugins.manifests().map((manifest) => ({ manifest }))).entries,
    onEvent: (e) => events.emit(e),
    log,
  });
  let records: CallStore | null = null;

  const authorize: Authorizer = async (access, req, u, body) => {
    if (access === 'control') checkControlToken(config.controlToken, req, u);
    await options.authorize?.(access, req, u, body);
  };

  const http = new HttpServer({ log, authorize });

  const startCall = (start: StartMessage, send: (text: string) => void): CallSession => {
    const s = start.start;
    if (!vad) throw new ParleyError('INTERNAL', 'the core is not started');
    if (sessions.has(s.callSid)) throw new ParleyError('BAD_REQUEST', `call ${s.callSid} already has a media stream`);
    const taken: { release(): void }[] = [];
    const take = <K extends PluginKind>(kind: K): Lease<K> => {
      const lease = plugins.acquire(kind);
      taken.push(lease);
      return lease;
    };
    let leases: CallSessionOptions['leases'];
    try {
      leases = { stt: take('stt'), llm: take('llm'), tts: take('tts') };
    } catch (err) {
      for (const l of taken) l.release();
      throw err;
    }
    const p = s.customParameters;
    const session = new CallSession({
      callSid: s.callSid,
      streamSid: s.streamSid,
      direction: direction(p.direction),
      from: p.from ?? null,
      to: p.to ?? null,
      customParameters: p,
      models: { stt: plugins.modelOf(leases.stt.name), llm: plugins.modelOf(leases.llm.name), tts: plugins.modelOf(leases.tts.name) },
      send,
      events,
      log: log.child({ callSid: s.callSid, streamSid: s.streamSid }),
      vad: vad.createStream(),
      leases,
      settings: { ...conversation },
    });
    sessions.set(s.callSid, session);
    const end = session.end.bind(session);
    session.end = (reason: string) => {
      end(reason);
      if (sessions.get(s.callSid) === session) sessions.delete(s.callSid);
    };
    session.start();
    return session;
  };

  const media = new MediaSocketServer({
    log,
    onStart: startCall,
    onProblem: (callSid, code, message) => events.emit({ type: 'call.error', callSid, code, message, at: Date.now() }),
  });
  http.upgrade(media.handler('/media'));

  const interrupt = (callSid: string) => {
    const session = sessions.get(callSid);
    if (!session) throw new ParleyError('CALL_NOT_FOUND', `no live call ${callSid}. GET /calls lists the live calls.`);
    session.interrupt('manual');
  };

  const calls = (): LiveCall[] =>
    [...sessions.values()].map((s) => ({
      callSid: s.callSid,
      streamSid: s.streamSid,
      direction: s.direction,
      from: s.from,
      to: s.to,
      startedAt: s.startedAt,
      state: s.state,
      plugins: s.plugins,
    }));

  const routeDeps = {
    publicUrl: () => config.publicUrl,
    statusCallback: (st: { callSid: string; status: CallStatus; direction?: CallDirection; from?: string | null; to?: string | null; durationSec?: number; errorCode?: string }) => {
      events.emit({ type: 'call.status', ...st, at: Date.now() });
      if (['completed', 'busy', 'no-answer', 'failed', 'canceled'].includes(st.status)) sessions.get(st.callSid)?.end(`status ${st.status}`);
    },
    interrupt,
    subscribe: (listener: (event: CoreEvent) => void) => events.onAny((e) => e.type !== 'call.audio' && listener(e)),
    health: () => ({ ok: true, calls: sessions.size, uptimeSec: Math.round(process.uptime()), version: process.env.npm_package_version ?? null }),
    liveCalls: calls,
  };
  http.route(...voiceRoutes(routeDeps), ...controlRoutes(routeDeps), ...pluginRoutes(plugins), ...modelRoutes(models), ...recordRoutes(() => records));
  // A model that finishes downloading may be what a failed plugin was missing: let it try again.
  events.on('model.progress', (e) => {
    if (e.state === 'done') void plugins.retryFailed();
  });

  return {
    config,
    events,
    log,
    plugins,
    models,
    get records() {
      return records;
    },
    http,
    get url() {
      return url;
    },
    async start() {
      if (started) throw new ParleyError('INTERNAL', 'core already started');
      started = true;
      for (const dir of [config.dataDir, config.userPluginsDir]) if (dir) mkdirSync(dir, { recursive: true });
      if (config.vad === 'silero') {
        try {
          vad = await createSileroVad();
        } catch (err) {
          log.error('Silero VAD unavailable; falling back to the energy detector', { error: errorMessage(err) });
          vad = createEnergyVad();
        }
      } else vad = createEnergyVad();
      if (options.records ?? true) {
        try {
          records = await CallStore.open({ dataDir: config.dataDir, log, recordCalls: config.recordCalls, retentionDays: config.retentionDays || null });
          records.attach(events);
        } catch (err) {
          log.error('call records unavailable; calls go on without being recorded', { error: errorMessage(err) });
        }
      }
      await plugins.start();
      const addr = await http.listen(config.port, config.host);
      url = addr.url;
      log.info(`listening on ${addr.url}`, { vad: vad.name, stt: plugins.activeName('stt'), llm: plugins.activeName('llm'), tts: plugins.activeName('tts') });
      return addr;
    },
    async stop() {
      for (const s of sessions.values()) s.end('server stopping');
      await media.close();
      await http.close();
      await plugins.stop();
      await vad?.dispose();
      vad = null;
      await records?.close();
      records = null;
    },
    interrupt,
    calls,
    conversationSettings: () => ({ ...conversation }),
    applySettings(patch) {
      const valid = validatePatch(patch);
      const { pluginSettings, ...rest } = valid;
      Object.assign(config, rest);
      for (const key of Object.keys(rest)) if (key in conversation) (conversation as unknown as Record<string, unknown>)[key] = (rest as Record<string, unknown>)[key];
      if (conversation.speculativeMs > conversation.silenceMs) conversation.speculativeMs = conversation.silenceMs;
      if (pluginSettings) {
        for (const [name, values] of Object.entries(pluginSettings)) {
          config.pluginSettings[name] = { ...values };
          plugins.setSettings(name, values);
        }
      }
      for (const kind of ['stt', 'llm', 'tts'] as const) if (typeof rest[kind] === 'string' && rest[kind]) plugins.setActive(kind, rest[kind]!);
      if (rest.recordCalls !== undefined || rest.retentionDays !== undefined) records?.setOptions({ recordCalls: config.recordCalls, retentionDays: config.retentionDays || null });
      events.emit({ type: 'config.changed', keys: Object.keys(valid), at: Date.now() });
      return valid;
    },
  };
}
