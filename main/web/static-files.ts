/**
 * Serving the built renderer (dist/renderer) and call recordings over HTTP, for the headless GUI. Both the
 * headless server and the Electron `parley://` protocol use the same Content-Security-Policy from here.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, extname, join, resolve } from 'node:path';
import { APP_ROOT } from '../core/config.ts';

export const RENDERER_DIR = resolve(APP_ROOT, 'dist', 'renderer');

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

/**
 * The GUI's policy: only its own scripts and styles, no inline code, no plugins, no framing, no form posts,
 * and network access only to its own origin (`connect` adds the bridge's ws:// origin where needed).
 */
export function contentSecurityPolicy(connect: string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "media-src 'self'",
    `connect-src 'self' ${connect.join(' ')}`.trim(),
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** An asset file name from the URL, or null when it tries to leave the assets folder. */
export function safeAssetName(name: string): string | null {
  if (!name || name !== basename(name) || name.startsWith('.') || /[\\/\0]/.test(name)) return null;
  return name;
}

/** The renderer file for a request path, or null (404). */
export function rendererFile(pathname: string, root = RENDERER_DIR): string | null {
  if (pathname === '/' || pathname === '/index.html') return join(root, 'index.html');
  const m = /^\/assets\/([^/]+)$/.exec(pathname);
  if (!m) return null;
  let name: string | null;
  try {
    name = safeAssetName(decodeURIComponent(m[1]!));
  } catch {
    return null;
  }
  return name ? join(root, 'assets', name) : null;
}

/** Send a file, honouring a single `Range: bytes=a-b` (audio seeking). */
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string, headers: Record<string, string>): void {
  const size = statSync(file).size;
  const base = { 'content-type': contentType(file), 'accept-ranges': 'bytes', ...SECURITY_HEADERS, ...headers };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (range && (range[1] || range[2])) {
    const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
    const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start >= size || start > end) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { ...base, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(end - start + 1) });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...base, 'content-length': String(size) });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

export function rendererBuilt(root = RENDERER_DIR): boolean {
  return existsSync(join(root, 'index.html'));
}
