/**
 * The HTTP server: Twilio webhooks, the local control API, health, and WebSocket upgrades (the media stream,
 * the GUI bridge). Every route declares its access level and `authorize` is checked before the handler runs.
 */
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import { ParleyError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { compile, match, parseBody, readBody, sendError, sendJson, statusOf, type Access, type CompiledRoute, type RequestContext, type Route } from './router.ts';

export interface UpgradeHandler {
  path: string;
  access: Access;
  handle(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
}

/** How long a client may take, and how many connections one address may hold (docs/api.md, "Limits"). */
export interface ListenerLimits {
  /** All request headers must arrive within this (slow-loris). */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A socket with no traffic either way for this long is closed (WebSockets are exempt: they ping). */
  idleTimeoutMs: number;
  /** Open connections per client address (read at each new connection); 0 = no limit. */
  maxConnectionsPerAddress(): number;
}

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 120_000,
  maxConnectionsPerAddress: () => 0,
};

export interface HttpServerOptions {
  log: Logger;
  limits?: Partial<ListenerLimits>;
  /**
   * Why this request's Host is not one this listener answers to (DNS rebinding), or null when it is. Checked
   * before anything else, on every request and upgrade.
   */
  hostProblem?(req: IncomingMessage): string | null;
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
  /** Open connections per client address, and the addresses already warned about (one line per burst). */
  readonly #perAddress = new Map<string, number>();
  readonly #warnedAddresses = new Set<string>();

  constructor(options: HttpServerOptions) {
    this.#opts = options;
    this.#log = options.log.child({ component: 'http' });
    const limits = { ...DEFAULT_LISTENER_LIMITS, ...options.limits };
    // Node checks the header / request deadlines on this interval: keep it finer than the shortest deadline.
    const connectionsCheckingInterval = Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 2));
    this.server = createServer({ connectionsCheckingInterval }, (req, res) => void this.#handle(req, res));
    this.server.on('upgrade', (req, socket, head) => void this.#upgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      this.#log.debug(timedOut ? 'request not received in time; connection closed' : 'malformed HTTP request', { error: err.message });
      if (socket.writable) socket.end(timedOut ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    // Slow or silent clients must not hold sockets forever. The deadlines apply to receiving a request, not to
    // a long response (the /events stream), and upgraded WebSockets are exempt from the idle timeout (ws
    // clears it; media sockets have their own start deadline).
    this.server.headersTimeout = limits.headersTimeoutMs;
    this.server.requestTimeout = limits.requestTimeoutMs;
    this.server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    this.server.timeout = limits.idleTimeoutMs;
    this.server.on('connection', (socket: Socket) => this.#countConnection(socket, limits.maxConnectionsPerAddress()));
  }

  /** One address may hold only so many connections: the one over the limit gets a 503 and is closed. */
  #countConnection(socket: Socket, max: number): void {
    const addr = socket.remoteAddress ?? '?';
    const open = this.#perAddress.get(addr) ?? 0;
    if (max > 0 && open >= max) {
      if (!this.#warnedAddresses.has(addr)) {
        this.#warnedAddresses.add(addr);
        this.#log.warn(`connection refused: ${addr} already holds ${open} connections (PARLEY_MAX_CONNECTIONS_PER_ADDRESS = ${max})`, { remote: addr });
      }
      socket.on('error', () => {});
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\ntoo many connections from your address\n');
      socket.setTimeout(1_000, () => socket.destroy());
      return;
    }
    this.#perAddress.set(addr, open + 1);
    socket.once('close', () => {
      const left = (this.#perAddress.get(addr) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(addr, left);
      else {
        this.#perAddress.delete(addr);
        this.#warnedAddresses.delete(addr);
      }
    });
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
    const wrongHost = this.#opts.hostProblem?.(req);
    if (wrongHost) {
      this.#log.warn('request refused: wrong Host (DNS rebinding?)', { method: req.method, host: req.headers.host ?? null, error: wrongHost });
      sendJson(res, 403, { error: { code: 'FORBIDDEN', message: wrongHost } });
      return;
    }
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
    const wrongHost = this.#opts.hostProblem?.(req);
    if (wrongHost) {
      this.#log.warn('WebSocket upgrade refused: wrong Host (DNS rebinding?)', { host: req.headers.host ?? null, error: wrongHost });
      refuseUpgrade(socket, 403, wrongHost);
      return;
    }
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
      refuseUpgrade(socket, status, errorMessage(err));
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

/** Answer a WebSocket upgrade with a plain HTTP error and close. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${message.replace(/[\r\n]+/g, ' ')}\n`);
}
