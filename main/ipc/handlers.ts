/**
 * The IPC contract implemented over a Core: one handler per channel, shared by both transports (Electron IPC in
 * main/electron/ipc.ts, the headless WebSocket bridge in main/web/). What differs between them — where secrets
 * live, how a folder is opened, how a recording is played — comes in as `HostServices`.
 */
import { Writable } from 'node:stream';
import type { Core } from '../core/app.ts';
import { replayRecording } from '../core/conversation/replay.ts';
import { timelineOf } from '../core/records/timeline.ts';
import { ParleyError, errorMessage, isParleyError } from '../core/errors.ts';
import {
  RequestInvalid,
  validateRequest,
  type AppInfo,
  type Channel,
  type Channels,
  type GuiEvent,
  type IpcError,
  type IpcResult,
  type RequestOf,
  type ResponseOf,
} from '../shared/contract.ts';
import { persistSettings, saveSettings, settingsView, type SecretStore } from '../core/settings.ts';
import { TEST_CALL_PATH } from '../core/server/test-call-socket.ts';
import { DESK_PATH } from '../core/server/desk-socket.ts';

export interface HostServices {
  mode: AppInfo['mode'];
  version: string;
  secrets: SecretStore;
  /** Open a folder in the system file manager; false when that is not possible here. */
  openFolder(path: string): Promise<boolean>;
  /** A URL the renderer can put in an <audio> element for a call's recording. */
  recordingUrl(sid: string): string;
}

export type Handlers = { [C in Channel]: (request: Channels[C]['request']) => Promise<Channels[C]['response']> };

export function createHandlers(core: Core, host: HostServices): Handlers {
  const records = () => {
    if (!core.records) throw new ParleyError('RECORDS_FAILED', 'Call records are not available: the database could not be opened (the log says why).');
    return core.records;
  };
  return {
    'app.info': async () => ({
      mode: host.mode,
      version: host.version,
      platform: process.platform,
      dataDir: core.config.dataDir,
      modelsDir: core.config.modelsDir,
      userPluginsDir: core.config.userPluginsDir,
      testCallUrl: core.url ? `ws://127.0.0.1:${new URL(core.url).port}${TEST_CALL_PATH}?token=${encodeURIComponent(core.config.controlToken)}` : null,
      deskUrl: core.url ? `ws://127.0.0.1:${new URL(core.url).port}${DESK_PATH}?token=${encodeURIComponent(core.config.controlToken)}` : null,
    }),
    'calls.list': async () => core.calls(),
    'calls.dial': async ({ to, from, persona }) => core.dial({ to, ...(from === undefined ? {} : { from }), ...(persona === undefined ? {} : { persona }) }),
    'calls.interrupt': async ({ callSid }) => (core.interrupt(callSid), null),
    'calls.whisper': async ({ callSid, text }) => core.whisper(callSid, text),
    'calls.approve': async ({ callSid, approvalId, approve }) => core.approve(callSid, approvalId, approve),
    'calls.takeOver': async ({ callSid, take }) => core.takeOver(callSid, take),
    'calls.hangup': async ({ callSid }) => (await core.hangup(callSid), null),
    'status.get': async () => core.status(),
    'status.doctor': async () => core.doctor(),
    'plugins.list': async () => ({ plugins: core.plugins.list(), problems: core.plugins.problems(), userDir: core.config.userPluginsDir }),
    'plugins.setActive': async ({ kind, name }) => {
      core.plugins.setActive(kind, name); // validates: PLUGIN_NOT_FOUND / wrong kind
      core.applySettings({ [kind]: name }); // keeps the config (and the next start) in step
      persistSettings(core.config.dataDir, { [kind]: name });
      return null;
    },
    'plugins.rescan': async () => (await core.plugins.rescan(), null),
    'plugins.openFolder': async () => {
      const path = core.config.userPluginsDir;
      return { opened: await host.openFolder(path).catch(() => false), path };
    },
    'models.list': async () => ({ modelsDir: core.models.modelsDir, models: await core.models.list() }),
    'models.pull': async ({ id }) => {
      core.models.entry(id); // unknown id → MODEL_MISSING naming the known ones
      // Progress (and failure) arrives as model.progress events; the request returns at once.
      core.models.pull(id).catch(() => {});
      return null;
    },
    'models.cancel': async ({ id }) => ({ cancelled: core.models.cancel(id) }),
    'models.verify': async ({ id }) => {
      const r = await core.models.verify(id);
      return { id: r.id, ok: r.ok, status: r.status, files: r.files, ...(r.error ? { error: toIpcError(r.error) } : {}) };
    },
    'models.remove': async ({ id }) => (await core.models.remove(id), null),
    'settings.get': async () => settingsView(core, host.secrets),
    'settings.save': async (patch) => saveSettings(core, host.secrets, patch),
    'records.list': async (query) => records().list(query),
    'records.get': async ({ sid }) => {
      const call = records().get(sid);
      if (!call) throw new ParleyError('CALL_NOT_FOUND', `There is no call record ${sid} (deleted?).`);
      return call;
    },
    'records.delete': async ({ sid }) => (await records().delete(sid), null),
    'records.export': async ({ format, since }) => {
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          chunks.push(Buffer.from(chunk));
          done();
        },
      });
      const summary = await records().export(sink, since === undefined ? { format } : { format, since });
      const day = new Date().toISOString().slice(0, 10);
      return {
        filename: `parley-calls-${day}.${format}`,
        mime: format === 'csv' ? 'text/csv' : 'application/json',
        content: Buffer.concat(chunks).toString('utf8'),
        calls: summary.calls,
        turns: summary.turns,
      };
    },
    'records.timeline': async ({ sid, buckets }) => {
      const detail = records().get(sid);
      if (!detail) throw new ParleyError('CALL_NOT_FOUND', `There is no call record ${sid} (deleted?).`);
      return timelineOf(detail, records().recordingFile(sid), buckets ?? 1000);
    },
    'records.replay': async ({ sid, variants }) => {
      if (!records().get(sid)) throw new ParleyError('CALL_NOT_FOUND', `There is no call record ${sid} (deleted?).`);
      const file = records().recordingFile(sid);
      if (!file) throw new ParleyError('NOT_CONFIGURED', `Call ${sid} has no finished recording to replay: turn on "Record calls" in Settings for the next calls.`);
      return { results: await replayRecording(file, variants) };
    },
    'records.recordingUrl': async ({ sid }) => ({ url: records().recordingFile(sid) ? host.recordingUrl(sid) : null }),
    'messages.list': async () => records().messages(),
    'messages.done': async ({ id, done }) => {
      const message = records().markMessageDone(id, done ?? true);
      if (!message) throw new ParleyError('BAD_REQUEST', `There is no message ${id} in the inbox (deleted with its call?): reload the inbox (messages.list).`);
      return message;
    },
    'personas.list': async () => ({ personas: core.personas.list() }),
    'personas.save': async ({ personas }) => ({ personas: core.personas.save(personas) }),
  };
}

/** Any thrown thing → what the GUI shows. Never leaks a stack; keeps the core's code and message. */
export function toIpcError(err: unknown): IpcError {
  if (err instanceof RequestInvalid) return { code: 'BAD_REQUEST', message: err.message };
  if (isParleyError(err)) {
    const details = err.details ? safeDetails(err.details) : undefined;
    return { code: err.code, message: err.message, ...(details ? { details } : {}) };
  }
  return { code: 'INTERNAL', message: `Something went wrong inside Parley: ${errorMessage(err)}` };
}

function safeDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Validate, run, and wrap: what both transports call for every request. Never throws. */
export async function dispatch(handlers: Handlers, channel: unknown, request: unknown): Promise<IpcResult<unknown>> {
  try {
    const valid = validateRequest(channel as Channel, request);
    const handler = handlers[channel as Channel] as (r: RequestOf<Channel>) => Promise<ResponseOf<Channel>>;
    return { ok: true, value: (await handler(valid)) ?? null };
  } catch (err) {
    return { ok: false, error: toIpcError(err) };
  }
}

/** The core's events as the GUI gets them; returns the unsubscribe function. */
export function forwardEvents(core: Core, send: (event: GuiEvent) => void): () => void {
  return core.events.onAny(send);
}
