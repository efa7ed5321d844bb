import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreEvents } from '../../../main/core/event-bus.ts';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { readManifest } from '../../../main/core/plugins/manifest.ts';
import { PluginRegistry } from '../../../main/core/plugins/registry.ts';
import { TEST_PLUGINS, until } from '../../helpers/core.ts';

const signal = () => new AbortController().signal;

function plugin(dir: string, manifest: Record<string, unknown>, code = 'export default { async create() { return { async transcribe() { return { text: "v1" } } } } }') {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'my-stt', kind: 'stt', version: '1.0.0', apiVersion: 1, main: 'index.js', description: 'x', ...manifest }));
  writeFileSync(join(dir, 'index.js'), code);
}

describe('manifest validation', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-manifest-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [{ name: 'My Plugin' }, /manifest\.json: field "name" must be lowercase letters, digits and dashes.*got "My Plugin"/],
    [{ kind: 'asr' }, /field "kind" must be one of "stt", "llm", "tts", "turn", "tool" \(got "asr"\)/],
    [{ version: 'one' }, /field "version" must be a version like "1.0.0"/],
    [{ apiVersion: 2 }, /field "apiVersion" must be 1/],
    [{ main: 'missing.js' }, /field "main" must be a file that exists/],
    [{ main: '../escape.js' }, /field "main" must be a file inside the plugin folder/],
    [{ settings: { speed: { type: 'fast' } } }, /field "settings.speed.type" must be one of/],
    [{ models: [{ id: 'm', files: [{ path: '../../etc/passwd', url: 'https://x' }] }] }, /models\[0\]\.files\[0\]\.path" must be a relative path inside the model folder/],
  ])('names the file, the field and what is expected: %j', async (patch, message) => {
    plugin(dir, patch);
    await expect(readManifest(dir)).rejects.toThrow(message);
    await expect(readManifest(dir)).rejects.toThrow(/Fix the manifest and save/);
  });

  it('reports bad JSON and a missing manifest clearly', async () => {
    await expect(readManifest(dir)).rejects.toThrow(/manifest.json: missing/);
    writeFileSync(join(dir, 'manifest.json'), '{ "name": ');
    await expect(readManifest(dir)).rejects.toThrow(/not valid JSON/);
  });
});

describe('PluginRegistry', () => {
  let root: string;
  let registry: PluginRegistry;
  let events: CoreEvents;
  const sink = memorySink();
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'parley-plugins-'));
    mkdirSync(join(root, 'user'));
    events = new CoreEvents();
  });
  afterEach(async () => {
    await registry?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const make = (opts: Partial<ConstructorParameters<typeof PluginRegistry>[0]> = {}) =>
    (registry = new PluginRegistry({ builtinDir: TEST_PLUGINS, userDir: join(root, 'user'), modelDir: join(root, 'models'), log: createLogger({ sinks: [sink] }), events, watch: true, ...opts }));

  it('loads the plugins, picks the only one of each kind, and runs them in workers', async () => {
    await make().start();
    expect(registry.list().map((p) => [p.name, p.kind, p.active])).toEqual([
      ['test-llm', 'llm', true],
      ['test-stt', 'stt', true],
      ['test-tts', 'tts', true],
      ['test-turn', 'turn', false], // optional kind: only the built-in smart-turn is picked without being chosen
    ]);
    const lease = registry.acquire('stt');
    const r = await lease.instance.transcribe({ samples: new Float32Array(16000), sampleRate: 16000 }, { signal: signal() });
    expect(r.text).toBe('caller spoke for 1.0 seconds');
    lease.release();
  });

  it('picks up a folder dropped in, a changed file and a removed folder, live; calls keep their instance', async () => {
    await make({ active: { stt: 'my-stt' } }).start();
    expect(() => registry.acquire('stt')).toThrow(/"my-stt" is not installed \(have: test-stt\)/);
    const dir = join(root, 'user', 'my-stt');
    plugin(dir, {});
    await until(() => registry.list().some((p) => p.name === 'my-stt'), 'my-stt to appear', 5_000);
    const first = registry.acquire('stt');
    expect((await first.instance.transcribe({ samples: new Float32Array(10), sampleRate: 16000 }, { signal: signal() })).text).toBe('v1');

    // Edit the plugin: a new instance for new calls, the old one for the call in progress.
    writeFileSync(join(dir, 'index.js'), 'export default { async create() { return { async transcribe() { return { text: "v2" } } } } }');
    await until(() => registry.acquire('stt').instance !== first.instance, 'reload', 5_000);
    const second = registry.acquire('stt');
    expect((await second.instance.transcribe({ samples: new Float32Array(10), sampleRate: 16000 }, { signal: signal() })).text).toBe('v2');
    expect((await first.instance.transcribe({ samples: new Float32Array(10), sampleRate: 16000 }, { signal: signal() })).text).toBe('v1');
    first.release();
    second.release();

    rmSync(dir, { recursive: true });
    await until(() => !registry.list().some((p) => p.name === 'my-stt'), 'removal', 5_000);
  });

  it('reports a broken plugin and skips it, never fatally', async () => {
    plugin(join(root, 'user', 'bad-manifest'), { kind: 'vision' });
    plugin(join(root, 'user', 'no-create'), { name: 'no-create' }, 'export default { hello: 1 }');
    plugin(join(root, 'user', 'syntax'), { name: 'syntax' }, 'export default { async create( {');
    await make().start();
    expect(registry.problems().map((p) => p.message).join('\n')).toMatch(/bad-manifest.*field "kind"/);
    const byName = Object.fromEntries(registry.list().map((p) => [p.name, p]));
    expect(byName['no-create']).toMatchObject({ status: 'broken', error: expect.stringMatching(/must `export default \{ async create\(ctx\)/) });
    expect(byName['syntax']).toMatchObject({ status: 'broken', error: expect.stringMatching(/SyntaxError|Unexpected/) });
    registry.setActive('stt', 'no-create');
    expect(() => registry.acquire('stt')).toThrow(/no create\(\) function found/);
    registry.setActive('stt', 'test-stt');
    registry.acquire('stt').release();
  });

  it('a user plugin with a built-in name replaces the built-in', async () => {
    plugin(join(root, 'user', 'test-stt'), { name: 'test-stt', version: '9.0.0' });
    await make().start();
    expect(registry.list().find((p) => p.name === 'test-stt')).toMatchObject({ version: '9.0.0', source: 'user' });
  });

  it('restarts a crashed or stuck plugin worker on demand', async () => {
    plugin(join(root, 'user', 'flaky'), { name: 'flaky' }, `
      let n = 0;
      export default { async create() { return {
        async transcribe(a, { signal }) {
          n++;
          if (a.samples.length === 1) process.exit(3);           // a native crash stand-in
          if (a.samples.length === 2) { const end = Date.now() + 30000; while (Date.now() < end) {} } // blocks its thread
          return { text: 'call ' + n };
        } } } }`);
    await make({ active: { stt: 'flaky' }, worker: { stuckAfterMs: 300 } }).start();
    const lease = registry.acquire('stt');
    const ok = (len: number) => lease.instance.transcribe({ samples: new Float32Array(len), sampleRate: 16000 }, { signal: signal() });
    expect((await ok(10)).text).toBe('call 1');
    await expect(ok(1)).rejects.toThrow(/worker exited \(code 3\)/);
    expect((await ok(10)).text).toBe('call 1'); // a fresh worker
    const controller = new AbortController();
    const blocked = lease.instance.transcribe({ samples: new Float32Array(2), sampleRate: 16000 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await expect(blocked).rejects.toThrow(/aborted/);
    expect(Date.now() - started).toBeLessThan(1_000);
    await until(() => sink.records.some((r) => /not responding after an abort/.test(r.msg)), 'stuck worker detected', 3_000);
    expect((await ok(10)).text).toBe('call 1');
    lease.release();
  });

  it('a turn plugin is optional: none unless chosen, predict() through a worker with callSid, garbage refused, "none" accepted', async () => {
    await make().start();
    expect(registry.activeName('turn')).toBeNull();
    expect(registry.acquireOptional('turn')).toBeNull();
    registry.setActive('turn', 'test-turn');
    const lease = registry.acquireOptional('turn')!;
    expect(lease.name).toBe('test-turn');
    expect(await lease.instance.predict({ samples: new Float32Array(320), sampleRate: 16000 }, { signal: signal(), callSid: 'CA1' })).toEqual({ complete: 1 });
    expect(await lease.instance.predict({ samples: new Float32Array(160), sampleRate: 16000 }, { signal: signal() })).toEqual({ complete: 1 });
    await until(() => sink.records.filter((r) => r.msg === 'predict').length === 2, 'two predict logs', 5_000);
    const seen = sink.records.filter((r) => r.msg === 'predict').map((r) => [r.samples, r.callSid, r.options]);
    expect(seen).toEqual([
      [320, 'CA1', ['callSid', 'signal']],
      [160, null, ['signal']], // no callSid sent: the plugin gets exactly { signal }, as before the extension
    ]);
    lease.release();
    registry.setSettings('test-turn', { mode: 'garbage' });
    const bad = registry.acquireOptional('turn')!;
    await expect(bad.instance.predict({ samples: new Float32Array(1), sampleRate: 16000 }, { signal: signal() })).rejects.toMatchObject({ code: 'PLUGIN_GARBAGE', message: expect.stringMatching(/predict\(\) must resolve to \{ complete: a number from 0 to 1 \} \(got \{"complete":"yes"\}\)/) });
    bad.release();
    registry.setActive('turn', 'none');
    expect(registry.activeName('turn')).toBeNull();
    expect(registry.acquireOptional('turn')).toBeNull();
    expect(() => registry.setActive('stt', 'none')).toThrow(/No plugin named "none"/);
  });

  it('the built-in default turn plugin is used when it starts, and not when its create() fails (a missing model)', async () => {
    const code = (ok: boolean) => `export default { async create() { ${ok ? '' : "const e = new Error('model missing — run `npm run models -- pull smart-turn-v3`'); e.code = 'MODEL_MISSING'; throw e;"} return { async predict() { return { complete: 0.25 } } } } }`;
    plugin(join(root, 'user', 'smart-turn'), { name: 'smart-turn', kind: 'turn' }, code(false));
    await make({ warm: true }).start();
    await until(() => registry.list().find((p) => p.name === 'smart-turn')?.status === 'failed', 'smart-turn to fail', 10_000);
    expect(registry.activeName('turn')).toBeNull();
    expect(registry.acquireOptional('turn')).toBeNull();
    expect(registry.list().find((p) => p.name === 'smart-turn')).toMatchObject({ active: false, error: expect.stringMatching(/model missing/) });
    await registry.stop();
    rmSync(join(root, 'user', 'smart-turn'), { recursive: true });
    plugin(join(root, 'user', 'smart-turn'), { name: 'smart-turn', kind: 'turn' }, code(true));
    await make({ warm: true }).start();
    expect(registry.activeName('turn')).toBe('smart-turn');
    const lease = registry.acquireOptional('turn')!;
    expect(await lease.instance.predict({ samples: new Float32Array(1), sampleRate: 16000 }, { signal: signal() })).toEqual({ complete: 0.25 });
    lease.release();
  });

  it('hands plugins only the host runtimes through ctx.import', async () => {
    plugin(join(root, 'user', 'greedy'), { name: 'greedy' }, `
      export default { async create(ctx) {
        await ctx.import('onnxruntime-node');
        let refused = '';
        try { await ctx.import('fs-extra'); } catch (e) { refused = e.message; }
        return { async transcribe() { return { text: refused } } };
      } }`);
    await make({ active: { stt: 'greedy' } }).start();
    const lease = registry.acquire('stt');
    const r = await lease.instance.transcribe({ samples: new Float32Array(1), sampleRate: 16000 }, { signal: signal() });
    expect(r.text).toMatch(/ctx.import\("fs-extra"\): Parley hands plugins only onnxruntime-node/);
    lease.release();
  });
});
