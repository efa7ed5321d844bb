/**
 * The data folder is private: settings, the control token, and the call records — what strangers said on the
 * phone, and their numbers. The data folder and the recordings folder are kept 0700 and every records file
 * (records.db, its -wal / -shm, the recordings) 0600, so other users of the computer cannot read them — whatever the umask, and also for a folder or file an
 * older Parley created 0755 / 0644 (tightened when the records open). No-op on Windows, where modes do not
 * carry these meanings.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

const POSIX = process.platform !== 'win32';

/** Removes group/other bits from an existing path; false when it does not exist. */
function tighten(path: string, mode: number, log?: Logger): boolean {
  let current: number;
  try {
    current = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (POSIX && (current & 0o077) !== 0) {
    try {
      chmodSync(path, mode);
    } catch (err) {
      // Not ours to change (another user's folder): say so, the records still work.
      log?.warn('could not make this private (others may read it)', { path, error: errorMessage(err) });
    }
  }
  return true;
}

/** Creates `dir` (and missing parents) 0700, or tightens it when it exists. */
export function ensurePrivateDir(dir: string, log?: Logger): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE, log);
}

/** Creates `file` empty with mode 0600 when missing (so whoever opens it next keeps that mode); tightens it otherwise. */
export function ensurePrivateFile(file: string, log?: Logger): void {
  if (tighten(file, PRIVATE_FILE_MODE, log)) return;
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  tighten(file, PRIVATE_FILE_MODE, log); // a umask cannot add bits, but an existing ACL default might
}

/** Tightens each file that exists among `files`, and each file directly inside `dir` (the recordings). */
export function tightenPrivateFiles(files: readonly string[], dir: string | null, log?: Logger): void {
  for (const f of files) tighten(f, PRIVATE_FILE_MODE, log);
  if (!dir) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFile()) tighten(path, PRIVATE_FILE_MODE, log);
    } catch {
      // gone meanwhile
    }
  }
}
