/**
 * Control API routes for plugins, models and call records — the GUI's data, also scriptable with curl.
 * Shapes are documented in docs/api.md.
 */
import { ParleyError } from '../errors.ts';
import type { ModelLibrary } from '../models/library.ts';
import type { PluginKind } from '../plugins/api.ts';
import type { PluginRegistry } from '../plugins/registry.ts';
import type { CallStore } from '../records/call-store.ts';
import type { CallQuery } from '../records/types.ts';
import { sendFile } from './file-sender.ts';
import type { Route } from './router.ts';

function obj(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ParleyError('BAD_REQUEST', 'send a JSON object body');
  return body as Record<string, unknown>;
}

function time(value: string | null, name: string): number | undefined {
  if (value === null || value === '') return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) throw new ParleyError('BAD_REQUEST', `${name} must be epoch milliseconds or an ISO date (got ${JSON.stringify(value)})`);
  return n;
}

export function pluginRoutes(plugins: PluginRegistry): Route[] {
  return [
    { method: 'GET', path: '/plugins', access: 'control', handler: () => ({ plugins: plugins.list(), problems: plugins.problems() }) },
    {
      method: 'POST',
      path: '/plugins/active',
      access: 'control',
      handler: ({ body }) => {
        const b = obj(body);
        if (b.kind !== 'stt' && b.kind !== 'llm' && b.kind !== 'tts' && b.kind !== 'turn') throw new ParleyError('BAD_REQUEST', '"kind" must be "stt", "llm", "tts" or "turn"');
        if (typeof b.name !== 'string') throw new ParleyError('BAD_REQUEST', '"name" must be a plugin name');
        plugins.setActive(b.kind as PluginKind, b.name);
        return { ok: true };
      },
    },
    {
      method: 'PUT',
      path: '/plugins/:name/settings',
      access: 'control',
      handler: ({ params, body }) => {
        const info = plugins.list().find((p) => p.name === params.name);
        if (!info) throw new ParleyError('PLUGIN_NOT_FOUND', `no plugin named "${params.name}"`);
        const b = obj(body);
        for (const key of Object.keys(b)) if (!(key in info.settings)) throw new ParleyError('BAD_REQUEST', `"${key}" is not a setting of ${params.name} (it has: ${Object.keys(info.settings).join(', ') || 'none'})`);
        plugins.setSettings(params.name!, b);
        return { ok: true };
      },
    },
    { method: 'POST', path: '/plugins/rescan', access: 'control', handler: async () => (await plugins.rescan(), { ok: true }) },
  ];
}

export function modelRoutes(models: ModelLibrary): Route[] {
  return [
    { method: 'GET', path: '/models', access: 'control', handler: async () => ({ modelsDir: models.modelsDir, models: await models.list() }) },
    {
      method: 'POST',
      path: '/models/:id/pull',
      access: 'control',
      handler: ({ params }) => {
        models.entry(params.id!); // unknown id → MODEL_MISSING with the known ids
        // Progress arrives as model.progress events; the request returns at once.
        models.pull(params.id!).catch(() => {});
        return { ok: true, started: true };
      },
    },
    { method: 'POST', path: '/models/:id/cancel', access: 'control', handler: ({ params }) => ({ ok: true, cancelled: models.cancel(params.id!) }) },
    { method: 'POST', path: '/models/:id/verify', access: 'control', handler: async ({ params }) => {
      const r = await models.verify(params.id!);
      return { ...r, error: r.error ? { code: r.error.code, message: r.error.message } : undefined };
    } },
    { method: 'DELETE', path: '/models/:id', access: 'control', handler: async ({ params }) => (await models.remove(params.id!), { ok: true }) },
  ];
}

export function recordRoutes(records: () => CallStore | null): Route[] {
  const store = () => {
    const s = records();
    if (!s) throw new ParleyError('RECORDS_FAILED', 'call records are not available (see the log for why the database could not open)');
    return s;
  };
  return [
    {
      method: 'GET',
      path: '/records/calls',
      access: 'control',
      handler: ({ url }) => {
        const p = url.searchParams;
        const query: CallQuery = {
          q: p.get('q') ?? undefined,
          from: time(p.get('from'), 'from'),
          to: time(p.get('to'), 'to'),
          number: p.get('number') ?? undefined,
          status: p.getAll('status').length ? p.getAll('status') : undefined,
          direction: p.get('direction') === 'inbound' || p.get('direction') === 'outbound' ? (p.get('direction') as 'inbound' | 'outbound') : undefined,
          limit: p.get('limit') ? Number(p.get('limit')) : undefined,
          offset: p.get('offset') ? Number(p.get('offset')) : undefined,
        };
        return store().list(query);
      },
    },
    {
      method: 'GET',
      path: '/records/calls/:sid',
      access: 'control',
      handler: ({ params }) => {
        const call = store().get(params.sid!);
        if (!call) throw new ParleyError('CALL_NOT_FOUND', `no recorded call ${params.sid}`);
        return call;
      },
    },
    { method: 'DELETE', path: '/records/calls/:sid', access: 'control', handler: async ({ params }) => (await store().delete(params.sid!), { ok: true }) },
    // The inbox (messages taken on calls): newest first with the undone count; mark one done (`{ "done": false }` undoes).
    { method: 'GET', path: '/records/messages', access: 'control', handler: () => store().messages() },
    {
      method: 'POST',
      path: '/records/messages/:id/done',
      access: 'control',
      handler: ({ params, body }) => {
        const id = Number(params.id);
        if (!/^[1-9][0-9]*$/.test(params.id ?? '')) throw new ParleyError('BAD_REQUEST', `"${params.id}" is not a message id: use the id from GET /records/messages`);
        const done = body !== null && typeof body === 'object' && 'done' in body ? (body as { done: unknown }).done : true;
        if (typeof done !== 'boolean') throw new ParleyError('BAD_REQUEST', '"done" must be true or false');
        const message = store().markMessageDone(id, done);
        if (!message) throw new ParleyError('BAD_REQUEST', `there is no message ${id}: use an id from GET /records/messages`);
        return message;
      },
    },
    {
      method: 'GET',
      path: '/records/calls/:sid/recording.wav',
      access: 'control',
      handler: ({ params, req, res }) => {
        const file = store().recordingFile(params.sid!);
        if (!file) throw new ParleyError('CALL_NOT_FOUND', `call ${params.sid} has no finished recording (recording is off by default: Settings → Record calls)`);
        sendFile(req, res, file);
      },
    },
    {
      method: 'GET',
      path: '/records/export',
      access: 'control',
      handler: async ({ url, res }) => {
        const format = url.searchParams.get('format') ?? 'json';
        if (format !== 'json' && format !== 'csv') throw new ParleyError('BAD_REQUEST', 'format must be json or csv');
        const since = time(url.searchParams.get('since'), 'since');
        res.writeHead(200, {
          'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
          'content-disposition': `attachment; filename="parley-calls.${format}"`,
        });
        await store().export(res, { format, since });
        res.end();
      },
    },
    {
      method: 'POST',
      path: '/records/purge',
      access: 'control',
      handler: async ({ body }) => {
        const days = obj(body).olderThanDays;
        if (typeof days !== 'number' || !(days >= 0)) throw new ParleyError('BAD_REQUEST', '"olderThanDays" must be a number ≥ 0');
        return store().purge(days);
      },
    },
  ];
}
