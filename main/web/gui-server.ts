/**
 * The headless GUI: the same renderer the desktop app shows, served by the core's HTTP server, talking to the
 * same IPC contract over a WebSocket at /bridge.
 *
 * Who may use it: only this computer (loopback peers, loopback Host header — no DNS rebinding) holding the
 * GUI token. The token travels in the printed URL's #fragment (never sent in page requests, never logged);
 * the page passes it on when it opens /bridge and when it plays a recording.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../core/app.ts';
import { errorMessage } from '../core/errors.ts';
import { hostName, isLoopbackHost, isLoopbackPeer, tokensEqual } from '../core/server/access.ts';
import { isChannel, type BridgeFrame } from '../shared/contract.ts';
import { createHandlers, dispatch, forwardEvents, type HostServices } from '../ipc/handlers.ts';
import { sendFile } from '../core/server/file-sender.ts';
import { sendUnlessStalled } from '../core/server/ws-send.ts';
import { contentSecurityPolicy, RENDERER_DIR, rendererFile, SECURITY_HEADERS } from './static-files.ts';

export const BRIDGE_PATH = '/bridge';
const MAX_FRAME_BYTES = 1024 * 1024;
/** A GUI that stops reading (a frozen tab) is cut off rather than buffered without bound; it reconnects. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface WebGuiOptions {
  /** The token the page must present; read at every request (the control token may be set at start-up). */
  token: () => string;
  host: Omit<HostServices, 'recordingUrl'>;
  rendererDir?: string;
  /** Builds the GUI when it is not built yet (main/web/renderer-build.ts); without it, a missing GUI is a 503. */
  build?: () => Promise<void>;
}

export interface WebGui {
  /** The URL to print: the GUI with its token in the fragment. */
  url(): string;
  /** Live bridge connections (tests). */
  readonly connections: number;
  close(): void;
}

/** A fresh random GUI token (when no control token is configured). */
export function newGuiToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Refuse anything not from this computer, or addressed to a non-loopback name (DNS rebinding). */
export function localOnlyProblem(req: IncomingMessage): string | null {
  if (!isLoopbackPeer(req)) return 'the GUI is only served to this computer';
  if (!isLoopbackHost(req.headers.host)) return `the GUI answers only to 127.0.0.1 or localhost, not ${hostName(req.headers.host) || 'no Host header'}`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) return `cross-origin request from ${origin} refused`;
  return null;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
  res.end(message + '\n');
}

export function attachWebGui(core: Core, options: WebGuiOptions): WebGui {
  const rendererDir = options.rendererDir ?? RENDERER_DIR;
  const tokenOk = (given: string | null) => !!given && tokensEqual(given, options.token());
  const host: HostServices = {
    ...options.host,
    recordingUrl: (sid) => `/gui/recordings/${encodeURIComponent(sid)}.wav?token=${encodeURIComponent(options.token())}`,
  };
  const handlers = createHandlers(core, host);
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const log = core.log.child({ component: 'gui-bridge' });

  const serveRenderer = async ({ req, res, url }: { req: IncomingMessage; res: ServerResponse; url: URL }) => {
    const problem = localOnlyProblem(req);
    if (problem) return refuse(res, 403, problem);
    const file = rendererFile(url.pathname, rendererDir);
    if (file && options.build && !existsSync(file) && (url.pathname === '/' || url.pathname === '/index.html')) {
      try {
        await options.build();
      } catch (err) {
        log.error('could not build the GUI', { error: errorMessage(err) });
        return refuse(res, 503, `The GUI could not be built: ${errorMessage(err)}`);
      }
    }
    if (!file || !existsSync(file)) {
      if (url.pathname === '/' || url.pathname === '/index.html') return refuse(res, 503, 'The GUI is not built yet: run `npm run build` (or `npm start`, which builds it).');
      return refuse(res, 404, 'not found');
    }
    const isIndex = file.endsWith('index.html');
    // Connect only back to this very origin: the bridge.
    const ws = `ws://${req.headers.host}`;
    sendFile(req, res, file, {
      ...SECURITY_HEADERS,
      'content-security-policy': contentSecurityPolicy([ws]),
      'cache-control': isIndex ? 'no-store' : 'public, max-age=31536000, immutable',
    });
  };

  core.http.route(
    { method: 'GET', path: '/', access: 'public', handler: serveRenderer },
    { method: 'GET', path: '/index.html', access: 'public', handler: serveRenderer },
    { method: 'GET', path: '/assets/:file', access: 'public', handler: serveRenderer },
    {
      method: 'GET',
      path: '/gui/recordings/:file',
      access: 'public',
      handler: ({ req, res, url, params }) => {
        const problem = localOnlyProblem(req);
        if (problem) return refuse(res, 403, problem);
        if (!tokenOk(url.searchParams.get('token'))) return refuse(res, 401, 'This recording link needs the GUI token.');
        const sid = params.file!.replace(/\.wav$/, '');
        const file = core.records?.recordingFile(sid);
        if (!file) return refuse(res, 404, `Call ${sid} has no finished recording.`);
        sendFile(req, res, file, { 'cache-control': 'no-store', ...SECURITY_HEADERS });
      },
    },
  );

  core.http.upgrade({
    path: BRIDGE_PATH,
    access: 'public',
    handle(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) {
      const problem = localOnlyProblem(req) ?? (tokenOk(url.searchParams.get('token')) ? null : 'wrong or missing GUI token: open the link Parley printed at start-up');
      if (problem) {
        log.warn('GUI bridge connection refused', { reason: problem });
        socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${problem}\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => connect(ws));
    },
  });

  const connect = (ws: WebSocket) => {
    const send = (frame: BridgeFrame) => sendUnlessStalled(ws, JSON.stringify(frame), MAX_BUFFERED_BYTES, () => log.warn('GUI bridge client is not reading; disconnecting it'));
    const unsubscribe = forwardEvents(core, (event) => send({ t: 'event', event }));
    let alive = true;
    ws.on('pong', () => (alive = true));
    const ping = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, 20_000);
    ws.on('message', (data, isBinary) => {
      let frame: Partial<Extract<BridgeFrame, { t: 'req' }>>;
      try {
        if (isBinary) throw new Error('binary frame');
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch (err) {
        log.warn('GUI bridge: unreadable frame ignored', { error: errorMessage(err) });
        return;
      }
      if (frame.t !== 'req' || typeof frame.id !== 'number') return;
      const id = frame.id;
      const channel = isChannel(frame.channel) ? frame.channel : String(frame.channel);
      void dispatch(handlers, channel, frame.request).then((result) => send({ t: 'res', id, result }));
    });
    ws.on('close', () => {
      clearInterval(ping);
      unsubscribe();
    });
    ws.on('error', () => {});
  };

  return {
    url: () => `http://127.0.0.1:${core.url ? new URL(core.url).port : ''}/#token=${options.token()}`,
    get connections() {
      return wss.clients.size;
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
