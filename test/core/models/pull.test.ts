import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isParleyError, type ParleyError } from '../../../main/core/errors.ts';
import type { CatalogEntry } from '../../../main/core/models/catalog.ts';
import { ModelLibrary, missingModelMessage, type ModelLibraryOptions, type ModelProgressEvent } from '../../../main/core/models/library.ts';
import { FakeHub, closedPort, randomBody, serveBytes, sha256 } from './http-fixture.ts';

const BODY = randomBody(256 * 1024);
const BODY_SHA = sha256(BODY);

let hub: FakeHub;
let modelsDir: string;

beforeAll(async () => {
  hub = await new FakeHub().start();
});
afterAll(async () => {
  await hub.stop();
});
beforeEach(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'parley-models-'));
  hub.requests.length = 0;
});
afterEach(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

let routeCounter = 0;
/** A fresh URL path per test, so attempt counters never leak between tests. */
function uniquePath(name: string): string {
  routeCounter += 1;
  return `/${routeCounter}/${name}`;
}

function model(id: string, url: string, extra: Partial<CatalogEntry['files'][number]> = {}, path = 'onnx/model.onnx'): CatalogEntry {
  return { id, plugin: 'test-plugin', kind: 'stt', size: extra.size ?? null, files: [{ path, url, ...extra }], isDefault: false };
}

function manager(catalog: CatalogEntry[], options: Partial<ModelLibraryOptions> = {}): { mm: ModelLibrary; events: ModelProgressEvent[] } {
  const events: ModelProgressEvent[] = [];
  const mm = new ModelLibrary({ modelsDir, catalog, onEvent: (e) => events.push(e), retries: 0, retryDelayMs: 10, progressIntervalMs: 30, ...options });
  return { mm, events };
}

async function rejection(promise: Promise<unknown>): Promise<ParleyError> {
  try {
    await promise;
  } catch (err) {
    if (isParleyError(err)) return err;
    throw err;
  }
  throw new Error('expected the promise to reject');
}

describe('ModelLibrary.pull', () => {
  it('downloads into <modelsDir>/<id>/<path> with monotonic progress, rate and ETA', async () => {
    const path = uniquePath('model.onnx');
    hub.route(path, (req, res) => serveBytes(req, res, BODY, { chunkSize: 8 * 1024, delayMs: 15 }));
    const { mm, events } = manager([model('tiny', hub.url + path)]);

    const result = await mm.pull('tiny');

    const dest = join(modelsDir, 'tiny', 'onnx', 'model.onnx');
    expect(result.dir).toBe(join(modelsDir, 'tiny'));
    expect((await readFile(dest)).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    const downloading = events.filter((e) => e.state === 'downloading');
    expect(downloading.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < events.length; i += 1) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    expect(downloading.some((e) => e.total === BODY.length && e.rate !== null && e.rate > 0 && e.etaSec !== null)).toBe(true);
    // Throttled: far fewer events than the 32 chunks the server sent.
    expect(downloading.length).toBeLessThan(32);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'model.progress', modelId: 'tiny', state: 'done', bytes: BODY.length, total: BODY.length });
    expect(typeof last.at).toBe('number');
    // No sha256 in the manifest: the first download's hash is recorded (trust on first use).
    expect(result.files[0]).toMatchObject({ outcome: 'downloaded', checksum: 'first-use', sha256: BODY_SHA });
    const meta = JSON.parse(await readFile(join(modelsDir, 'tiny', '.parley-model.json'), 'utf8'));
    expect(meta.files['onnx/model.onnx']).toMatchObject({ sha256: BODY_SHA, source: 'first-use', size: BODY.length });
    expect((await mm.info('tiny')).status).toBe('installed');
  });

  it('resumes a cut connection with Range on the next pull and ends byte-identical', async () => {
    const path = uniquePath('model.gguf');
    hub.route(path, (req, res, attempt) => serveBytes(req, res, BODY, attempt === 1 ? { cutAfter: 100_000 } : {}));
    const { mm } = manager([model('cut', hub.url + path, { sha256: BODY_SHA })]);
    const dest = join(modelsDir, 'cut', 'onnx', 'model.onnx');

    const err = await rejection(mm.pull('cut'));
    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.message).toContain('Run `npm run models -- pull cut` again to resume');
    expect(err.message).toContain(`copy the file by hand to ${dest}`);
    const kept = (await stat(`${dest}.part`)).size;
    // Every byte that arrived before the cut is kept.
    expect(kept).toBe(100_000);
    expect(existsSync(dest)).toBe(false);
    expect((await mm.info('cut')).status).toBe('partial');

    await mm.pull('cut');
    const second = hub.requestsFor(path)[1]!;
    expect(second.range).toBe(`bytes=${kept}-`);
    expect(second.ifRange).toBe('"v1"');
    expect((await readFile(dest)).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('resumes automatically within one pull when retries are allowed', async () => {
    const path = uniquePath('auto.bin');
    hub.route(path, (req, res, attempt) => serveBytes(req, res, BODY, attempt === 1 ? { cutAfter: 50_000 } : {}));
    const { mm } = manager([model('auto', hub.url + path, { sha256: BODY_SHA })], { retries: 2 });

    await mm.pull('auto');

    const requests = hub.requestsFor(path);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.range).toMatch(/^bytes=\d+-$/);
    expect((await readFile(join(modelsDir, 'auto', 'onnx', 'model.onnx'))).equals(BODY)).toBe(true);
  });

  it('starts over cleanly when the server ignores Range', async () => {
    const path = uniquePath('norange.bin');
    hub.route(path, (req, res, attempt) => serveBytes(req, res, BODY, attempt === 1 ? { range: false, cutAfter: 100_000 } : { range: false }));
    const { mm } = manager([model('norange', hub.url + path, { sha256: BODY_SHA })]);

    await rejection(mm.pull('norange'));
    await mm.pull('norange');

    expect(hub.requestsFor(path)[1]!.range).toMatch(/^bytes=/);
    const file = await readFile(join(modelsDir, 'norange', 'onnx', 'model.onnx'));
    expect(file.length).toBe(BODY.length);
    expect(file.equals(BODY)).toBe(true);
  });

  it('gives up on a stalled connection after the idle timeout, keeping what arrived', async () => {
    const path = uniquePath('stall.bin');
    hub.route(path, (_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 10_000)); // ...and then nothing, like a dead CDN edge.
    });
    const { mm } = manager([model('stall', hub.url + path)], { idleTimeoutMs: 200 });

    const err = await rejection(mm.pull('stall'));

    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.message).toContain('again to resume');
    expect((await stat(join(modelsDir, 'stall', 'onnx', 'model.onnx.part'))).size).toBe(10_000);
  });

  it('places a kept .part that is already complete (server answers 416 to the Range)', async () => {
    const path = uniquePath('complete.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY));
    const { mm } = manager([model('complete', hub.url + path, { sha256: BODY_SHA })]);
    const dest = join(modelsDir, 'complete', 'onnx', 'model.onnx');
    await mkdir(join(modelsDir, 'complete', 'onnx'), { recursive: true });
    await writeFile(`${dest}.part`, BODY);
    await writeFile(`${dest}.part.json`, JSON.stringify({ url: hub.url + path }));

    await mm.pull('complete');

    expect(hub.requestsFor(path)).toEqual([expect.objectContaining({ range: `bytes=${BODY.length}-` })]);
    expect((await readFile(dest)).equals(BODY)).toBe(true);
  });

  it('follows redirects (Hugging Face → CDN), relative ones included', async () => {
    const target = uniquePath('cdn.bin');
    hub.route(target, (req, res) => serveBytes(req, res, BODY));
    const hop2 = uniquePath('hop2');
    hub.route(hop2, (_req, res) => void res.writeHead(301, { location: target }).end());
    const hop1 = uniquePath('resolve');
    hub.route(hop1, (_req, res) => void res.writeHead(302, { location: `${hub.url}${hop2}` }).end());
    const { mm } = manager([model('redir', hub.url + hop1, { sha256: BODY_SHA })]);

    await mm.pull('redir');

    expect((await readFile(join(modelsDir, 'redir', 'onnx', 'model.onnx'))).equals(BODY)).toBe(true);
    expect(hub.requests.map((r) => r.path)).toEqual([hop1, hop2, target]);
  });

  it('removes a file whose sha256 does not match and names file, expected and actual hash', async () => {
    const path = uniquePath('bad.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY));
    const wrong = 'a'.repeat(64);
    const { mm, events } = manager([model('bad', hub.url + path, { sha256: wrong })]);

    const err = await rejection(mm.pull('bad'));

    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toContain('bad/onnx/model.onnx');
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(BODY_SHA);
    const dest = join(modelsDir, 'bad', 'onnx', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(events.at(-1)).toMatchObject({ state: 'failed', error: err.message });
  });

  it('refuses to start when the disk is too small, naming folder, need and free space', async () => {
    const path = uniquePath('big.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY));
    const { mm, events } = manager([model('big', hub.url + path, { size: BODY.length })], { freeSpace: async () => 1000 });

    const err = await rejection(mm.pull('big'));

    expect(err.code).toBe('DISK_FULL');
    expect(err.message).toContain(join(modelsDir, 'big'));
    expect(err.message).toContain('262 KB more');
    expect(err.message).toContain('1.00 KB free');
    expect(hub.requestsFor(path)).toHaveLength(0);
    expect(events.at(-1)!.state).toBe('failed');
  });

  it('checks space again once the server tells the size (no size in the manifest)', async () => {
    const path = uniquePath('unsized.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY));
    const { mm } = manager([model('unsized', hub.url + path)], { freeSpace: async () => 1000 });

    const err = await rejection(mm.pull('unsized'));

    expect(err.code).toBe('DISK_FULL');
    expect(existsSync(join(modelsDir, 'unsized', 'onnx', 'model.onnx'))).toBe(false);
  });

  it('turns ENOSPC during the write into the same DISK_FULL error', async () => {
    const path = uniquePath('enospc.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY));
    const fillsUp = (file: string, options: { flags: 'w' | 'a' }) => {
      const real = createWriteStream(file, options);
      let written = 0;
      return new Writable({
        write(chunk: Buffer, _enc, done) {
          written += chunk.length;
          if (written > 64 * 1024) {
            done(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
            return;
          }
          real.write(chunk, done);
        },
        final(done) {
          real.end(done);
        },
        destroy(err, done) {
          real.destroy();
          done(err);
        },
      });
    };
    const { mm } = manager([model('full', hub.url + path)], { createWriteStream: fillsUp, freeSpace: async () => 10_000_000_000 });

    const err = await rejection(mm.pull('full'));

    expect(err.code).toBe('DISK_FULL');
    expect(err.message).toContain(join(modelsDir, 'full'));
    expect(err.message).toMatch(/filled up while downloading full .*: it needs .* more, .* free/);
    expect(existsSync(join(modelsDir, 'full', 'onnx', 'model.onnx'))).toBe(false);
  });

  it('cancels through an AbortSignal, keeps the .part and never places a partial file', async () => {
    const path = uniquePath('slow.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY, { chunkSize: 4096, delayMs: 20 }));
    const controller = new AbortController();
    const { mm, events } = manager([model('slow', hub.url + path)], {
      onEvent: (e) => {
        events.push(e);
        if (e.state === 'downloading' && e.bytes > 0) controller.abort();
      },
    });

    const err = await rejection(mm.pull('slow', { signal: controller.signal }));

    expect(err.code).toBe('CANCELLED');
    await expect.poll(() => events.at(-1)?.state).toBe('cancelled');
    const dest = join(modelsDir, 'slow', 'onnx', 'model.onnx');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(true);
    expect(mm.isPulling('slow')).toBe(false);
  });

  it('joins a second pull of the same model and runs different models concurrently', async () => {
    const a = uniquePath('a.bin');
    const b = uniquePath('b.bin');
    hub.route(a, (req, res) => serveBytes(req, res, BODY, { delayMs: 5 }));
    hub.route(b, (req, res) => serveBytes(req, res, BODY, { delayMs: 5 }));
    const { mm } = manager([model('a', hub.url + a), model('b', hub.url + b)]);

    const [first, second, other] = await Promise.all([mm.pull('a'), mm.pull('a'), mm.pull('b')]);

    expect(first).toBe(second);
    expect(hub.requestsFor(a)).toHaveLength(1);
    expect(other.id).toBe('b');
    expect((await mm.list()).map((m) => m.status)).toEqual(['installed', 'installed']);
  });

  it('keeps downloading for a joined caller when another caller detaches', async () => {
    const path = uniquePath('shared.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY, { chunkSize: 16 * 1024, delayMs: 10 }));
    const { mm } = manager([model('shared', hub.url + path)]);
    const quitter = new AbortController();

    const leaving = mm.pull('shared', { signal: quitter.signal });
    const staying = mm.pull('shared', { signal: new AbortController().signal });
    setTimeout(() => quitter.abort(), 30);

    expect((await rejection(leaving)).code).toBe('CANCELLED');
    await staying;
    expect((await readFile(join(modelsDir, 'shared', 'onnx', 'model.onnx'))).equals(BODY)).toBe(true);
  });

  it('skips files already in place', async () => {
    const path = uniquePath('present.bin');
    hub.route(path, (req, res) => serveBytes(req, res, BODY));
    const { mm } = manager([model('present', hub.url + path)]);
    await mkdir(join(modelsDir, 'present', 'onnx'), { recursive: true });
    await writeFile(join(modelsDir, 'present', 'onnx', 'model.onnx'), BODY);

    const result = await mm.pull('present');

    expect(result.files[0]!.outcome).toBe('already-present');
    expect(hub.requestsFor(path)).toHaveLength(0);
  });

  it('says which file failed, from where, and where to copy it by hand (404)', async () => {
    const url = `${hub.url}${uniquePath('missing.onnx')}`;
    const { mm, events } = manager([model('gone', url)]);

    const err = await rejection(mm.pull('gone'));

    const dest = join(modelsDir, 'gone', 'onnx', 'model.onnx');
    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.message).toBe(
      `Could not download gone/onnx/model.onnx from ${url} (HTTP 404 Not Found). Copy the file by hand to ${dest}, then run \`npm run models -- verify gone\`.`,
    );
    expect(events.at(-1)).toMatchObject({ state: 'failed', error: err.message });
  });

  it('reports a refused connection the same way, without retrying', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/model.onnx`;
    const { mm } = manager([model('offline', url)], { retries: 3, retryDelayMs: 5000 });

    const started = Date.now();
    const err = await rejection(mm.pull('offline'));

    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.code).toBe('DOWNLOAD_FAILED');
    expect(err.message).toContain(`from ${url} (connect ECONNREFUSED`);
    expect(err.message).toContain(`Copy the file by hand to ${join(modelsDir, 'offline', 'onnx', 'model.onnx')}`);
  });

  it('rejects an unknown model id with the known ones', async () => {
    const { mm } = manager([model('known', `${hub.url}/x`)]);
    const err = await rejection(mm.pull('nope'));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('known');
  });

  it('removes a model folder, partial downloads included', async () => {
    const path = uniquePath('rm.bin');
    hub.route(path, (req, res, attempt) => serveBytes(req, res, BODY, attempt === 1 ? { cutAfter: 10_000 } : {}));
    const { mm } = manager([model('rm', hub.url + path)]);
    await rejection(mm.pull('rm'));
    expect((await mm.info('rm')).status).toBe('partial');

    await mm.remove('rm');

    expect(existsSync(join(modelsDir, 'rm'))).toBe(false);
    expect((await mm.info('rm')).status).toBe('missing');
  });
});

describe('missingModelMessage', () => {
  it('tells the user the command that fixes it', () => {
    expect(missingModelMessage('whisper-base.en')).toBe('model missing — run `npm run models -- pull whisper-base.en`');
  });
});
