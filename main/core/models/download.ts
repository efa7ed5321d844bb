/**
 * Downloading one file: HTTP(S) GET that follows redirects (Hugging Face hands out CDN links), resumes a kept
 * `<file>.part` with `Range:` when the server allows it, hashes while writing, fsyncs and renames into place
 * only when the bytes are complete and the sha256 (if known) matches. Knows nothing about models: the
 * manager turns a `DownloadProblem` into the user-facing error.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '../log.ts';
import { partPath } from './paths.ts';

export type WriteStreamFactory = (path: string, options: { flags: 'w' | 'a' }) => Writable;

export type DownloadProblemKind = 'network' | 'http' | 'incomplete' | 'disk-full' | 'checksum' | 'cancelled';

export class DownloadProblem extends Error {
  readonly kind: DownloadProblemKind;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;

  constructor(kind: DownloadProblemKind, reason: string, extra: { retryable?: boolean; status?: number; expected?: string; actual?: string; cause?: unknown } = {}) {
    super(reason, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'DownloadProblem';
    this.kind = kind;
    this.retryable = extra.retryable ?? false;
    this.status = extra.status;
    this.expected = extra.expected;
    this.actual = extra.actual;
  }
}

export interface DownloadProgress {
  /** Bytes of this file on disk so far, including a resumed prefix. */
  bytes: number;
  /** Size of the whole file when the server said so. */
  total: number | null;
  /** Bytes received over the network by this call (excludes the resumed prefix): what a rate is made of. */
  received: number;
}

export interface DownloadFileOptions {
  url: string;
  /** Final path; bytes go to `<dest>.part` until complete. */
  dest: string;
  /** Expected lowercase hex sha256; on mismatch the file is removed and a `checksum` problem thrown. */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Called once the server has answered, before any byte is written: the place for a disk-space check. */
  onResponse?: (info: { offset: number; total: number | null }) => Promise<void> | void;
  createWriteStream?: WriteStreamFactory;
  /** Extra attempts after a cut connection, a timeout or a 5xx; each resumes from what is on disk. */
  retries?: number;
  retryDelayMs?: number;
  /** A connection that delivers nothing for this long is given up (and retried). */
  idleTimeoutMs?: number;
  maxRedirects?: number;
  log?: Logger;
}

export interface DownloadResult {
  sha256: string;
  size: number;
  /** Bytes that were already on disk from an earlier attempt. */
  resumedFrom: number;
}

const USER_AGENT = 'parley-model-manager/1';
// Only failures of an established connection are worth retrying; DNS failures and refusals mean offline or
// blocked, and the user should hear about it now rather than after a minute of back-off.
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Remembers which URL and which version (ETag / Last-Modified) a kept `.part` belongs to. */
interface PartInfo {
  url: string;
  etag?: string;
  lastModified?: string;
}

function partInfoPath(dest: string): string {
  return `${partPath(dest)}.json`;
}

async function readPartInfo(dest: string): Promise<PartInfo | null> {
  try {
    return JSON.parse(await readFile(partInfoPath(dest), 'utf8')) as PartInfo;
  } catch {
    return null;
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/** Throws `cancelled` if the signal has fired; every step of a download checks it. */
function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DownloadProblem('cancelled', 'cancelled');
}

function errorCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

function networkProblem(err: unknown, midBody: boolean): DownloadProblem {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const reason = message === 'aborted' || code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'the connection was cut' : message;
  return new DownloadProblem('network', reason, { retryable: midBody || RETRYABLE_CODES.has(code ?? ''), cause: err });
}

/** One GET without following redirects. Resolves with the response headers; the body is the caller's. */
function getOnce(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, idleTimeoutMs: number): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { headers, agent: false, signal }, resolve);
    req.setTimeout(idleTimeoutMs, () => {
      req.destroy(Object.assign(new Error(`no data from the server for ${Math.round(idleTimeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (err) => reject(signal?.aborted ? new DownloadProblem('cancelled', 'cancelled') : networkProblem(err, false)));
  });
}

async function get(start: URL, headers: Record<string, string>, o: DownloadFileOptions): Promise<IncomingMessage> {
  let url = start;
  const maxRedirects = o.maxRedirects ?? 10;
  for (let hop = 0; ; hop += 1) {
    const res = await getOnce(url, headers, o.signal, o.idleTimeoutMs ?? 30_000);
    const status = res.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status) || !res.headers.location) return res;
    res.resume();
    if (hop >= maxRedirects) throw new DownloadProblem('http', `more than ${maxRedirects} redirects`);
    const next = new URL(res.headers.location, url);
    if (url.protocol === 'https:' && next.protocol !== 'https:') {
      throw new DownloadProblem('http', `refused a redirect from HTTPS to insecure ${next.origin}`);
    }
    o.log?.debug('following redirect', { from: url.origin, to: next.origin, status });
    url = next;
  }
}

async function hashPrefix(hash: Hash, path: string, length: number, signal: AbortSignal | undefined): Promise<void> {
  if (length === 0) return;
  const stream = createReadStream(path, { start: 0, end: length - 1 });
  for await (const chunk of stream) {
    checkAborted(signal);
    hash.update(chunk as Buffer);
  }
}

/** `bytes 100-199/1000` → { start: 100, total: 1000 }; `bytes * /1000` → { start: null, total: 1000 }. */
function parseContentRange(value: string | undefined): { start: number | null; total: number | null } {
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(value?.trim() ?? '');
  if (!m) return { start: null, total: null };
  return { start: m[1] === undefined ? null : Number(m[1]), total: m[2] === '*' || m[2] === undefined ? null : Number(m[2]) };
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDir(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can fsync a directory (Windows); the rename itself is still atomic.
  }
}

async function place(o: DownloadFileOptions, part: string, sha256: string): Promise<void> {
  if (o.sha256 && sha256 !== o.sha256) {
    await rm(part, { force: true });
    await rm(partInfoPath(o.dest), { force: true });
    throw new DownloadProblem('checksum', 'checksum mismatch', { expected: o.sha256, actual: sha256 });
  }
  await fsyncFile(part);
  await rename(part, o.dest);
  await rm(partInfoPath(o.dest), { force: true });
  await fsyncDir(dirname(o.dest));
}

async function attempt(o: DownloadFileOptions): Promise<DownloadResult> {
  const part = partPath(o.dest);
  await mkdir(dirname(o.dest), { recursive: true });
  const info = await readPartInfo(o.dest);
  let offset = (await sizeOf(part)) ?? 0;
  if (offset > 0 && info?.url !== o.url) {
    o.log?.info('discarding a partial download from another URL', { file: part });
    offset = 0;
  }

  const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    // If the file changed upstream since the part was written, the server sends all of the new one instead.
    const validator = info?.etag && !info.etag.startsWith('W/') ? info.etag : info?.lastModified;
    if (validator) headers['if-range'] = validator;
  }
  checkAborted(o.signal);
  const res = await get(new URL(o.url), headers, o);
  const status = res.statusCode ?? 0;
  const hash = createHash('sha256');
  let total: number | null;

  if (status === 416 && offset > 0) {
    res.resume();
    const range = parseContentRange(res.headers['content-range']);
    if (range.total === offset) {
      // The previous attempt had everything but was cut before placing the file.
      await hashPrefix(hash, part, offset, o.signal);
      const sha256 = hash.digest('hex');
      await place(o, part, sha256);
      o.onProgress?.({ bytes: offset, total: offset, received: 0 });
      return { sha256, size: offset, resumedFrom: offset };
    }
    await rm(part, { force: true });
    throw new DownloadProblem('incomplete', 'the server refused to resume; starting over', { retryable: true });
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new DownloadProblem('http', `HTTP ${status}${res.statusMessage ? ' ' + res.statusMessage : ''}`, {
      status,
      retryable: status >= 500 || status === 408 || status === 429,
    });
  }
  if (status === 206) {
    const range = parseContentRange(res.headers['content-range']);
    if (offset === 0 || range.start !== offset) {
      res.destroy();
      await rm(part, { force: true });
      throw new DownloadProblem('incomplete', 'the server resumed at the wrong place; starting over', { retryable: true });
    }
    total = range.total;
  } else {
    if (offset > 0) o.log?.info('server does not resume downloads; starting the file over', { url: o.url });
    offset = 0;
    const length = Number(res.headers['content-length']);
    total = Number.isFinite(length) && res.headers['content-length'] !== undefined ? length : null;
  }

  try {
    await o.onResponse?.({ offset, total });
    const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
    const lastModified = res.headers['last-modified'];
    await writeFile(partInfoPath(o.dest), JSON.stringify({ url: o.url, etag, lastModified } satisfies PartInfo));
    await hashPrefix(hash, part, offset, o.signal);
  } catch (err) {
    res.destroy();
    throw err;
  }

  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      received += chunk.length;
      o.onProgress?.({ bytes: offset + received, total, received });
      done(null, chunk);
    },
  });
  const out = (o.createWriteStream ?? ((path, options) => createWriteStream(path, options)))(part, { flags: offset > 0 ? 'a' : 'w' });
  // A cut connection ends the body instead of failing the pipeline, so every byte that did arrive is
  // flushed to the .part (a failed pipeline would destroy the file stream with data still buffered).
  let cut: unknown = null;
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of res) yield chunk as Buffer;
    } catch (err) {
      if (o.signal?.aborted) throw err;
      cut = err;
    }
  }
  try {
    await pipeline(body, meter, out, o.signal ? { signal: o.signal } : {});
  } catch (err) {
    res.destroy();
    if (o.signal?.aborted) throw new DownloadProblem('cancelled', 'cancelled');
    if (errorCode(err) === 'ENOSPC') throw new DownloadProblem('disk-full', 'no space left on the disk', { cause: err });
    throw networkProblem(err, true);
  }
  if (cut) throw networkProblem(cut, true);
  const size = offset + received;
  if (total !== null && size !== total) {
    throw new DownloadProblem('incomplete', `the connection closed after ${size} of ${total} bytes`, { retryable: true });
  }
  checkAborted(o.signal);
  const sha256 = hash.digest('hex');
  await place(o, part, sha256);
  return { sha256, size, resumedFrom: offset };
}

/**
 * Download `url` to `dest`, resuming from a kept `<dest>.part`. Throws `DownloadProblem`, or whatever
 * `onResponse` throws. A cancelled or failed download keeps its `.part` for the next attempt, except after a
 * checksum mismatch (the bytes are known bad).
 */
export async function downloadFile(o: DownloadFileOptions): Promise<DownloadResult> {
  const log = o.log ?? silentLogger;
  const retries = o.retries ?? 3;
  for (let tries = 0; ; tries += 1) {
    checkAborted(o.signal);
    try {
      return await attempt(o);
    } catch (err) {
      if (!(err instanceof DownloadProblem) || !err.retryable || tries >= retries) throw err;
      const delay = (o.retryDelayMs ?? 1000) * (tries + 1);
      log.warn('download interrupted; resuming', { url: o.url, reason: err.message, attempt: tries + 2, delayMs: delay });
      try {
        await sleep(delay, undefined, o.signal ? { signal: o.signal } : undefined);
      } catch {
        throw new DownloadProblem('cancelled', 'cancelled');
      }
    }
  }
}
