/**
 * The one typed map of everything the GUI and the app say to each other: every request channel with its
 * request and response payload, and the one event channel carrying the core's events. Shared by the Electron
 * main process (main/electron/ipc.ts), the preload bridge, the headless WebSocket bridge (main/web/) and the
 * renderer. docs/ipc.md is the prose version. It lives in main/shared with the data shapes it carries, which
 * import nothing from the rest of main/.
 *
 * Plain data only (JSON-safe, structured-clone-safe) and no imports from outside main/shared: the renderer
 * bundles this file. Payloads crossing from the renderer are untrusted: `validateRequest` checks them on the main side.
 */
import type { LiveCall } from './calls.ts';
import type { CoreEvent } from './events.ts';
import type { ModelInfo, VerifiedFile } from './models.ts';
import type { PluginInfo, PluginKind, PluginProblem } from './plugins.ts';
import type { CallDetail, CallPage, CallQuery, MessageList, MessageRecord } from './records.ts';
import type { Persona, PersonaList } from './personas.ts';
import { GUI_SETTINGS, SECRET_SETTINGS, type SecretKey, type SettingsPatch, type SettingsView } from './settings-view.ts';
import type { ComponentStatus, CoreStatus, DoctorCheck, DoctorReport } from './status.ts';
import type { ReplaySettingsView, ReplayView, Timeline } from './timeline.ts';
export type { ReplaySettingsView, ReplayView, Timeline, TimelineMark, TimelinePeaks, TimelineTurn } from './timeline.ts';

// The renderer imports only this file from main/: everything it needs of main/shared comes through here.
export type { AgentState, CallDirection, CallStatus, EventOf, TurnMetrics } from './events.ts';
export type { Persona, PersonaList, PersonaVoice } from './personas.ts';
export type { CallDetail, CallPage, CallQuery, MessageList, MessageRecord, ComponentStatus, CoreEvent, DoctorCheck, DoctorReport, LiveCall, ModelInfo, PluginInfo, PluginKind, PluginProblem };
export { GUI_SETTINGS, SECRET_SETTINGS, type GuiSettingKey, type SecretKey, type SecretStatus, type SettingsPatch, type SettingsView } from './settings-view.ts';
export { E164, normalizeNumber, numberProblem } from './phone-number.ts';
export { decodeFloat, decodeSample, encodeFloat, encodeSample } from './mulaw.ts';

/** The events the GUI gets: every core event (call audio never rides the event bus; it has a per-call tap). */
export type GuiEvent = CoreEvent;

/** An error as the GUI sees it: the core's code and its message, which names the fix. */
export interface IpcError {
  code: string;
  message: string;
  /** e.g. `retryAfterSec` for RATE_LIMITED, `fields` ({ setting: message }) for CONFIG_INVALID. */
  details?: Record<string, unknown>;
}

export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: IpcError };

export interface AppInfo {
  mode: 'electron' | 'headless';
  version: string;
  platform: string;
  dataDir: string;
  modelsDir: string;
  userPluginsDir: string;
  /** The desktop app's Test call WebSocket (docs/api.md, "/test-call"), with the token; null until the server listens. The headless GUI uses its own origin. */
  testCallUrl?: string | null;
  /** The desktop app's /desk WebSocket (Listen, Take over) without `callSid`, with the token; null until the server listens. */
  deskUrl?: string | null;
}

/** Server, tunnel and Twilio readiness (`Core.status()`); each detail says what to do when not ok. */
export type StatusReport = CoreStatus;

export interface ExportFile {
  filename: string;
  mime: string;
  content: string;
  calls: number;
  turns: number;
}

export interface VerifyView {
  id: string;
  ok: boolean;
  status: 'ok' | 'missing' | 'corrupt';
  files: VerifiedFile[];
  error?: IpcError;
}

/** Every request channel: `request` is what the renderer sends, `response` what it gets back. */
export interface Channels {
  'app.info': { request: null; response: AppInfo };
  'calls.list': { request: null; response: LiveCall[] };
  /** `persona`: who speaks (a persona's name, case-insensitive; none = the default persona). */
  'calls.dial': { request: { to: string; from?: string; persona?: string }; response: { callSid: string } };
  'calls.interrupt': { request: { callSid: string }; response: null };
  'calls.whisper': { request: { callSid: string; text: string }; response: { turnId: number } };
  /** Approve (true) or Deny (false) an ask-first tool waiting on a live call (POST /calls/:sid/approvals/:id). */
  'calls.approve': { request: { callSid: string; approvalId: string; approve: boolean }; response: { state: 'approved' | 'denied' | 'timed-out' } };
  /** Take a live call over from the agent (`take: true`) or hand it back (POST /calls/:sid/takeover, /handback). */
  'calls.takeOver': { request: { callSid: string; take: boolean }; response: { takenOver: boolean } };
  'calls.hangup': { request: { callSid: string }; response: null };
  'status.get': { request: null; response: StatusReport };
  'status.doctor': { request: null; response: DoctorReport };
  'plugins.list': { request: null; response: { plugins: PluginInfo[]; problems: PluginProblem[]; userDir: string } };
  'plugins.setActive': { request: { kind: PluginKind; name: string }; response: null };
  'plugins.rescan': { request: null; response: null };
  'plugins.openFolder': { request: null; response: { opened: boolean; path: string } };
  'models.list': { request: null; response: { modelsDir: string; models: ModelInfo[] } };
  'models.pull': { request: { id: string }; response: null };
  'models.cancel': { request: { id: string }; response: { cancelled: boolean } };
  'models.verify': { request: { id: string }; response: VerifyView };
  'models.remove': { request: { id: string }; response: null };
  'settings.get': { request: null; response: SettingsView };
  'settings.save': { request: SettingsPatch; response: SettingsView };
  'records.list': { request: CallQuery; response: CallPage };
  'records.get': { request: { sid: string }; response: CallDetail };
  'records.delete': { request: { sid: string }; response: null };
  'records.export': { request: { format: 'json' | 'csv'; since?: number }; response: ExportFile };
  'records.recordingUrl': { request: { sid: string }; response: { url: string | null } };
  /** Waveform peaks of both channels (computed in the core) and the call's turns and marks; `buckets` 1..4000 (default 1000). */
  'records.timeline': { request: { sid: string; buckets?: number }; response: Timeline };
  /** Replays the recording's caller channel offline through the VAD and turn detector with each of 1..8 settings. */
  'records.replay': { request: { sid: string; variants: ReplaySettingsView[] }; response: { results: ReplayView[] } };
  /** The inbox: messages taken on calls, newest first, and how many are not done (the badge). */
  'messages.list': { request: null; response: MessageList };
  /** Marks a message done (`done: false` puts it back); answers the message. */
  'messages.done': { request: { id: number; done?: boolean }; response: MessageRecord };
  /** The personas, the default (first) one first. */
  'personas.list': { request: null; response: PersonaList };
  /** Replaces the whole list: checked whole (CONFIG_INVALID naming the persona and field), saved only when all is valid. */
  'personas.save': { request: { personas: Persona[] }; response: PersonaList };
}

export type Channel = keyof Channels;
export type RequestOf<C extends Channel> = Channels[C]['request'];
export type ResponseOf<C extends Channel> = Channels[C]['response'];

/** The request channels, at run time (the preload allow-list, the bridges' dispatch). */
export const CHANNELS = [
  'app.info',
  'calls.list',
  'calls.dial',
  'calls.interrupt',
  'calls.whisper',
  'calls.approve',
  'calls.takeOver',
  'calls.hangup',
  'status.get',
  'status.doctor',
  'plugins.list',
  'plugins.setActive',
  'plugins.rescan',
  'plugins.openFolder',
  'models.list',
  'models.pull',
  'models.cancel',
  'models.verify',
  'models.remove',
  'settings.get',
  'settings.save',
  'records.list',
  'records.get',
  'records.delete',
  'records.export',
  'records.recordingUrl',
  'records.timeline',
  'records.replay',
  'messages.list',
  'messages.done',
  'personas.list',
  'personas.save',
] as const satisfies readonly Channel[];

// Compile-time check that CHANNELS lists every channel of the map.
type Missing = Exclude<Channel, (typeof CHANNELS)[number]>;
const everyChannelListed: Missing extends never ? true : Missing = true;
void everyChannelListed;

/** Electron IPC channel names: `parley:<channel>`; the event channel is `parley:event`. */
export const ipcName = (channel: Channel): string => `parley:${channel}`;
export const EVENT_CHANNEL = 'parley:event';

/** What the renderer talks to: the preload bridge (Electron) or the WebSocket bridge (headless). */
export interface Bridge {
  invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
  onEvent(listener: (event: GuiEvent) => void): () => void;
}

/** The preload surface (`window.parley`): results come back as IpcResult so errors keep their code. */
export interface PreloadApi {
  invoke(channel: Channel, request: unknown): Promise<IpcResult<unknown>>;
  onEvent(listener: (event: GuiEvent) => void): () => void;
}

/** Headless WebSocket bridge frames (JSON text). */
export type BridgeFrame =
  | { t: 'req'; id: number; channel: Channel; request: unknown }
  | { t: 'res'; id: number; result: IpcResult<unknown> }
  | { t: 'event'; event: GuiEvent };

// ---------------------------------------------------------------------------------------------------------------
// Request validation (main side). The renderer is untrusted: a compromised page may send anything.

export class RequestInvalid extends Error {
  readonly code = 'BAD_REQUEST';
}

const fail = (channel: string, what: string): never => {
  throw new RequestInvalid(`${channel}: ${what}`);
};
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (channel: string, v: unknown, name: string, max = 200): string => {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(channel, `"${name}" must be a non-empty string of at most ${max} characters`);
  return v as string;
};
const onlyKeys = (channel: string, v: Record<string, unknown>, keys: readonly string[]) => {
  for (const k of Object.keys(v)) if (!keys.includes(k)) fail(channel, `unexpected field "${k}"`);
};
const sidOnly = (key: string) => (channel: string, v: unknown) => {
  if (!isObj(v)) return fail(channel, `send { ${key} }`);
  onlyKeys(channel, v, [key]);
  return { [key]: str(channel, v[key], key) };
};
const none = (channel: string, v: unknown) => {
  if (v !== null && v !== undefined) fail(channel, 'takes no request payload');
  return null;
};

const VALIDATORS: { [C in Channel]: (channel: C, v: unknown) => RequestOf<C> } = {
  'app.info': none,
  'calls.list': none,
  'calls.dial': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { to, from?, persona? }');
    onlyKeys(c, v, ['to', 'from', 'persona']);
    const to = str(c, v.to, 'to', 40);
    return { to, ...(v.from === undefined ? {} : { from: str(c, v.from, 'from', 40) }), ...(v.persona === undefined ? {} : { persona: str(c, v.persona, 'persona') }) };
  },
  'calls.interrupt': sidOnly('callSid') as (c: string, v: unknown) => { callSid: string },
  'calls.hangup': sidOnly('callSid') as (c: string, v: unknown) => { callSid: string },
  'calls.whisper': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { callSid, text }');
    onlyKeys(c, v, ['callSid', 'text']);
    return { callSid: str(c, v.callSid, 'callSid'), text: str(c, v.text, 'text', 1000) };
  },
  'calls.approve': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { callSid, approvalId, approve: true|false }');
    onlyKeys(c, v, ['callSid', 'approvalId', 'approve']);
    if (typeof v.approve !== 'boolean') fail(c, '"approve" must be true (Approve: the tool runs) or false (Deny: it does not)');
    return { callSid: str(c, v.callSid, 'callSid'), approvalId: str(c, v.approvalId, 'approvalId', 100), approve: v.approve as boolean };
  },
  'calls.takeOver': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { callSid, take: true|false }');
    onlyKeys(c, v, ['callSid', 'take']);
    if (typeof v.take !== 'boolean') fail(c, '"take" must be true (take the call over) or false (hand it back)');
    return { callSid: str(c, v.callSid, 'callSid'), take: v.take as boolean };
  },
  'status.get': none,
  'status.doctor': none,
  'plugins.list': none,
  'plugins.setActive': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { kind, name }');
    onlyKeys(c, v, ['kind', 'name']);
    if (v.kind !== 'stt' && v.kind !== 'llm' && v.kind !== 'tts' && v.kind !== 'turn') fail(c, '"kind" must be stt, llm, tts or turn');
    return { kind: v.kind as PluginKind, name: str(c, v.name, 'name') };
  },
  'plugins.rescan': none,
  'plugins.openFolder': none,
  'models.list': none,
  'models.pull': sidOnly('id') as (c: string, v: unknown) => { id: string },
  'models.cancel': sidOnly('id') as (c: string, v: unknown) => { id: string },
  'models.verify': sidOnly('id') as (c: string, v: unknown) => { id: string },
  'models.remove': sidOnly('id') as (c: string, v: unknown) => { id: string },
  'settings.get': none,
  'settings.save': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { values?, secrets?, clearSecrets?, pluginValues? }');
    onlyKeys(c, v, ['values', 'secrets', 'clearSecrets', 'pluginValues']);
    const out: SettingsPatch = {};
    if (v.values !== undefined) {
      if (!isObj(v.values)) fail(c, '"values" must be an object');
      onlyKeys(c, v.values as Record<string, unknown>, GUI_SETTINGS);
      out.values = v.values as SettingsPatch['values'];
    }
    if (v.secrets !== undefined) {
      if (!isObj(v.secrets)) fail(c, '"secrets" must be an object');
      const secrets = v.secrets as Record<string, unknown>;
      onlyKeys(c, secrets, SECRET_SETTINGS);
      for (const k of Object.keys(secrets)) str(c, secrets[k], k, 500);
      out.secrets = secrets as SettingsPatch['secrets'];
    }
    if (v.clearSecrets !== undefined) {
      if (!Array.isArray(v.clearSecrets) || !v.clearSecrets.every((k) => (SECRET_SETTINGS as readonly unknown[]).includes(k))) fail(c, `"clearSecrets" lists ${SECRET_SETTINGS.join(', ')}`);
      out.clearSecrets = v.clearSecrets as SecretKey[];
    }
    if (v.pluginValues !== undefined) {
      if (!isObj(v.pluginValues) || !Object.values(v.pluginValues).every(isObj)) fail(c, '"pluginValues" must be { plugin: { setting: value } }');
      out.pluginValues = v.pluginValues as SettingsPatch['pluginValues'];
    }
    return out;
  },
  'records.list': (c, v) => {
    if (v === null || v === undefined) return {};
    if (!isObj(v)) return fail(c, 'send a query object');
    onlyKeys(c, v, ['q', 'from', 'to', 'number', 'status', 'direction', 'limit', 'offset']);
    for (const k of ['q', 'number'] as const) if (v[k] !== undefined && typeof v[k] !== 'string') fail(c, `"${k}" must be text`);
    for (const k of ['from', 'to', 'limit', 'offset'] as const) if (v[k] !== undefined && !Number.isFinite(v[k])) fail(c, `"${k}" must be a number`);
    if (v.status !== undefined && typeof v.status !== 'string' && !(Array.isArray(v.status) && v.status.every((s) => typeof s === 'string'))) fail(c, '"status" must be text or a list');
    if (v.direction !== undefined && v.direction !== 'inbound' && v.direction !== 'outbound') fail(c, '"direction" must be inbound or outbound');
    return v as CallQuery;
  },
  'messages.list': none,
  'personas.list': none,
  'personas.save': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { personas: [{ name, … }, …] }');
    onlyKeys(c, v, ['personas']);
    // The fields are checked by the core (main/core/personas.ts), which names the persona and field at fault.
    if (!Array.isArray(v.personas) || v.personas.length > 100 || !v.personas.every(isObj)) fail(c, '"personas" must be a list of at most 100 personas ({ "name": …, … })');
    return { personas: v.personas as Persona[] };
  },
  'messages.done': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { id, done? }');
    onlyKeys(c, v, ['id', 'done']);
    if (!Number.isSafeInteger(v.id) || (v.id as number) <= 0) fail(c, '"id" must be a message id (a positive whole number from messages.list)');
    if (v.done !== undefined && typeof v.done !== 'boolean') fail(c, '"done" must be true or false');
    return v.done === undefined ? { id: v.id as number } : { id: v.id as number, done: v.done as boolean };
  },
  'records.get': sidOnly('sid') as (c: string, v: unknown) => { sid: string },
  'records.delete': sidOnly('sid') as (c: string, v: unknown) => { sid: string },
  'records.export': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { format, since? }');
    onlyKeys(c, v, ['format', 'since']);
    if (v.format !== 'json' && v.format !== 'csv') fail(c, '"format" must be json or csv');
    if (v.since !== undefined && !Number.isFinite(v.since)) fail(c, '"since" must be epoch milliseconds');
    return v.since === undefined ? { format: v.format as 'json' | 'csv' } : { format: v.format as 'json' | 'csv', since: v.since as number };
  },
  'records.recordingUrl': sidOnly('sid') as (c: string, v: unknown) => { sid: string },
  'records.timeline': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { sid, buckets? }');
    onlyKeys(c, v, ['sid', 'buckets']);
    if (typeof v.sid !== 'string' || !v.sid) fail(c, '"sid" must be a call SID from records.list');
    if (v.buckets !== undefined && (!Number.isInteger(v.buckets) || (v.buckets as number) < 1 || (v.buckets as number) > 4000)) fail(c, '"buckets" must be a whole number from 1 to 4000');
    return v.buckets === undefined ? { sid: v.sid as string } : { sid: v.sid as string, buckets: v.buckets as number };
  },
  'records.replay': (c, v) => {
    if (!isObj(v)) return fail(c, 'send { sid, variants: [{ silenceMs, threshold? }] }');
    onlyKeys(c, v, ['sid', 'variants']);
    if (typeof v.sid !== 'string' || !v.sid) fail(c, '"sid" must be a call SID from records.list');
    if (!Array.isArray(v.variants) || v.variants.length < 1 || v.variants.length > 8) fail(c, '"variants" must be a list of 1 to 8 { silenceMs, threshold? }');
    const variants = (v.variants as unknown[]).map((x) => {
      if (!isObj(x) || !Number.isFinite(x.silenceMs) || (x.silenceMs as number) < 50 || (x.silenceMs as number) > 5000) fail(c, 'each variant needs "silenceMs" from 50 to 5000');
      const o = x as Record<string, unknown>;
      if (o.threshold !== undefined && (!Number.isFinite(o.threshold) || (o.threshold as number) <= 0 || (o.threshold as number) >= 1)) fail(c, '"threshold" must be between 0 and 1');
      return o.threshold === undefined ? { silenceMs: o.silenceMs as number } : { silenceMs: o.silenceMs as number, threshold: o.threshold as number };
    });
    return { sid: v.sid as string, variants };
  },
};

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

/** Check an untrusted request for `channel`; throws RequestInvalid naming the problem. */
export function validateRequest<C extends Channel>(channel: C, request: unknown): RequestOf<C> {
  if (!isChannel(channel)) throw new RequestInvalid(`unknown channel ${JSON.stringify(channel)}`);
  return (VALIDATORS[channel] as (c: C, v: unknown) => RequestOf<C>)(channel, request);
}
