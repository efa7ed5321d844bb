/**
 * Sending a file with HTTP Range (an <audio> element seeks with it): one set of rules for every place a
 * recording is served — the control API, the headless GUI and the desktop app's parley:// scheme.
 *
 * `planFile` decides the status and headers: 200 with the whole file; 206 for one satisfiable range
 * (`bytes=a-b`, `bytes=a-`, `bytes=-n`); 416, with the file's size in `Content-Range`, for anything else — a
 * range outside the file, a backwards or malformed one, several ranges — so a bad header never leaves a
 * request hanging. `sendFile` (node ServerResponse) and `fileResponse` (web Response, for Electron's protocol handler)
 * only carry the plan out; HEAD gets the headers without the body.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { Readable } from 'node:stream';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wav': 'audio/wav',
};

export function contentType(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Inclusive byte offsets, as in `Content-Range`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The single range a `Range` header asks for in a file of `size` bytes: null when there is no header (send the
 * whole file), 'unsatisfiable' when it is malformed, lists several ranges, or lies outside the file.
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === null || header === undefined || header.trim() === '') return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  if (m[1] === '') {
    // bytes=-n: the last n bytes.
    const n = Number(m[2]);
    return n === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (start >= size || last < start) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}

export interface FilePlan {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  /** The bytes to send; null when there are none (416, an empty file). */
  range: ByteRange | null;
}

/** Status and headers for sending a file of `size` bytes; `headers` are added to every answer. */
export function planFile(size: number, rangeHeader: string | null | undefined, type: string, headers: Record<string, string> = {}): FilePlan {
  const range = parseRange(rangeHeader, size);
  if (range === 'unsatisfiable') {
    return { status: 416, headers: { ...headers, 'accept-ranges': 'bytes', 'content-range': `bytes */${size}`, 'content-length': '0' }, range: null };
  }
  const base = { ...headers, 'content-type': type, 'accept-ranges': 'bytes' };
  if (range === null) return { status: 200, headers: { ...base, 'content-length': String(size) }, range: size > 0 ? { start: 0, end: size - 1 } : null };
  const length = range.end - range.start + 1;
  return { status: 206, headers: { ...base, 'content-range': `bytes ${range.start}-${range.end}/${size}`, 'content-length': String(length) }, range };
}

/** Send `file` on a node response (the HTTP server's routes). */
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string, headers: Record<string, string> = {}): void {
  const plan = planFile(statSync(file).size, req.headers.range, contentType(file), headers);
  res.writeHead(plan.status, plan.headers);
  if (req.method === 'HEAD' || !plan.range) {
    res.end();
    return;
  }
  const stream = createReadStream(file, plan.range);
  stream.once('error', (err) => res.destroy(err));
  stream.pipe(res);
}

/** `file` as a web Response (Electron's protocol handler). */
export function fileResponse(request: Pick<Request, 'method' | 'headers'>, file: string, headers: Record<string, string> = {}): Response {
  const plan = planFile(statSync(file).size, request.headers.get('range'), contentType(file), headers);
  const body = request.method === 'HEAD' || !plan.range ? null : (Readable.toWeb(createReadStream(file, plan.range)) as ReadableStream);
  return new Response(body, { status: plan.status, headers: plan.headers });
}
