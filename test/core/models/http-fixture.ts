/**
 * A local stand-in for Hugging Face: a node:http server whose routes serve bytes with or without Range
 * support, slowly, cut mid-body, or redirect. Every request is recorded so tests can assert on Range headers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback } from '../../helpers/local-server.ts';

export interface ServeOptions {
  /** Honour `Range:` (206). Default true. */
  range?: boolean;
  chunkSize?: number;
  /** Pause between chunks, to make a download last long enough to observe. */
  delayMs?: number;
  /** Destroy the socket after sending this many body bytes (of this response). */
  cutAfter?: number;
}

export interface RecordedRequest {
  path: string;
  range: string | undefined;
  ifRange: string | undefined;
}

export type Route = (req: IncomingMessage, res: ServerResponse, attempt: number) => void | Promise<void>;

export class FakeHub {
  readonly server = http.createServer((req, res) => void this.#handle(req, res));
  readonly requests: RecordedRequest[] = [];
  readonly #routes = new Map<string, Route>();
  readonly #attempts = new Map<string, number>();
  url = '';

  async start(): Promise<this> {
    this.url = await listenOnLoopback(this.server);
    return this;
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  route(path: string, handler: Route): string {
    this.#routes.set(path, handler);
    return `${this.url}${path}`;
  }

  requestsFor(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', this.url).pathname;
    this.requests.push({ path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
    const attempt = (this.#attempts.get(path) ?? 0) + 1;
    this.#attempts.set(path, attempt);
    const handler = this.#routes.get(path);
    if (!handler) {
      res.writeHead(404, 'Not Found').end('not found');
      return;
    }
    await handler(req, res, attempt);
  }
}

/** Serve `body` like a static file server (or CDN) would. */
export async function serveBytes(req: IncomingMessage, res: ServerResponse, body: Buffer, options: ServeOptions = {}): Promise<void> {
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', etag: '"v1"', 'accept-ranges': options.range === false ? 'none' : 'bytes' };
  if (m && options.range !== false) {
    start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, { ...headers, 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
  } else {
    res.writeHead(200, { ...headers, 'content-length': body.length });
  }
  const chunkSize = options.chunkSize ?? 16 * 1024;
  let sent = 0;
  for (let at = start; at < body.length; at += chunkSize) {
    if (res.destroyed) return;
    let chunk = body.subarray(at, Math.min(at + chunkSize, body.length));
    if (options.cutAfter !== undefined && sent + chunk.length > options.cutAfter) {
      chunk = chunk.subarray(0, options.cutAfter - sent);
      if (!res.write(chunk)) await once(res, 'drain');
      // Let the bytes leave before pulling the plug, like a dropped Wi-Fi connection mid-download.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    if (!res.write(chunk)) await once(res, 'drain');
    sent += chunk.length;
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
  }
  res.end();
}

export function randomBody(bytes: number): Buffer {
  return randomBytes(bytes);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A port nothing listens on: for "connection refused". */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  const port = Number(new URL(await listenOnLoopback(server)).port);
  await closeServer(server);
  return port;
}
