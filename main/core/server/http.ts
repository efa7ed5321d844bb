/**
 * The HTTP server: Twilio webhooks, the local control API, health, and WebSocket upgrades (the media stream,
 * the GUI bridge). Every route declares its access level and `authorize` is checked before the handler runs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { ParleyError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { compile, match, parseBody, readBody, sendError, sendJson, statusOf, type Access, type CompiledRoute, type RequestContext, type Route } from './router.ts';

export interface UpgradeHandler {
  path: string;
  access: Access;
  handle(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
}

export interface HttpServerOptions {
  log: Logger;
  /** Throw a ParleyError (UNAUTHORIZED / FORBIDDEN) to refuse. `body` is the raw body for signature checks. */
  authorize?(access: Access, req: IncomingMessage, url: URL, body: unknown): void | Promise<void>;
  /** Requests no route matched (e.g. the GUI's static files). Return true when handled. */
  fallback?(req: IncomingMessage, res: ServerResponse, url: URL): boolean | Promise<boolean>;
}

export class HttpServer {
  readonly server: Server;
  readonly #routes: CompiledRoute[] = [];
  readonly #upgrades: UpgradeHandler[] = [];
  readonly #log: Logger;
  readonly #opts: HttpServerOptions;

  constructor(options: HttpServerOptions) {
    this.#opts = options;
    this.#log = options.log.child({ component: 'http' });
    this.server = createServer((req, res) => void this.#handle(req, res));
    this.server.on('upgrade', (req, socket, head) => void this.#upgrade(req, socket, head));
    this.server.on('clientError', (err, socket) => {
      this.#log.debug('malformed HTTP request', { error: err.message });
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    // Long-lived media sockets must not be cut by Node's default request timeouts.
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 15_000;
  }

  route(...routes: Route[]): void {
    for (const r of routes) this.#routes.push(compile(r));
  }

  upgrade(handler: UpgradeHandler): void {
    this.#upgrades.push(handler);
  }

  get routes(): readonly Route[] {
    return this.#routes;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendJson(res, 400, { error: { code: 'BAD_REQUEST', message: 'malformed URL' } });
      return;
    }
    const method = req.method ?? 'GET';
    try {
      const found = match(this.#routes, method, url.pathname);
      if (found === null) {
        if (this.#opts.fallback && (await this.#opts.fallback(req, res, url))) return;
        throw new ParleyError('BAD_REQUEST', `no route ${method} ${url.pathname}`, { details: { status: 404 } });
      }
      if (found === 'method') throw new ParleyError('BAD_REQUEST', `${method} is not allowed on ${url.pathname}`, { details: { status: 405 } });
      const { route, params } = found;
      const body = method === 'GET' || method === 'HEAD' ? undefined : parseBody(req, await readBody(req));
      await this.#opts.authorize?.(route.access, req, url, body);
      const ctx: RequestContext = { req, res, url, params, body };
      const result = await route.handler(ctx);
      if (!res.headersSent && !res.writableEnded) sendJson(res, 200, result ?? { ok: true });
    } catch (err) {
      const status = statusOf(err);
      const fields = { method, path: url.pathname, status, error: errorMessage(err) };
      if (status >= 500) this.#log.error('request failed', fields);
      else this.#log.warn('request refused', fields);
      sendError(res, err);
    }
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      socket.destroy();
      return;
    }
    const handler = this.#upgrades.find((u) => u.path === url.pathname);
    if (!handler) {
      this.#log.warn('WebSocket upgrade to an unknown path refused', { path: url.pathname });
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    try {
      await this.#opts.authorize?.(handler.access, req, url, undefined);
    } catch (err) {
      const status = statusOf(err);
      this.#log.warn('WebSocket upgrade refused', { path: url.pathname, status, error: errorMessage(err) });
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${errorMessage(err)}\n`);
      return;
    }
    handler.handle(req, socket, head, url);
  }

  async listen(port: number, host: string): Promise<{ host: string; port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? new ParleyError('CONFIG_INVALID', `Port ${port} on ${host} is already in use. Stop the other program or start Parley with --port <another port>.`)
            : err,
        );
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { host: addr.address, port: addr.port, url: `http://${shownHost}:${addr.port}` };
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
