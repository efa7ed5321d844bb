/**
 * The built-in plugins' model catalogue as shipped: totals match their files, and a file already on disk with the
 * catalogue's size is reported "already present" without a single request (a wrong size in the manifest made
 * every pull download the Piper .onnx.json again).
 */
import { mkdtemp, mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCatalog } from '../../../main/core/models/catalog.ts';
import { ModelLibrary } from '../../../main/core/models/library.ts';
import { readManifest } from '../../../main/core/plugins/manifest.ts';
import { pluginFolder } from '../../helpers/plugin-context.ts';
import { FakeHub } from './http-fixture.ts';

const BUILTINS = ['moonshine-stt', 'whisper-stt', 'smart-turn', 'llama-llm', 'melo-tts', 'piper-tts', 'openai-llm'];

async function catalogue() {
  return buildCatalog(await Promise.all(BUILTINS.map(async (name) => ({ manifest: await readManifest(pluginFolder(name)) }))));
}

/** A file of exactly `size` bytes without writing them (sparse): only its size counts for "present". */
async function sparseFile(path: string, size: number) {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'w');
  await fh.truncate(size);
  await fh.close();
}

describe('built-in model catalogue', () => {
  it('states each total as the sum of its files where every file has a size', async () => {
    for (const name of BUILTINS) {
      const manifest = await readManifest(pluginFolder(name));
      for (const m of manifest.models) {
        if (m.size === undefined || m.files.some((f) => f.size === undefined)) continue;
        expect([m.id, m.files.reduce((a, f) => a + f.size!, 0)]).toEqual([m.id, m.size]);
      }
    }
  });

  it('has the published sizes of the Piper voice configs and whisper-tiny.en', async () => {
    const { entries } = await catalogue();
    const byId = new Map(entries.map((e) => [e.id, e]));
    const file = (id: string, path: string) => byId.get(id)!.files.find((f) => f.path === path)!.size;
    expect(file('en_US-lessac-medium', 'en_US-lessac-medium.onnx.json')).toBe(4885);
    expect(file('en_US-amy-low', 'en_US-amy-low.onnx.json')).toBe(4164);
    expect(byId.get('whisper-tiny.en')!.size).toBe(43_536_374);
  });
});

describe('pulling a Piper voice that is already on disk', () => {
  let hub: FakeHub;
  let modelsDir: string;
  beforeEach(async () => {
    hub = await new FakeHub().start();
    modelsDir = await mkdtemp(join(tmpdir(), 'parley-catalogue-'));
  });
  afterEach(async () => {
    await hub.stop();
    await rm(modelsDir, { recursive: true, force: true });
  });

  for (const id of ['en_US-lessac-medium', 'en_US-amy-low']) {
    it(`${id}: files of the catalogue's sizes are "already present", none is fetched`, async () => {
      const { entries } = await catalogue();
      const real = entries.find((e) => e.id === id)!;
      // The real manifest's files, served by a local hub that counts requests (and has nothing to serve).
      const entry = { ...real, files: real.files.map((f) => ({ ...f, url: `${hub.url}/${id}/${f.path}` })) };
      for (const f of entry.files) await sparseFile(join(modelsDir, id, f.path), f.size!);
      const mm = new ModelLibrary({ modelsDir, catalog: [entry], onEvent: () => {}, retries: 0, retryDelayMs: 10 });

      const result = await mm.pull(id);

      expect(result.files.map((f) => [f.path, f.outcome])).toEqual(entry.files.map((f) => [f.path, 'already-present']));
      expect(hub.requests).toHaveLength(0);
    });
  }

  it('a config of the old, wrong size is fetched again (so the size in the manifest decides)', async () => {
    const { entries } = await catalogue();
    const real = entries.find((e) => e.id === 'en_US-lessac-medium')!;
    const entry = { ...real, files: real.files.map((f) => ({ ...f, url: `${hub.url}/lessac/${f.path}` })) };
    for (const f of entry.files) await sparseFile(join(modelsDir, entry.id, f.path), f.path.endsWith('.onnx.json') ? 7010 : f.size!);
    const mm = new ModelLibrary({ modelsDir, catalog: [entry], onEvent: () => {}, retries: 0, retryDelayMs: 10 });

    await mm.pull(entry.id).catch(() => {}); // the hub has nothing to serve: the pull fails, after asking for the file

    expect(hub.requests.map((r) => r.path)).toEqual([`/lessac/en_US-lessac-medium.onnx.json`]);
  });
});
