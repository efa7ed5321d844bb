import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../../main/core/models/catalog.ts';
import { ModelLibrary, type ModelProgressEvent } from '../../../main/core/models/library.ts';
import { FakeHub, randomBody, serveBytes, sha256 } from './http-fixture.ts';

const WEIGHTS = randomBody(96 * 1024);
const TOKENS = Buffer.from('a 0\nb 1\n');

let hub: FakeHub;
let modelsDir: string;
let events: ModelProgressEvent[];
let mm: ModelLibrary;

function entry(id: string, withHashes: boolean): CatalogEntry {
  return {
    id,
    plugin: 'melo-like',
    kind: 'tts',
    size: WEIGHTS.length + TOKENS.length,
    isDefault: true,
    files: [
      { path: 'model.onnx', url: `${hub.url}/model.onnx`, ...(withHashes ? { sha256: sha256(WEIGHTS) } : {}) },
      { path: 'tokens.txt', url: `${hub.url}/tokens.txt`, ...(withHashes ? { sha256: sha256(TOKENS) } : {}) },
    ],
  };
}

beforeAll(async () => {
  hub = await new FakeHub().start();
  hub.route('/model.onnx', (req, res) => serveBytes(req, res, WEIGHTS));
  hub.route('/tokens.txt', (req, res) => serveBytes(req, res, TOKENS));
});
afterAll(() => hub.stop());
beforeEach(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'parley-verify-'));
  events = [];
  mm = new ModelLibrary({ modelsDir, catalog: [entry('hashed', true), entry('tofu', false)], onEvent: (e) => events.push(e), retries: 0 });
});
afterEach(() => rm(modelsDir, { recursive: true, force: true }));

async function corrupt(id: string, file: string): Promise<void> {
  const path = join(modelsDir, id, file);
  const bytes = await readFile(path);
  bytes[100] = bytes[100]! ^ 0xff;
  await writeFile(path, bytes);
}

describe('ModelLibrary.verify', () => {
  it('passes an installed model and marks it verified in the list', async () => {
    await mm.pull('hashed');
    expect((await mm.info('hashed')).verified).toBe(true);

    const result = await mm.verify('hashed');

    expect(result).toMatchObject({ ok: true, status: 'ok' });
    expect(result.files.map((f) => [f.path, f.status, f.source])).toEqual([
      ['model.onnx', 'ok', 'manifest'],
      ['tokens.txt', 'ok', 'manifest'],
    ]);
    expect(events.filter((e) => e.state === 'verifying').length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ state: 'done', bytes: WEIGHTS.length + TOKENS.length });
  });

  it('reports a corrupted file with expected and actual hash, keeps the file, and lists it as failed', async () => {
    await mm.pull('hashed');
    await corrupt('hashed', 'model.onnx');
    // A changed file is no longer "verified" even before anyone hashes it.
    expect((await mm.info('hashed')).verified).toBe(null);

    const result = await mm.verify('hashed');

    expect(result.ok).toBe(false);
    expect(result.status).toBe('corrupt');
    expect(result.error?.code).toBe('MODEL_CORRUPT');
    expect(result.error?.message).toContain('hashed/model.onnx');
    expect(result.error?.message).toContain(sha256(WEIGHTS));
    expect(result.error?.message).toContain(sha256(await readFile(join(modelsDir, 'hashed', 'model.onnx'))));
    expect(result.files[1]!.status).toBe('ok');
    expect((await mm.info('hashed')).verified).toBe(false);
    expect(events.at(-1)).toMatchObject({ state: 'failed' });
  });

  it('replaces a file that failed verify on the next pull', async () => {
    await mm.pull('hashed');
    await corrupt('hashed', 'model.onnx');
    expect((await mm.verify('hashed')).ok).toBe(false);

    const pulled = await mm.pull('hashed');

    expect(pulled.files.map((f) => f.outcome)).toEqual(['downloaded', 'already-present']);
    expect((await readFile(join(modelsDir, 'hashed', 'model.onnx'))).equals(WEIGHTS)).toBe(true);
    expect((await mm.verify('hashed')).ok).toBe(true);
  });

  it('reports a missing model, and an incomplete one by file', async () => {
    const none = await mm.verify('hashed');
    expect(none.status).toBe('missing');
    expect(none.error?.code).toBe('MODEL_MISSING');
    expect(none.error?.message).toContain('npm run models -- pull hashed');

    await mm.pull('hashed');
    await rm(join(modelsDir, 'hashed', 'tokens.txt'));
    const partial = await mm.verify('hashed');
    expect(partial.status).toBe('missing');
    expect(partial.files.map((f) => f.status)).toEqual(['ok', 'missing']);
    expect(partial.error?.message).toContain('tokens.txt missing');
    expect((await mm.info('hashed')).status).toBe('partial');
  });

  it('without manifest hashes, compares against the hash recorded at first download (trust on first use)', async () => {
    await mm.pull('tofu');
    const good = await mm.verify('tofu');
    expect(good.files.map((f) => [f.status, f.source])).toEqual([
      ['ok', 'first-use'],
      ['ok', 'first-use'],
    ]);

    await corrupt('tofu', 'model.onnx');
    const bad = await mm.verify('tofu');
    expect(bad.status).toBe('corrupt');
    expect(bad.error?.message).toContain('recorded when it was first downloaded (trust on first use)');
    expect(bad.error?.message).toContain(sha256(WEIGHTS));
  });

  it('records the hash of a file copied by hand and accepts it from then on', async () => {
    await mkdir(join(modelsDir, 'tofu'), { recursive: true });
    await writeFile(join(modelsDir, 'tofu', 'model.onnx'), WEIGHTS);
    await writeFile(join(modelsDir, 'tofu', 'tokens.txt'), TOKENS);
    expect((await mm.info('tofu')).verified).toBe(null);

    const first = await mm.verify('tofu');
    expect(first.ok).toBe(true);
    expect(first.files.map((f) => f.status)).toEqual(['recorded', 'recorded']);

    const second = await mm.verify('tofu');
    expect(second.files.map((f) => f.status)).toEqual(['ok', 'ok']);
    expect((await mm.info('tofu')).verified).toBe(true);
  });

  it('lists installed, partial and missing models from the files on disk', async () => {
    await mm.pull('hashed');
    await mkdir(join(modelsDir, 'tofu'), { recursive: true });
    await writeFile(join(modelsDir, 'tofu', 'model.onnx.part'), WEIGHTS.subarray(0, 1000));

    const list = await mm.list();

    expect(list.map((m) => [m.id, m.status, m.bytesOnDisk])).toEqual([
      ['hashed', 'installed', WEIGHTS.length + TOKENS.length],
      ['tofu', 'partial', 1000],
    ]);
    await rm(join(modelsDir, 'tofu'), { recursive: true });
    expect((await mm.info('tofu')).status).toBe('missing');
  });
});
