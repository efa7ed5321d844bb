/**
 * The model library: lists the catalogue with what is on disk, pulls models (one file after another, several
 * models at once, the same model twice joins the first pull), verifies and removes them, and reports progress
 * as `model.progress` core events through a callback. Plain Node: the core wires it up, the GUI and the CLI
 * only listen.
 */
import { rm, stat } from 'node:fs/promises';
import { ParleyError, errorMessage, isParleyError } from '../errors.ts';
import type { EventOf } from '../event-bus.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { CatalogEntry } from './catalog.ts';
import { DownloadProblem, downloadFile, type WriteStreamFactory } from './download.ts';
import { readModelMeta, writeModelMeta, type ChecksumSource } from './integrity.ts';
import { checksumMismatchMessage, diskFullMessage, downloadFailedMessage, pullCommand } from './messages.ts';
import { freeBytes, modelFilePath, modelFolder, partPath } from './paths.ts';
import { ProgressMeter } from './progress.ts';
import { verifyModel, type VerifyResult } from './verify.ts';
import type { ModelInfo } from '../../shared/models.ts';

export type ModelProgressEvent = EventOf<'model.progress'>;
export type { VerifyResult, VerifiedFile } from './verify.ts';

export interface ModelLibraryOptions {
  /** `<modelsDir>/<modelId>/<file.path>` is where plugins look (`join(ctx.modelDir, modelId)`). */
  modelsDir: string;
  /** The catalogue, or a function returning the current one (plugins are hot-reloaded). */
  catalog: readonly CatalogEntry[] | (() => readonly CatalogEntry[]);
  onEvent?: (event: ModelProgressEvent) => void;
  log?: Logger;
  /** Free bytes on the disk holding a folder; injectable for tests. Default: `fs.statfs`. */
  freeSpace?: (dir: string) => Promise<number>;
  /** Opens the `.part` file for writing; injectable for tests (ENOSPC). Default: `fs.createWriteStream`. */
  createWriteStream?: WriteStreamFactory;
  /** Minimum gap between two `downloading` events. Default 250 ms. */
  progressIntervalMs?: number;
  /** Automatic resumes after a cut connection, per file. Default 3. */
  retries?: number;
  retryDelayMs?: number;
  idleTimeoutMs?: number;
}

export type { ModelInfo } from '../../shared/models.ts';

export interface PulledFile {
  path: string;
  outcome: 'downloaded' | 'already-present';
  size: number;
  sha256: string | null;
  /** `manifest`: checked against the manifest; `first-use`: no hash in the manifest, this one recorded. */
  checksum: ChecksumSource | 'unchecked';
}

export interface PullResult {
  id: string;
  dir: string;
  files: PulledFile[];
  downloadedBytes: number;
}

interface ActivePull {
  controller: AbortController;
  promise: Promise<PullResult>;
  waiters: number;
  /** Bytes still to come, known so far: other pulls' disk checks count them as taken. */
  remaining: number;
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

export class ModelLibrary {
  readonly modelsDir: string;
  readonly #options: ModelLibraryOptions;
  readonly #log: Logger;
  readonly #active = new Map<string, ActivePull>();

  constructor(options: ModelLibraryOptions) {
    this.modelsDir = options.modelsDir;
    this.#options = options;
    this.#log = (options.log ?? silentLogger).child({ component: 'models' });
  }

  catalog(): readonly CatalogEntry[] {
    const c = this.#options.catalog;
    return typeof c === 'function' ? c() : c;
  }

  entry(id: string): CatalogEntry {
    const found = this.catalog().find((e) => e.id === id);
    if (found) return found;
    const known = this.catalog().map((e) => e.id);
    throw new ParleyError('MODEL_MISSING', `No plugin offers a model called "${id}". ${known.length ? `Known models: ${known.join(', ')}.` : 'No plugin lists any models.'} (npm run models -- list)`, {
      details: { modelId: id, unknown: true },
    });
  }

  /** The folder a plugin reads this model from. */
  modelDir(id: string): string {
    return modelFolder(this.modelsDir, id);
  }

  isPulling(id: string): boolean {
    return this.#active.has(id);
  }

  async list(): Promise<ModelInfo[]> {
    return Promise.all(this.catalog().map((e) => this.#info(e)));
  }

  async info(id: string): Promise<ModelInfo> {
    return this.#info(this.entry(id));
  }

  async #info(entry: CatalogEntry): Promise<ModelInfo> {
    const dir = modelFolder(this.modelsDir, entry.id);
    const meta = await readModelMeta(dir, entry.id);
    let bytesOnDisk = 0;
    let present = 0;
    let verified: boolean | null = true;
    const missingFiles: string[] = [];
    for (const file of entry.files) {
      const path = modelFilePath(this.modelsDir, entry.id, file.path);
      const s = await stat(path).catch(() => null);
      if (!s) {
        missingFiles.push(file.path);
        bytesOnDisk += (await sizeOf(partPath(path))) ?? 0;
        continue;
      }
      present += 1;
      bytesOnDisk += s.size;
      const record = meta.files[file.path];
      if (record?.corrupt) verified = false;
      else if (verified === true && (!record || record.size !== s.size || record.mtimeMs !== s.mtimeMs || (file.sha256 && record.sha256 !== file.sha256))) verified = null;
    }
    const status = missingFiles.length === 0 ? 'installed' : present > 0 || bytesOnDisk > 0 ? 'partial' : 'missing';
    return { ...entry, dir, status, bytesOnDisk, missingFiles, verified: status === 'installed' ? verified : null, pulling: this.#active.has(entry.id) };
  }

  /**
   * Download whatever of the model is not on disk yet. Pulling a model that is already being pulled joins
   * that pull. Aborting `signal` detaches this caller; the download stops when no caller is left.
   */
  pull(id: string, options: { signal?: AbortSignal } = {}): Promise<PullResult> {
    let entry: CatalogEntry;
    try {
      entry = this.entry(id);
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.signal?.aborted) return Promise.reject(this.#cancelled(id));
    let active = this.#active.get(id);
    if (!active) {
      const controller = new AbortController();
      const created: ActivePull = { controller, waiters: 0, remaining: 0, promise: Promise.resolve(null as never) };
      created.promise = this.#pull(entry, created).finally(() => this.#active.delete(id));
      this.#active.set(id, created);
      active = created;
    }
    active.waiters += 1;
    const signal = options.signal;
    if (!signal) return active.promise;
    const joined = active;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        joined.waiters -= 1;
        if (joined.waiters === 0) joined.controller.abort();
        reject(this.#cancelled(id));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /** Stop a model's pull for every caller. The `.part` file is kept, so the next pull resumes. */
  cancel(id: string): boolean {
    const active = this.#active.get(id);
    if (!active) return false;
    active.controller.abort();
    return true;
  }

  /** Hash every file and compare with the manifest (or the hash recorded on first use). */
  async verify(id: string, options: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    const entry = this.entry(id);
    await this.#active.get(id)?.promise.catch(() => {});
    return verifyModel(entry, { modelsDir: this.modelsDir, emit: (e) => this.#emit(e), intervalMs: this.#options.progressIntervalMs, ...(options.signal ? { signal: options.signal } : {}) });
  }

  /** Delete the model's folder, kept `.part` files included. Cancels a running pull first. */
  async remove(id: string): Promise<void> {
    const entry = this.entry(id);
    const active = this.#active.get(id);
    if (active) {
      active.controller.abort();
      await active.promise.catch(() => {});
    }
    await rm(modelFolder(this.modelsDir, entry.id), { recursive: true, force: true });
    this.#log.info('model removed', { modelId: id });
  }

  #emit(event: ModelProgressEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (err) {
      this.#log.warn('model.progress listener threw', { error: errorMessage(err) });
    }
  }

  #cancelled(id: string): ParleyError {
    return new ParleyError('CANCELLED', `Download of ${id} cancelled. What was downloaded is kept; \`${pullCommand(id)}\` resumes it.`, { details: { modelId: id } });
  }

  async #freeSpace(dir: string): Promise<number> {
    return (this.#options.freeSpace ?? freeBytes)(dir);
  }

  async #pull(entry: CatalogEntry, self: ActivePull): Promise<PullResult> {
    const signal = self.controller.signal;
    const id = entry.id;
    const dir = modelFolder(this.modelsDir, id);
    const meter = new ProgressMeter(this.#options.progressIntervalMs === undefined ? {} : { intervalMs: this.#options.progressIntervalMs });
    const meta = await readModelMeta(dir, id);
    const files = await Promise.all(
      entry.files.map(async (spec) => {
        const path = modelFilePath(this.modelsDir, id, spec.path);
        const onDisk = await sizeOf(path);
        // A file that failed `verify` is downloaded again (into .part, renamed over the bad one).
        const done = onDisk !== null && (spec.size === undefined || onDisk === spec.size) && !meta.files[spec.path]?.corrupt;
        return { spec, path, done, size: done ? onDisk : (spec.size ?? null), have: done ? onDisk! : ((await sizeOf(partPath(path))) ?? 0) };
      }),
    );
    let received = 0;
    let state: ModelProgressEvent['state'] = 'downloading';
    const position = () => {
      const bytes = files.reduce((a, f) => a + f.have, 0);
      const known = files.every((f) => f.size !== null) ? files.reduce((a, f) => a + (f.size ?? 0), 0) : entry.size;
      return { bytes, total: known === null ? null : Math.max(known, bytes) };
    };
    const emit = (force: boolean, error?: string) => {
      if (!force && !meter.due()) return;
      const { bytes, total } = position();
      const { rate, etaSec } = meter.sample(received, bytes, total);
      this.#emit({ type: 'model.progress', modelId: id, state, bytes, total, rate, etaSec, ...(error ? { error } : {}), at: Date.now() });
    };
    const stillNeeded = () => {
      const { bytes, total } = position();
      const unknown = files.some((f) => f.size === null);
      const known = files.reduce((a, f) => a + (f.size === null ? 0 : Math.max(0, f.size - f.have)), 0);
      return unknown && total !== null ? Math.max(known, total - bytes) : known;
    };
    const checkDisk = async (needed: number) => {
      const others = [...this.#active.values()].filter((a) => a !== self).reduce((a, p) => a + p.remaining, 0);
      const free = await this.#freeSpace(dir);
      if (free < needed + others) {
        throw new ParleyError('DISK_FULL', diskFullMessage({ modelId: id, folder: dir, needed: needed + others, free }), { details: { modelId: id, folder: dir, needed: needed + others, free } });
      }
    };

    const result: PulledFile[] = [];
    let current: (typeof files)[number] | undefined;
    try {
      emit(true);
      self.remaining = stillNeeded();
      await checkDisk(self.remaining);
      for (const file of files) {
        if (file.done) {
          const record = meta.files[file.spec.path];
          result.push({ path: file.spec.path, outcome: 'already-present', size: file.have, sha256: record?.sha256 ?? null, checksum: record?.source ?? 'unchecked' });
          continue;
        }
        current = file;
        // `p.received` restarts at 0 when the downloader resumes after a cut: count only what is new.
        let seen = 0;
        const downloaded = await downloadFile({
          url: file.spec.url,
          dest: file.path,
          ...(file.spec.sha256 ? { sha256: file.spec.sha256 } : {}),
          signal,
          log: this.#log.child({ modelId: id, file: file.spec.path }),
          ...(this.#options.createWriteStream ? { createWriteStream: this.#options.createWriteStream } : {}),
          ...(this.#options.retries !== undefined ? { retries: this.#options.retries } : {}),
          ...(this.#options.retryDelayMs !== undefined ? { retryDelayMs: this.#options.retryDelayMs } : {}),
          ...(this.#options.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.#options.idleTimeoutMs } : {}),
          onResponse: async ({ offset, total }) => {
            file.have = offset;
            if (total !== null) file.size = total;
            self.remaining = stillNeeded();
            if (total !== null) await checkDisk(total - offset);
          },
          onProgress: (p) => {
            file.have = p.bytes;
            if (p.total !== null) file.size = p.total;
            received += p.received >= seen ? p.received - seen : p.received;
            seen = p.received;
            emit(false);
          },
        });
        file.have = downloaded.size;
        file.size = downloaded.size;
        file.done = true;
        self.remaining = stillNeeded();
        const source: ChecksumSource = file.spec.sha256 ? 'manifest' : 'first-use';
        const s = await stat(file.path);
        meta.files[file.spec.path] = { sha256: downloaded.sha256, source, size: s.size, mtimeMs: s.mtimeMs, checkedAt: new Date().toISOString() };
        await writeModelMeta(dir, meta);
        if (source === 'first-use') {
          this.#log.info('no sha256 in the manifest; recorded this download\'s hash (trust on first use)', { modelId: id, file: file.spec.path, sha256: downloaded.sha256 });
        }
        result.push({ path: file.spec.path, outcome: 'downloaded', size: downloaded.size, sha256: downloaded.sha256, checksum: source });
      }
      state = 'done';
      emit(true);
      this.#log.info('model pulled', { modelId: id, downloadedBytes: received });
      return { id, dir, files: result, downloadedBytes: received };
    } catch (raw) {
      const err = await this.#describe(raw, entry, current, stillNeeded());
      state = err.code === 'CANCELLED' ? 'cancelled' : 'failed';
      emit(true, err.code === 'CANCELLED' ? undefined : err.message);
      this.#log[err.code === 'CANCELLED' ? 'info' : 'warn']('model pull ended', { modelId: id, code: err.code, error: err.message });
      throw err;
    }
  }

  /** Turn whatever went wrong into the one sentence the user needs. */
  async #describe(err: unknown, entry: CatalogEntry, file: { spec: { path: string; url: string }; path: string } | undefined, needed: number): Promise<ParleyError> {
    const id = entry.id;
    if (isParleyError(err)) return err;
    const details = { modelId: id, ...(file ? { file: file.spec.path, url: file.spec.url, destination: file.path } : {}) };
    if (err instanceof DownloadProblem && file) {
      switch (err.kind) {
        case 'cancelled':
          return this.#cancelled(id);
        case 'disk-full': {
          const dir = modelFolder(this.modelsDir, id);
          const free = await this.#freeSpace(dir).catch(() => null);
          return new ParleyError('DISK_FULL', diskFullMessage({ modelId: id, folder: dir, needed: needed > 0 ? needed : null, free, duringWrite: true }), { cause: err, details: { ...details, needed, free } });
        }
        case 'checksum':
          return new ParleyError(
            'CHECKSUM_MISMATCH',
            checksumMismatchMessage({ modelId: id, filePath: file.spec.path, expected: err.expected ?? '?', actual: err.actual ?? '?', source: 'manifest', removed: true }),
            { cause: err, details: { ...details, expected: err.expected, actual: err.actual } },
          );
        default: {
          const resumable = ((await sizeOf(partPath(file.path))) ?? 0) > 0;
          const message = downloadFailedMessage({ modelId: id, filePath: file.spec.path, url: file.spec.url, reason: err.message, destination: file.path, resumable });
          return new ParleyError('DOWNLOAD_FAILED', message, {
            cause: err,
            details: { ...details, ...(err.status ? { status: err.status } : {}) },
          });
        }
      }
    }
    if ((err as { code?: string } | null)?.code === 'ENOSPC') {
      const dir = modelFolder(this.modelsDir, id);
      const free = await this.#freeSpace(dir).catch(() => null);
      return new ParleyError('DISK_FULL', diskFullMessage({ modelId: id, folder: dir, needed: needed > 0 ? needed : null, free, duringWrite: true }), { cause: err, details });
    }
    const where = file ? `${id}/${file.spec.path} to ${file.path}` : `${id} to ${modelFolder(this.modelsDir, id)}`;
    return new ParleyError('DOWNLOAD_FAILED', `Could not save ${where} (${errorMessage(err)}).`, { cause: err, details });
  }
}

export { missingModelMessage } from './messages.ts';
export { strayModelFolders } from './catalog.ts';
