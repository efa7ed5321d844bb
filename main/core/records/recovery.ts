/**
 * What a start does about the previous run's unclean stop: calls still marked live whose writing process is
 * gone are ended at their last recorded event with reason `crashed`, and recordings left with a zero-size
 * header are repaired. A call whose owner is another live process (a second Parley on the same data folder)
 * is left alone, as is its recording. When the previous run's record writes were failing (it left the
 * INCOMPLETE_MARKER file), those calls most likely lost their `call.ended`: they are ended with reason
 * `record-incomplete` ("ended (record incomplete)") instead of `crashed`.
 */
import { existsSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../log.ts';
import type { RecordsDb } from './db.ts';
import { repairRecordings, type RepairResult } from './recorder.ts';
import { CRASHED_REASON, INCOMPLETE_MARKER, RECORD_INCOMPLETE_REASON, TERMINAL_STATUSES } from './types.ts';
import { wavDurationMs } from './wav.ts';

const TERMINAL_SQL = `(${TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`;

/** Whether a process with this pid exists. Our own pid counts as gone: at open, this process owns no call yet. */
export function ownerAlive(pid: number | null): boolean {
  if (pid === null || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The absolute path of a stored recording path, or null when it would leave the recordings folder. */
export function recordingAbsolutePath(dataDir: string, recordingsDir: string, stored: string): string | null {
  const full = isAbsolute(stored) ? resolve(stored) : resolve(dataDir, stored);
  const rel = relative(resolve(recordingsDir), full);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.includes(`..${sep}`) ? full : null;
}

export interface RecoveryResult {
  crashed: string[];
  repaired: RepairResult[];
}

export async function recoverAfterCrash(db: RecordsDb, dataDir: string, recordingsDir: string, log: Logger): Promise<RecoveryResult> {
  const open = db.prepare('SELECT sid, owner_pid, recording_path FROM calls WHERE ended_at IS NULL').all() as {
    sid: string;
    owner_pid: number | null;
    recording_path: string | null;
  }[];
  const crashed: string[] = [];
  const marker = join(dataDir, INCOMPLETE_MARKER);
  const reason = existsSync(marker) ? RECORD_INCOMPLETE_REASON : CRASHED_REASON;
  const liveRecordings = new Set<string>();
  const markCrashed = db.prepare(`
    UPDATE calls SET
      ended_at = last_event_at,
      duration_ms = coalesce(duration_ms, max(0, last_event_at - started_at)),
      end_reason = ?,
      status = CASE WHEN status IN ${TERMINAL_SQL} THEN status ELSE 'failed' END,
      owner_pid = NULL
    WHERE sid = ? AND ended_at IS NULL`);
  const addEvent = db.prepare(`INSERT INTO events (call_sid, at, type, data) SELECT sid, last_event_at, 'ended', ? FROM calls WHERE sid = ?`);
  for (const row of open) {
    if (ownerAlive(row.owner_pid)) {
      const file = row.recording_path ? recordingAbsolutePath(dataDir, recordingsDir, row.recording_path) : null;
      if (file) liveRecordings.add(file);
      continue;
    }
    db.exec('BEGIN IMMEDIATE');
    try {
      markCrashed.run(reason, row.sid);
      addEvent.run(JSON.stringify({ reason, recovered: true }), row.sid);
      db.exec('COMMIT');
      crashed.push(row.sid);
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
  if (crashed.length > 0) log.warn(`records: calls left open by an unclean stop were marked ${reason}`, { calls: crashed });
  if (reason === RECORD_INCOMPLETE_REASON) rmSync(marker, { force: true });

  const repaired = await repairRecordings(recordingsDir, { skip: liveRecordings, log });
  const setSize = db.prepare('UPDATE calls SET recording_bytes = ?, recording_ms = ? WHERE recording_path = ?');
  for (const r of repaired) {
    if (r.action !== 'repaired') continue;
    const stored = relative(dataDir, r.file).split(sep).join('/');
    setSize.run(r.dataBytes, wavDurationMs(r.dataBytes), stored);
  }
  return { crashed, repaired };
}
