/**
 * createCore(config): wires the engine together — plugins, voice activity detection, the HTTP server with
 * Twilio webhooks and the control API, the media WebSocket — and returns start()/stop(), the event stream and
 * the call controls. Plain Node: runs headless and inside Electron alike. Nothing here is global: two cores in
 * one process (the tests do that) share nothing.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PacingStats } from './conversation/pacing-stats.ts';
import { createEnergyVad } from './audio/vad/energy.ts';
import { createSileroVad } from './audio/vad/silero.ts';
import type { VadEngine } from './audio/vad/types.ts';
import { activePlugins, callCapacity, validatePatch, type Config } from './config.ts';
import { conversationSettings, type ConversationSettings } from './conversation/conversation-settings.ts';
import { ParleyError, errorMessage } from './errors.ts';
import { CoreEvents, type CallStatus } from './event-bus.ts';
import { consoleSink, createLogger, type Logger } from './log.ts';
import { PluginRegistry } from './plugins/registry.ts';
import { poolSize } from './plugins/worker-pool.ts';
import { checkControlToken, hostProblem, isLoopbackPeer, twilioSignatureAuthorizer, type Authorizer } from './server/access.ts';
import { DEFAULT_LISTENER_LIMITS, HttpServer, type ListenerLimits } from './server/http.ts';
import { DEFAULT_MEDIA_MAX_BUFFERED_BYTES, DEFAULT_START_TIMEOUT_MS, MediaSocketServer } from './server/media-socket.ts';
import { TestCallSocketServer, isTestCallSid } from './server/test-call-socket.ts';
import { DeskSocketServer } from './server/desk-socket.ts';
import { deskRoutes } from './server/desk-routes.ts';
import { DEFAULT_SSE_MAX_BUFFERED_BYTES, controlRoutes } from './server/control-routes.ts';
import { voiceRoutes } from './server/voice-routes.ts';
import { modelRoutes, pluginRoutes, recordRoutes } from './server/data-routes.ts';
import { settingsRoutes, type SecretStore } from './server/settings-routes.ts';
import { buildCatalog } from './models/catalog.ts';
import { ModelLibrary } from './models/library.ts';
import { CallStore } from './records/call-store.ts';
import { ensureControlToken } from './control-token.ts';
import { ensurePrivateDir } from './private-files.ts';
import { runDoctor, type DoctorReport } from './setup-doctor.ts';
import { StatusBoard, type CoreStatus } from './status-board.ts';
import { callRoutes } from './server/call-routes.ts';
import type { Backoff, NgrokConnect } from './tunnel/ngrok.ts';
import { PublicEndpoint } from './tunnel/public-endpoint.ts';
import { TwilioAccount } from './twilio/account.ts';
import { CallFeatures } from './calls/call-features.ts';
import { CallRegistry, type CallTimeouts } from './calls/call-registry.ts';
import { hangUp } from './calls/hang-up.ts';
import { openCall } from './calls/open-call.ts';
import { createActionHost, twilioActionHost } from './calls/action-host.ts';
import { toolSelected } from './tools/call-tools.ts';
import { ApprovalDesk } from './tools/approvals.ts';
import { signatureSetupWarning } from './twilio/signature.ts';
import { CallPersonas } from './personas-for-calls.ts';
import type { Persona } from './personas.ts';
import type { LiveCall } from '../shared/calls.ts';
export type { LiveCall } from '../shared/calls.ts';

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
  /** Twilio REST API origin (tests point it at a local fake). Default https://api.twilio.com. */
  twilioApiUrl?: string;
  /** ngrok's connect (tests inject a fake: ngrok's servers are not reachable from tests). */
  ngrokConnect?: NgrokConnect;
  /** Tunnel reconnect backoff (tests make it short). */
  tunnelBackoff?: Partial<Backoff>;
  /** How long calls may go without news before Parley gives up on them (tests make them short). */
  callTimeouts?: Partial<CallTimeouts>;
  /** HTTP client for the doctor's probe of the public URL (tests reroute it). Default: global fetch. */
  fetch?: typeof fetch;
  /** Where PUT /settings keeps secrets (the desktop app: its keychain). Default: none — env / .env only. */
  secrets?: SecretStore;
  /** Deadlines and buffer limits of the listeners (tests make them short; defaults in docs/api.md, "Limits"). */
  limits?: Partial<ServerLimits>;
}

/** The fixed limits (the user-facing ones are settings: maxStreams, maxConnectionsPerAddress). */
export interface ServerLimits extends Omit<ListenerLimits, 'maxConnectionsPerAddress'> {
  /** A /media socket that sends no `start` within this is closed. */
  mediaStartTimeoutMs: number;
  /** Bytes buffered for a /media peer that stopped reading before it is cut off. */
  mediaMaxBufferedBytes: number;
  /** Bytes buffered for an /events client that stopped reading before it is cut off. */
  sseMaxBufferedBytes: number;
}

export interface Core {
  readonly config: Config;
  readonly events: CoreEvents;
  readonly log: Logger;
  readonly plugins: PluginRegistry;
  readonly models: ModelLibrary;
  /** The call records (null until started, or when the database could not open). */
  readonly records: CallStore | null;
  readonly http: HttpServer;
  /** Set once started. */
  readonly url: string | null;
  start(): Promise<{ url: string; host: string; port: number }>;
  stop(): Promise<void>;
  interrupt(callSid: string): void;
  /** A private note for the agent's next reply on a live call (never spoken to the caller). */
  whisper(callSid: string, text: string): { turnId: number };
  /** The desk's Approve (true) / Deny (false) for an ask-first tool waiting on a live call (`call.approval` pending). */
  approve(callSid: string, approvalId: string, approve: boolean): { state: 'approved' | 'denied' | 'timed-out' };
  /** The person at the desk takes a live call over (true) or hands it back (false). */
  takeOver(callSid: string, take: boolean): { takenOver: boolean };
  calls(): LiveCall[];
  /** The conversation settings new calls get (GUI edits change them live). */
  conversationSettings(): ConversationSettings;
  /**
   * Change settings at run time (validated; see config.ts SETTINGS). Conversation settings apply to new calls;
   * components that depend on others (Twilio client, tunnel) listen for `config.changed`.
   */
  applySettings(patch: Record<string, unknown>): Partial<Config>;
  /**
   * Place an outbound call that connects to the agent: E.164 checked, rate-limited, through Twilio's REST API.
   * `persona` names who speaks (case-insensitive; none = the default persona; unknown = BAD_REQUEST).
   */
  dial(input: { to: string; from?: string; persona?: string }): Promise<{ callSid: string }>;
  /** Which persona each call has (personas-for-calls.ts). */
  readonly personas: CallPersonas;
  /** Complete a call through Twilio's REST API and end its session. */
  hangup(callSid: string): Promise<void>;
  /** Is Parley ready for calls: server, tunnel / public URL, Twilio. Every change is also a `server.status` event. */
  status(): CoreStatus;
  /** The setup doctor: each failed check says what to do. */
  doctor(): Promise<DoctorReport>;
  /** The public base URL Twilio reaches this app at ('' until there is one): PUBLIC_URL, else the tunnel's. */
  publicUrl(): string;
  /** Transfer, text messages, keys and voicemail on live calls (what tools ask for through host actions). */
  readonly callFeatures: CallFeatures;
}

export function createCore(config: Config, options: CoreOptions = {}): Core {
  const log = options.log ?? createLogger({ level: config.logLevel, sinks: [consoleSink(config.logFormat)] });
  const events = options.events ?? new CoreEvents((err, event) => log.error('event listener failed', { event: event.type, error: errorMessage(err) }));
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const pacing = new PacingStats();
  let vad: VadEngine | null = null;
  let url: string | null = null;
  let started = false;
  /** Tells this running app from any other: the doctor checks the public URL reaches *this* /health. */
  const instance = randomBytes(8).toString('hex');
  const board = new StatusBoard((e) => events.emit(e), { calls: () => ({ inUse: calls.inUse, capacity: callCapacity(config.maxCalls) }) });

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
    toolOffered: (tool, plugin) => toolSelected(config.tools, tool, plugin),
    // STT and TTS run in a pool of worker processes each (fair per-call queue); the LLM batches calls itself; the
    // turn model is cheap: one process, but queued fairly too.
    pools: { stt: poolSize(config.sttWorkers), tts: poolSize(config.ttsWorkers), turn: 1 },
  });

  const models = new ModelLibrary({
    modelsDir: config.modelsDir,
    catalog: () => buildCatalog(plugins.manifests().map((manifest) => ({ manifest }))).entries,
    onEvent: (e) => events.emit(e),
    log,
  });
  let records: CallStore | null = null;

  const limits: ServerLimits = {
    ...DEFAULT_LISTENER_LIMITS,
    mediaStartTimeoutMs: DEFAULT_START_TIMEOUT_MS,
    mediaMaxBufferedBytes: DEFAULT_MEDIA_MAX_BUFFERED_BYTES,
    sseMaxBufferedBytes: DEFAULT_SSE_MAX_BUFFERED_BYTES,
    ...options.limits,
  };
  const listenerLimits: ListenerLimits = { ...limits, maxConnectionsPerAddress: () => config.maxConnectionsPerAddress };
  const signatures = twilioSignatureAuthorizer({
    authToken: () => config.twilioAuthToken,
    enabled: () => config.validateSignatures,
    publicUrls: () => endpoint.urls(),
    // Unsigned Twilio requests (no auth token) pass only from this computer with no public URL: the simulator.
    exposure: (req) => {
      if (endpoint.receivedThroughTunnel(req)) return 'it came through the ngrok tunnel';
      const pub = endpoint.urls()[0];
      if (pub) return `Parley is reachable from outside at ${pub}`;
      if (!isLoopbackPeer(req)) return `it came from ${req.socket.remoteAddress ?? 'another computer'}, not from this one`;
      return null;
    },
    log: log.child({ component: 'signatures' }),
  });
  // Signatures on (and checkable): a stream may open only a call a signed webhook or our own dial announced.
  const requireAdmission = () => config.validateSignatures && !!config.twilioAuthToken;
  const authorize: Authorizer = async (access, req, u, body) => {
    if (access === 'control') checkControlToken(config.controlToken, req, u);
    signatures(access, req, u, body);
    await options.authorize?.(access, req, u, body);
  };
  // The one registry of live calls: Twilio status, media stream and session, keyed by callSid.
  const calls: CallRegistry = new CallRegistry({
    emit: (e) => events.emit(e),
    log: log.child({ component: 'calls' }),
    lookup: (sid): Promise<CallStatus | null> => account.lookup(sid),
    hangup: async (sid) => void (await account.rest().completeCall(sid)),
    publicUrl: () => endpoint.url(),
    ...(options.callTimeouts ? { timeouts: options.callTimeouts } : {}),
  });
  const account: TwilioAccount = new TwilioAccount({
    config,
    log,
    calls,
    publicUrl: () => endpoint.url(),
    publicProblem: () => endpoint.problem(),
    onStatus: (s) => board.set('twilio', s),
    ...(options.twilioApiUrl ? { apiBaseUrl: options.twilioApiUrl } : {}),
  });

  // The loopback listener answers only to loopback names (and PUBLIC_URL's host): no DNS rebinding.
  const http = new HttpServer({ log, authorize, limits: listenerLimits, hostProblem: (req) => hostProblem(req, { publicUrl: config.publicUrl, bindHost: config.host }) });

  // What tools' host actions do to a call (tools/actions.ts): end it, keep a message.
  // A persona's voice runs in a TTS instance of its own: start those before the first call needs one.
  const warmVoices = (list: readonly Persona[]) => {
    for (const p of list) {
      const name = p.voice.plugin || plugins.activeName('tts');
      if (name && (p.voice.plugin || Object.keys(p.voice.settings).length > 0)) plugins.acquireVoice(name, p.voice.settings)?.release();
    }
  };
  const personas = new CallPersonas(config, warmVoices);
  const actions = {
    ...createActionHost({ calls, account, events, log: log.child({ component: 'tools' }), textOwner: (sid, m) => features.textOwner(sid, m) }),
    ...twilioActionHost(() => features),
  };
  // Where ask-first tools (--ask-first) wait for the desk's Approve / Deny.
  const approvals = new ApprovalDesk({ events, isLive: (sid) => calls.session(sid) !== null });
  const media = new MediaSocketServer({
    log,
    onStart: (start, socket) =>
      openCall({ config, plugins, calls, events, log, pacing, vad: () => vad, requireAdmission, recorder: () => records, resume: (sid, p) => features.resumeFor(sid, p), actions, approvals, personas }, start, socket),
    onProblem: (callSid, code, message) => events.emit({ type: 'call.error', callSid, code, message, at: Date.now() }),
    startTimeoutMs: limits.mediaStartTimeoutMs,
    maxBufferedBytes: limits.mediaMaxBufferedBytes,
    maxStreams: () => config.maxStreams,
  });
  http.upgrade(media.handler('/media'));
  // The GUI's Test call (mic and speakers, no Twilio): the same engine, local-only, never through the tunnel.
  const testCalls = new TestCallSocketServer({
    log,
    token: () => config.controlToken,
    onStart: (start, socket) =>
      openCall({ config, plugins, calls, events, log, pacing, vad: () => vad, requireAdmission: () => false, recorder: () => records, resume: () => null, actions, approvals, personas }, start, socket),
    onProblem: (callSid, code, message) => events.emit({ type: 'call.error', callSid, code, message, at: Date.now() }),
    startTimeoutMs: limits.mediaStartTimeoutMs,
    maxBufferedBytes: limits.mediaMaxBufferedBytes,
    maxStreams: () => config.maxStreams,
  });
  http.upgrade(testCalls.handler());
  // Listen and Take over: the desk joins a live call's audio (local-only, the GUI's token, never the tunnel).
  const desk = new DeskSocketServer({
    log,
    token: () => config.controlToken,
    session: (sid) => calls.deskSession(sid),
    onCallEnded: (sid, ended) =>
      events.on('call.ended', (e) => {
        if (e.callSid === sid) ended(e.reason);
      }),
  });
  http.upgrade(desk.handler());

  const health = () => ({
    ok: true,
    instance,
    calls: calls.streams,
    uptimeSec: Math.round(process.uptime()),
    version: process.env.npm_package_version ?? null,
    // How late the media server's timers run (99th percentile since start): the pacing budget's health.
    eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
    pacing: pacing.snapshot(),
    // Record writes that failed (a full disk): `ok` stays about the process; this says whether calls are kept.
    records: records ? records.status : null,
  });
  // Emits call.status for news (not for duplicates or stale callbacks); a final status ends the session.
  // Transfer, text messages, keys and voicemail: what the agent's tools do through Twilio.
  const features: CallFeatures = new CallFeatures({ config, account, calls, events, log, publicUrl: () => endpoint.url(), hangup: (sid) => hangUp(calls, account, sid), persona: (sid) => personas.of(sid) });
  const twilioRoutes = voiceRoutes({
    publicUrl: () => endpoint.url(),
    statusCallback: (st) => void calls.update(st),
    announce: (sid) => calls.announce(sid),
    transferResult: (form) => features.transferResult(form),
    answeredBy: (form) => features.answeredBy(form),
  });
  // Where Twilio reaches us: PUBLIC_URL or the ngrok tunnel (which only ever sees the Twilio routes).
  const endpoint = new PublicEndpoint({
    config,
    log,
    authorize,
    twilioRoutes,
    media: media.handler('/media'),
    health: () => ({ ok: true, instance }),
    limits: listenerLimits,
    onStatus: (s) => board.set('tunnel', s),
    onUrlChange: (u) => void account.pointNumber(u),
    ...(options.ngrokConnect ? { connect: options.ngrokConnect } : {}),
    ...(options.tunnelBackoff ? { backoff: options.tunnelBackoff } : {}),
  });
  const doctor = (): Promise<DoctorReport> =>
    runDoctor({
      config,
      plugins,
      models,
      account,
      endpoint,
      listeningUrl: () => url,
      instance,
      ...((options.records ?? true) ? { records: () => records?.status ?? null } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  const dial = async (input: { to: string; from?: string; persona?: string }) => {
    // An unknown persona is refused before anything is placed (or counted against the dial rate).
    const persona = personas.forDial(input.persona);
    const placed = await account.dial(input.from === undefined ? { to: input.to } : { to: input.to, from: input.from });
    personas.dialled(placed.callSid, persona);
    // In the records from the start: a call never answered still says who would have spoken.
    events.emit({ type: 'call.persona', callSid: placed.callSid, persona: persona.name, at: Date.now() });
    calls.announce(placed.callSid); // our own call: its stream may start (once)
    return placed;
  };
  const hangup = async (callSid: string) => {
    // A test call has no Twilio call behind it: end it here, never through the REST API.
    if (isTestCallSid(callSid) && calls.endStream(callSid, 'hung up')) return;
    await hangUp(calls, account, callSid);
  };
  const interrupt = (callSid: string) => calls.interrupt(callSid);
  const whisper = (callSid: string, text: string) => calls.whisper(callSid, text);
  const approve = (callSid: string, approvalId: string, yes: boolean) => approvals.decide(callSid, approvalId, yes);
  const takeOver = (callSid: string, take: boolean) => calls.takeOver(callSid, take);
  const liveCalls = () => calls.live();
  http.route(
    ...twilioRoutes,
    ...controlRoutes({ subscribe: (listener) => events.onAny(listener), health, status: () => board.get(), doctor, log, sseMaxBufferedBytes: limits.sseMaxBufferedBytes }),
    ...deskRoutes({ takeOver }),
    ...callRoutes({ liveCalls, dial, hangup, interrupt, whisper, approve, lines: () => ({ inUse: calls.inUse, capacity: callCapacity(config.maxCalls) }) }),
    ...pluginRoutes(plugins),
    ...modelRoutes(models),
    ...recordRoutes(() => records),
    ...settingsRoutes(() => core, options.secrets, () => personas),
  );
  events.on('config.changed', (e) => {
    if (!started) return;
    void endpoint.reconfigure(e.keys);
    if (e.keys.some((k) => k.startsWith('twilio') || k === 'validateSignatures')) void account.check();
    if (e.keys.some((k) => k.startsWith('twilio') || k === 'updateTwilioNumber')) void account.pointNumber(endpoint.url());
  });
  // A model that finishes downloading may be what a failed plugin was missing: let it try again.
  events.on('model.progress', (e) => {
    if (e.state === 'done') void plugins.retryFailed();
  });

  const core: Core = {
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
      loopDelay.enable();
      for (const dir of [config.dataDir, config.userPluginsDir]) if (dir) ensurePrivateDir(dir, log);
      config.controlToken = ensureControlToken(config.controlToken, config.dataDir, log).token;
      const unsafe = signatureSetupWarning(config);
      if (unsafe) log.warn(unsafe);
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
          records = await CallStore.open({ dataDir: config.dataDir, log, recordCalls: config.recordCalls, retentionDays: config.retentionDays || null, onStatus: (st) => board.setRecords(st) });
          board.setRecords(records.status);
          records.attach(events);
        } catch (err) {
          log.error('call records unavailable; calls go on without being recorded', { error: errorMessage(err) });
        }
      }
      await plugins.start();
      try {
        warmVoices(personas.list());
      } catch (err) {
        log.warn('personas unreadable: calls use the default settings until settings.json is fixed', { error: errorMessage(err) });
      }
      const addr = await http.listen(config.port, config.host);
      url = addr.url;
      board.set('server', { ok: true, detail: `listening on ${addr.url}`, url: addr.url });
      await endpoint.start();
      void account.check();
      log.info(`listening on ${addr.url}`, { vad: vad.name, stt: plugins.activeName('stt'), llm: plugins.activeName('llm'), tts: plugins.activeName('tts') });
      return addr;
    },
    async stop() {
      calls.stop('server stopping');
      await endpoint.stop();
      await media.close();
      await testCalls.close();
      await desk.close();
      await http.close();
      board.set('server', { ok: false, detail: 'stopped', url: null });
      await plugins.stop();
      await vad?.dispose();
      vad = null;
      await records?.close();
      records = null;
      loopDelay.disable();
    },
    interrupt,
    whisper,
    approve,
    takeOver,
    calls: liveCalls,
    dial,
    hangup,
    status: () => board.get(),
    doctor,
    publicUrl: () => endpoint.url(),
    callFeatures: features,
    personas,
    conversationSettings: () => conversationSettings(config),
    applySettings(patch) {
      const valid = validatePatch(patch);
      const { pluginSettings, ...rest } = valid;
      Object.assign(config, rest);
      // Clearing the control token must not lock the API: fall back to the stored (or a new) one.
      if ('controlToken' in rest && !config.controlToken && started) config.controlToken = ensureControlToken('', config.dataDir, log).token;
      if (pluginSettings) {
        for (const [name, values] of Object.entries(pluginSettings)) {
          config.pluginSettings[name] = { ...values };
          plugins.setSettings(name, values);
        }
      }
      for (const kind of ['stt', 'llm', 'tts', 'turn'] as const) if (typeof rest[kind] === 'string' && rest[kind]) plugins.setActive(kind, rest[kind]!);
      if (rest.recordCalls !== undefined || rest.retentionDays !== undefined) records?.setOptions({ recordCalls: config.recordCalls, retentionDays: config.retentionDays || null });
      events.emit({ type: 'config.changed', keys: Object.keys(valid), at: Date.now() });
      return valid;
    },
  };
  return core;
}
