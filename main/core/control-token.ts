/**
 * The control API's bearer token. PARLEY_CONTROL_TOKEN when set; otherwise generated once (32 random bytes)
 * and kept in `<data dir>/control-token`, readable by this user only (0600), so the GUI, curl and scripts keep
 * working across restarts. Delete the file to get a new token.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { ensurePrivateDir } from './private-files.ts';
import { join } from 'node:path';
import type { Logger } from './log.ts';

export const CONTROL_TOKEN_FILE = 'control-token';

export function controlTokenPath(dataDir: string): string {
  return join(dataDir, CONTROL_TOKEN_FILE);
}

/** The token stored in the data folder, or null when there is none (yet). */
export function readControlToken(dataDir: string): string | null {
  try {
    const token = readFileSync(controlTokenPath(dataDir), 'utf8').trim();
    return token || null;
  } catch {
    return null;
  }
}

export interface ControlToken {
  token: string;
  source: 'setting' | 'file' | 'generated';
  /** The file it lives in (null when it comes from PARLEY_CONTROL_TOKEN / the settings). */
  path: string | null;
}

/** The token to require: the configured one, the stored one, or a new one written to the data folder. */
export function ensureControlToken(configured: string, dataDir: string, log: Logger): ControlToken {
  if (configured) return { token: configured, source: 'setting', path: null };
  const path = controlTokenPath(dataDir);
  const stored = readControlToken(dataDir);
  if (stored) {
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      chmodSync(path, 0o600);
      log.warn(`${path} was readable by other users; it is now 0600`);
    }
    return { token: stored, source: 'file', path };
  }
  ensurePrivateDir(dataDir, log);
  const token = randomBytes(32).toString('base64url');
  // `wx`: never overwrite a token another process wrote a moment ago.
  try {
    writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = readControlToken(dataDir);
      if (raced) return { token: raced, source: 'file', path };
    }
    throw err;
  }
  log.info(`generated the control API token (stored in ${path})`);
  return { token, source: 'generated', path };
}
