/**
 * `"type": "secret"` settings (openai-llm's apiKey): the plugin gets the value, but nothing that lists, serves or
 * logs plugin settings ever shows it — registry.list(), GET /plugins, the log. And openai-llm, just by being in
 * plugins/, is not the default LLM and needs no model.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, memorySink, type LogRecord } from '../../../main/core/log.ts';
import { SECRET_SHOWN, readManifest, redactSettings } from '../../../main/core/plugins/manifest.ts';
import { PluginRegistry } from '../../../main/core/plugins/registry.ts';
import { pluginRoutes } from '../../../main/core/server/data-routes.ts';
import { pluginFolder } from '../../helpers/plugin-context.ts';

const KEY = 'sk-test-3f9a8b7c6d5e4f3a2b1c';

/** An LLM plugin with a secret setting that says, in its reply, which key it was given; it also logs its ctx. */
function secretPlugin(dir: string, settings: Record<string, unknown> = { token: { type: 'secret', default: '' }, level: { type: 'integer', default: 2 } }) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'keyed-llm', kind: 'llm', version: '1.0.0', apiVersion: 1, main: 'index.js', settings }));
  writeFileSync(
    join(dir, 'index.js'),
    `export default { async create(ctx) {
      ctx.log.info('keyed-llm up', { level: ctx.settings.level });
      return { async *chat() { yield 'key=' + ctx.settings.token; } };
    } };`,
  );
}

describe('secret settings', () => {
  let root: string;
  let registry: PluginRegistry | null = null;
  let records: LogRecord[];
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'parley-secret-'));
    records = [];
  });
  afterEach(async () => {
    await registry?.stop();
    registry = null;
    rmSync(root, { recursive: true, force: true });
  });
  const make = (settings: Record<string, Record<string, unknown>>, builtinDir: string | null = null) =>
    (registry = new PluginRegistry({ builtinDir, userDir: join(root, 'user'), modelDir: join(root, 'models'), log: createLogger({ sinks: [memorySink(records)], level: 'debug' }), settings }));

  it('the plugin receives the value; list(), GET /plugins and the log show only that it is set', async () => {
    secretPlugin(join(root, 'user', 'keyed-llm'));
    await make({ 'keyed-llm': { token: KEY, level: 3 } }).start();

    const lease = registry!.acquire('llm');
    const deltas: string[] = [];
    for await (const d of lease.instance.chat([{ role: 'user', content: 'hi' }], { signal: new AbortController().signal })) deltas.push(d);
    lease.release();
    expect(deltas.join('')).toBe(`key=${KEY}`);

    const info = registry!.list().find((p) => p.name === 'keyed-llm')!;
    expect(info.values).toEqual({ token: SECRET_SHOWN, level: 3 });
    const served = pluginRoutes(registry!).find((r) => r.method === 'GET' && r.path === '/plugins')!;
    const body = JSON.stringify(await served.handler({ params: {}, body: undefined, query: new URLSearchParams() } as never));
    expect(body).toContain('keyed-llm');
    expect(body).not.toContain(KEY);
    expect(JSON.stringify(records)).toContain('keyed-llm up');
    expect(JSON.stringify(records)).not.toContain(KEY);
  });

  it('unset shows as "", and sending back the shown "[set]" keeps the key instead of replacing it', async () => {
    secretPlugin(join(root, 'user', 'keyed-llm'));
    await make({}).start();
    expect(registry!.list()[0]!.values.token).toBe('');

    registry!.setSettings('keyed-llm', { token: KEY });
    registry!.setSettings('keyed-llm', { ...registry!.list()[0]!.values, level: 5 });
    expect(registry!.list()[0]!.values).toEqual({ token: SECRET_SHOWN, level: 5 });
    const lease = registry!.acquire('llm');
    const deltas: string[] = [];
    for await (const d of lease.instance.chat([{ role: 'user', content: 'hi' }], { signal: new AbortController().signal })) deltas.push(d);
    lease.release();
    expect(deltas.join('')).toBe(`key=${KEY}`);
  });

  it('a manifest may not ship a secret default (a default is public)', async () => {
    const dir = join(root, 'bad');
    secretPlugin(dir, { token: { type: 'secret', default: 'sk-shipped' } });
    await expect(readManifest(dir)).rejects.toThrow(/settings\.token\.default" must be "" or nothing for a secret setting/);
  });

  it('redactSettings touches only secret settings', () => {
    expect(redactSettings({ a: { type: 'string' }, k: { type: 'secret' as never } }, { a: 'visible', k: 'x', extra: 1 })).toEqual({ a: 'visible', k: SECRET_SHOWN, extra: 1 });
  });

  it('openai-llm among the built-ins: llama-llm stays the default LLM, its apiKey is a secret, its model a server-side name', async () => {
    const manifest = await readManifest(pluginFolder('openai-llm'));
    expect(manifest.settings.apiKey?.type).toBe('secret');
    await make({ 'openai-llm': { apiKey: KEY, model: 'library/llama3.2:1b' } }, join(pluginFolder('openai-llm'), '..')).start();
    expect(registry!.activeName('llm')).toBe('llama-llm');
    const info = registry!.list().find((p) => p.name === 'openai-llm')!;
    expect(info.status).not.toBe('broken');
    expect(info.values.apiKey).toBe(SECRET_SHOWN);
    expect(JSON.stringify(registry!.list())).not.toContain(KEY);
    expect(registry!.modelOf('openai-llm')).toBe('library/llama3.2:1b'); // not cut like a file path
  }, 60_000);
});
