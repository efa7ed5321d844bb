/**
 * The built renderer (dist/renderer): where it is, which request path maps to which file, and the headers it is
 * served with. Both the headless server and the Electron `parley://` protocol use the same Content-Security-
 * Policy from here; files themselves go out through the one sender, main/core/server/file-sender.ts.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { APP_ROOT } from '../core/config.ts';

export { contentType } from '../core/server/file-sender.ts';

export const RENDERER_DIR = resolve(APP_ROOT, 'dist', 'renderer');

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

export function rendererBuilt(root = RENDERER_DIR): boolean {
  return existsSync(join(root, 'index.html'));
}
