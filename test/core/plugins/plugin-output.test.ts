/**
 * A plugin that floods its output or sends a huge message must not grow the app's memory or drown its log:
 * stdout/stderr lines are cut at a fixed length as they arrive, plugin log lines are rate-limited per plugin,
 * and one IPC message bigger than the limit fails that request with a PLUGIN error — the plugin still answers.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { PluginProxy } from '../../../main/core/plugins/plugin-proxy.ts';
import { OutputLines } from '../../../main/core/plugins/plugin-output.ts';

const DIR = fileURLToPath(new URL('../../fixtures/plugin-floods/flood-llm', import.meta.url));
const sink = memorySink();
let proxy: PluginProxy;

async function ask(text: string): Promise<string[]> {
  const out: string[] = [];
  for await (const delta of proxy.chat([{ role: 'user', content: text }], { signal: new AbortController().signal })) out.push(delta);
  return out;
}

const logged = (re: RegExp) => sink.records.filter((r) => re.test(r.msg));

beforeAll(async () => {
  proxy = new PluginProxy(
    { name: 'flood-llm', kind: 'llm', dir: DIR, main: 'index.js', settings: {}, modelDir: join(DIR, 'models') },
    createLogger({ level: 'debug', sinks: [sink] }),
    { maxMessageBytes: 1024 * 1024, logLinesPerSecond: 50 },
  );
  await proxy.start();
}, 60_000);
afterAll(async () => {
  await proxy?.dispose();
});

it('96 MB on stdout without a newline: one line cut at 64 KB, memory stays bounded, the plugin answers', { timeout: 120_000 }, async () => {
  global.gc?.();
  const before = process.memoryUsage().rss;
  expect(await ask('stdout-no-newline 96')).toEqual(['flooded']);
  await new Promise((r) => setTimeout(r, 200)); // the rest of the pipe
  const grown = process.memoryUsage().rss - before;
  expect(proxy.outputHighWaterBytes).toBeLessThanOrEqual(64 * 1024);
  expect(grown).toBeLessThan(64 * 1024 * 1024); // the old readline held all 96 MB (twice, as a string)
  const [cut] = logged(/^a+ … \[line cut: \d+ more bytes dropped, the limit is 64 KB a line\]$/);
  expect(cut!.msg.indexOf(' …')).toBe(64 * 1024);
  expect(cut!.msg).toContain(`${96 * 1024 * 1024 - 64 * 1024} more bytes dropped`);
  expect(logged(/^after the flood$/)).toHaveLength(1);
  expect(await ask('ping')).toEqual(['pong']);
});

it('thousands of lines a second (stderr, ctx.log): at most N a second per plugin, then one "suppressed" line', { timeout: 60_000 }, async () => {
  const start = sink.records.length;
  expect(await ask('stderr-lines 5000')).toEqual(['lines']);
  expect(await ask('log-lines 5000')).toEqual(['logged']);
  // The "suppressed" report comes once the second is over.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !sink.records.slice(start).some((r) => /suppressed/.test(r.msg))) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1100));
  const records = sink.records.slice(start);
  const lines = records.filter((r) => /^(line|log) \d+$/.test(r.msg));
  const suppressed = records.filter((r) => /^… \d+ more log lines from this plugin suppressed \(more than 50 a second\)$/.test(r.msg));
  expect(suppressed.length).toBeGreaterThan(0);
  const total = suppressed.reduce((n, r) => n + Number(/^… (\d+)/.exec(r.msg)![1]), 0);
  expect(lines.length + total).toBe(10_000); // nothing silently lost: either logged or counted
  expect(lines.length).toBeLessThan(10_000);
  expect(await ask('ping')).toEqual(['pong']);
});

it('a message over the limit fails that request with a PLUGIN error naming the limit; the next request works', async () => {
  const got: string[] = [];
  const err = await (async () => {
    try {
      for await (const d of proxy.chat([{ role: 'user', content: `big ${2 * 1024 * 1024}` }], { signal: new AbortController().signal })) got.push(d);
    } catch (e) {
      return e as Error & { code?: string };
    }
    return null;
  })();
  expect(got).toEqual(['first']);
  expect(err?.code).toBe('PLUGIN_FAILED');
  expect(err?.message).toMatch(/plugin flood-llm chat\(\) failed: sent a message of 2\.0 MB; the limit for one message from a plugin is 1\.0 MB/);
  expect(proxy.state).toBe('ready');
  expect(await ask('ping')).toEqual(['pong']);
});

it('cuts a long line as it arrives, never holding more than the limit', () => {
  const lines: string[] = [];
  const out = new OutputLines((l) => lines.push(l), 10);
  out.push(Buffer.from('0123456789abcdef'));
  out.push(Buffer.from('ghij\nshort\r\nlast'));
  out.end();
  expect(out.highWaterBytes).toBe(10);
  expect(lines).toEqual(['0123456789 … [line cut: 10 more bytes dropped, the limit is 10 bytes a line]', 'short', 'last']);
});
