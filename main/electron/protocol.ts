/**
 * The `parley://app/` scheme the window loads from (instead of file://, which would give the page the whole
 * disk's origin): the built renderer with the GUI's Content-Security-Policy, and call recordings for <audio>.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Protocol } from 'electron';
import { fileResponse } from '../core/server/file-sender.ts';
import { contentSecurityPolicy, contentType, rendererFile, SECURITY_HEADERS } from '../web/static-files.ts';

export const APP_SCHEME = 'parley';
export const APP_ORIGIN = 'parley://app';
export const APP_URL = `${APP_ORIGIN}/index.html`;
/** The page may open the core's loopback /test-call WebSocket (the port is only known once the server listens). */
export const TEST_CALL_CONNECT_SRC = 'ws://127.0.0.1:*';

/**
 * Is this a URL of the app itself? (Node's URL gives non-special schemes the origin "null", so compare the
 * scheme and host rather than `origin`.)
 */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === 'app' && u.username === '' && u.password === '' && u.port === '';
  } catch {
    return false;
  }
}

/** Privileges for registerSchemesAsPrivileged (before app ready): a standard, secure origin; media streaming. */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true, stream: true } as const;

export interface AppProtocolOptions {
  rendererDir: string;
  /** A finished recording's file for a call, or null. */
  recordingFile(sid: string): string | null;
}

const text = (status: number, body: string) => new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS } });

/** Answer one parley:// request (exported for tests). */
export async function handleAppRequest(request: Request, options: AppProtocolOptions): Promise<Response> {
  const url = new URL(request.url);
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== 'app') return text(404, 'not found');
  const rec = /^\/recordings\/([^/]+)\.wav$/.exec(url.pathname);
  if (rec) {
    let sid: string;
    try {
      sid = decodeURIComponent(rec[1]!);
    } catch {
      return text(400, 'bad recording name');
    }
    const file = options.recordingFile(sid);
    if (!file) return text(404, `call ${sid} has no finished recording`);
    return fileResponse(request, file, { ...SECURITY_HEADERS });
  }
  const file = rendererFile(url.pathname, options.rendererDir);
  if (!file || !existsSync(file)) return text(404, url.pathname === '/index.html' ? 'The GUI is not built: run `npm run build`.' : 'not found');
  return new Response(await readFile(file), {
    status: 200,
    headers: { 'content-type': contentType(file), 'content-security-policy': contentSecurityPolicy([TEST_CALL_CONNECT_SRC]), 'cache-control': 'no-store', ...SECURITY_HEADERS },
  });
}

export function registerAppProtocol(protocol: Pick<Protocol, 'handle'>, options: AppProtocolOptions): void {
  protocol.handle(APP_SCHEME, (request) => handleAppRequest(request, options));
}
