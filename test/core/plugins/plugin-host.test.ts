/**
 * The plugin host (the worker process a plugin runs in) hands a third party's plugin what docs/plugins.md
 * promises through `ctx`: the plugin kit at ctx.import('parley:kit'), the host runtimes, and a clear refusal for
 * anything else. Driven through the app's PluginProxy, exactly as the app runs a plugin.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../main/core/log.ts';
import { PluginProxy } from '../../../main/core/plugins/plugin-proxy.ts';

// A plugin as a third party writes it: a folder anywhere, the contract, the kit, nothing imported from the host.
const THIRD_PARTY = `
export default {
  async create(ctx) {
    const kit = await ctx.import('parley:kit');
    const refusal = (fn) => { try { return String(fn()); } catch (e) { return e.message; } };
    const refused = await ctx.import('left-pad').then(() => 'imported', (e) => e.message);
    const unresolved = refusal(() => ctx.resolve('parley:kit'));
    return {
      async transcribe(audio, { signal }) {
        if (audio.samples.length === 1) throw kit.pluginError('MODEL_CORRUPT', 'my-stt: weights.bin is cut off', { details: { file: 'weights.bin' } });
        await kit.sleep(1, signal);
        return { text: JSON.stringify({ version: kit.version, refused, unresolved, pieces: kit.splitClauses('Dr. Who is in? Yes.') }) };
      },
    };
  },
};`;

let root: string;
let proxy: PluginProxy;
const audio = (n: number) => ({ samples: new Float32Array(n), sampleRate: 16000 as const });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'parley-third-party-'));
  const dir = join(root, 'my-stt');
  mkdirSync(dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'my-stt', kind: 'stt', version: '1.0.0', apiVersion: 1, main: 'index.js', description: 'uses the kit' }));
  writeFileSync(join(dir, 'index.js'), THIRD_PARTY);
  proxy = new PluginProxy({ name: 'my-stt', kind: 'stt', dir, main: 'index.js', settings: {}, modelDir: join(root, 'models') }, createLogger({ sinks: [] }));
  await proxy.start();
});

afterAll(async () => {
  await proxy?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('ctx.import in the plugin host', () => {
  it('hands a third-party plugin the kit: its splitter and helpers work in the plugin\'s own process', async () => {
    const seen = JSON.parse((await proxy.transcribe(audio(2), { signal: new AbortController().signal })).text);
    expect(seen.version).toBe(1);
    expect(seen.pieces).toEqual(['Dr. Who is in?', 'Yes.']);
  });

  it('a kit pluginError reaches the app with its code and message', async () => {
    const err = await proxy.transcribe(audio(1), { signal: new AbortController().signal }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe('MODEL_CORRUPT');
    expect(err?.message).toMatch(/my-stt: weights\.bin is cut off/);
  });

  it('refuses any other name, saying what it hands out; the kit is not a file to resolve', async () => {
    const seen = JSON.parse((await proxy.transcribe(audio(2), { signal: new AbortController().signal })).text);
    expect(seen.refused).toMatch(/^ctx\.import\("left-pad"\): Parley hands plugins only onnxruntime-node, .*phonemizer and its plugin kit \(parley:kit\)\. Bundle anything else inside your plugin folder\.$/);
    expect(seen.unresolved).toMatch(/^ctx\.resolve\("parley:kit"\): the plugin kit is handed out only through ctx\.import\("parley:kit"\)/);
  });
});

describe('the LLM extensions through the plugin host: callSid, prepare(), endCall()', () => {
  const LLM = (withExtensions: boolean) => `
let seen = [];
export default { async create() { return {
  async *chat(messages, options) { yield JSON.stringify({ keys: Object.keys(options).sort(), callSid: options.callSid ?? null, seen }); },
  ${withExtensions ? `async prepare(messages, options) { seen.push('prepare:' + messages.length + ':' + options.callSid); return 'not sent back'; },
  async endCall(callSid) { seen.push('end:' + callSid); },` : ''}
} } };`;
  const start = async (name: string, withExtensions: boolean) => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name, kind: 'llm', version: '1.0.0', apiVersion: 1, main: 'index.js' }));
    writeFileSync(join(dir, 'index.js'), LLM(withExtensions));
    const p = new PluginProxy({ name, kind: 'llm', dir, main: 'index.js', settings: {}, modelDir: join(root, 'models') }, createLogger({ sinks: [] }));
    await p.start();
    return p;
  };
  const reply = async (p: PluginProxy, callSid?: string) => {
    let text = '';
    for await (const d of p.chat([{ role: 'user', content: 'hi' }], { signal: new AbortController().signal, ...(callSid ? { callSid } : {}) })) text += d;
    return JSON.parse(text);
  };

  it('forwards callSid, and runs prepare() and endCall() when the plugin has them', async () => {
    const p = await start('llm-ext', true);
    try {
      await expect(p.prepare([{ role: 'system', content: 'x' }], { signal: new AbortController().signal, callSid: 'CA7' })).resolves.toBeUndefined();
      await expect(p.endCall('CA7')).resolves.toBeUndefined();
      expect(await reply(p, 'CA7')).toEqual({ keys: ['callSid', 'signal'], callSid: 'CA7', seen: ['prepare:1:CA7', 'end:CA7'] });
      expect((await reply(p)).keys).toEqual(['signal']);
    } finally {
      await p.dispose();
    }
  });

  it('prepare() and endCall() are no-ops for a plugin without them', async () => {
    const p = await start('llm-plain', false);
    try {
      await expect(p.prepare([{ role: 'system', content: 'x' }], { signal: new AbortController().signal, callSid: 'CA8' })).resolves.toBeUndefined();
      await expect(p.endCall('CA8')).resolves.toBeUndefined();
      expect(await reply(p)).toEqual({ keys: ['signal'], callSid: null, seen: [] });
    } finally {
      await p.dispose();
    }
  });
});
