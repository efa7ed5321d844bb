/**
 * Opens the records database: `<dataDir>/records.db`, WAL, migrated to the current schema.
 *
 * Binding: `@photostructure/sqlite` 1.2.x — the `node:sqlite` API (`DatabaseSync`) as a Node-API addon with
 * prebuilt binaries for Linux (glibc + musl), macOS and Windows, x64 and arm64, shipped *inside* the npm
 * package and loaded by node-gyp-build at run time. Node-API is ABI-stable, so the one binary loads under
 * plain Node 20 and inside Electron 41 (Node 24 ABI) alike: no compiler, no rebuild, no download at install
 * (works with ignore-scripts). Alternatives weighed:
 * - `node:sqlite`: the same API, built in, but absent from Node 20 — the headless/CLI runtime. When Node 20
 *   support is dropped, switching is a one-line import change (1.x is the line that still supports Node 20).
 * - better-sqlite3 12.x: V8-ABI addon; needs one binary per Node/Electron ABI, fetched from GitHub by an
 *   install script or compiled, and the headless (Node 20) and Electron builds cannot share a node_modules.
 * - node-sqlite3-wasm: compiler-free, but its VFS has no shared-memory methods, so WAL only works with
 *   `locking_mode=EXCLUSIVE` (no reader — e.g. `npm run export` — while the app runs), and it locks by
 *   creating a `<db>.lock` directory that a `kill -9` leaves behind, so the next start finds the database busy.
 *
 * Durability: WAL with `synchronous=NORMAL`. A commit is in the WAL (written with write(2)) before the call
 * returns, so a killed process loses nothing it committed; only a power cut can lose the last commits, and
 * even then the database stays consistent. FULL would fsync on every commit — on the event loop that carries
 * live call audio — which is not worth it for a desktop app's call log.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync, type DatabaseSyncInstance } from '@photostructure/sqlite';
import { ParleyError, errorMessage } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { migrate } from './migrations.ts';
import { ensurePrivateDir, ensurePrivateFile, tightenPrivateFiles } from '../private-files.ts';

export const RECORDS_DB_FILE = 'records.db';
export const RECORDINGS_DIR = 'recordings';

export type RecordsDb = DatabaseSyncInstance;

export function recordsDbPath(dataDir: string): string {
  return join(dataDir, RECORDS_DB_FILE);
}

export interface OpenRecordsDbOptions {
  log?: Logger;
  /** Fail with a clear error instead of creating an empty database (the export CLI). */
  mustExist?: boolean;
}

export function openRecordsDb(file: string, options: OpenRecordsDbOptions = {}): RecordsDb {
  const log = options.log ?? silentLogger;
  if (!existsSync(file)) {
    if (options.mustExist) {
      throw new ParleyError(
        'RECORDS_FAILED',
        `No call records yet: ${file} does not exist. Start Parley and take a call first, or point PARLEY_DATA_DIR (or --data-dir) at the folder that holds records.db.`,
        { details: { file } },
      );
    }
  }
  if (!options.mustExist) {
    // 0700 folder, 0600 file: SQLite gives the -wal and -shm files the database file's mode.
    ensurePrivateDir(dirname(file), log);
    ensurePrivateFile(file, log);
    tightenPrivateFiles([`${file}-wal`, `${file}-shm`], null, log);
  }
  let db: RecordsDb;
  try {
    db = new DatabaseSync(file, { timeout: 2000, enableForeignKeyConstraints: true });
  } catch (err) {
    throw new ParleyError('RECORDS_FAILED', `Could not open the call records ${file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const mode = (db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string }).journal_mode;
    if (mode !== 'wal') log.warn('records: WAL is not available here; using the rollback journal', { file, mode });
    db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    const applied = migrate(db, file);
    if (applied.length > 0) log.info('records: schema upgraded', { file, applied });
    return db;
  } catch (err) {
    db.close();
    if (err instanceof ParleyError) throw err;
    throw new ParleyError(
      'RECORDS_FAILED',
      `The call records file ${file} cannot be used (${errorMessage(err)}). If it is damaged, move it aside (with its -wal file) and Parley starts a new one.`,
      { cause: err, details: { file } },
    );
  }
}
