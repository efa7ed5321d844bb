import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatabaseSync, type DatabaseSyncInstance } from '@photostructure/sqlite';
import { isParleyError } from '../../../main/core/errors.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import { openRecordsDb, recordsDbPath } from '../../../main/core/records/db.ts';
import { MIGRATIONS, SCHEMA_VERSION, schemaVersion } from '../../../main/core/records/migrations.ts';
import { freshDataDirPerTest } from './helpers.ts';

const dataDir = freshDataDirPerTest();

/** The schema as v1 shipped it, written out by hand (not from MIGRATIONS, so a changed step is caught). */
const V1_SCHEMA = `
  CREATE TABLE calls (sid TEXT PRIMARY KEY, direction TEXT, from_number TEXT, to_number TEXT, stream_sid TEXT,
    started_at INTEGER NOT NULL, ended_at INTEGER, status TEXT NOT NULL, end_reason TEXT, duration_ms INTEGER,
    plugins TEXT, last_event_at INTEGER NOT NULL);
  CREATE INDEX calls_started_at ON calls (started_at);
  CREATE TABLE turns (call_sid TEXT NOT NULL REFERENCES calls (sid) ON DELETE CASCADE, turn_id INTEGER NOT NULL,
    caller_text TEXT, agent_text TEXT, agent_full_text TEXT, interrupted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call_sid, turn_id)) WITHOUT ROWID;
  CREATE TABLE events (id INTEGER PRIMARY KEY, call_sid TEXT NOT NULL REFERENCES calls (sid) ON DELETE CASCADE,
    at INTEGER NOT NULL, type TEXT NOT NULL, data TEXT);
  CREATE INDEX events_call ON events (call_sid, at);
  PRAGMA user_version = 1;
`;

function columns(db: DatabaseSyncInstance, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
}

describe('records schema migrations', () => {
  it('creates the current schema in an empty data folder, in WAL mode', () => {
    const db = openRecordsDb(recordsDbPath(join(dataDir(), 'nested', 'data')));
    try {
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
      expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
      expect(columns(db, 'calls')).toEqual(expect.arrayContaining(['sid', 'status', 'recording_path', 'owner_pid', 'models', 'persona']));
      expect(columns(db, 'turns')).toEqual(expect.arrayContaining(['agent_full_text', 'voice_to_voice_ms']));
    } finally {
      db.close();
    }
  });

  it('upgrades a v1 database and keeps its data; an open v1 call is then recovered as crashed', async () => {
    const file = recordsDbPath(dataDir());
    const v1 = new DatabaseSync(file);
    v1.exec(V1_SCHEMA);
    v1.exec(`
      INSERT INTO calls VALUES ('CAold', 'inbound', '+15550001111', '+15550002222', 'MZold', 1000, 61000, 'completed', 'stop', 60000, '{"stt":"w","llm":"l","tts":"p"}', 61000);
      INSERT INTO calls VALUES ('CAopen', 'outbound', '+15550002222', '+15550003333', NULL, 2000, NULL, 'in-progress', NULL, NULL, NULL, 5000);
      INSERT INTO turns VALUES ('CAold', 1, 'hello', 'hi there', 'hi there, how can I help?', 1);
      INSERT INTO events (call_sid, at, type, data) VALUES ('CAold', 30000, 'dtmf', '{"digit":"7"}');
    `);
    v1.close();

    const store = await CallStore.open({ dataDir: dataDir() });
    try {
      const old = store.get('CAold')!;
      expect(old).toMatchObject({ direction: 'inbound', from: '+15550001111', startedAt: 1000, endedAt: 61000, status: 'completed', durationMs: 60000, plugins: { stt: 'w', llm: 'l', tts: 'p' }, models: null, recording: null });
      expect(old.turns).toEqual([
        { turnId: 1, callerText: 'hello', agentText: 'hi there', agentFullText: 'hi there, how can I help?', interrupted: true, callerAt: null, agentAt: null, latencies: null },
      ]);
      expect(old.events).toMatchObject([{ type: 'dtmf', data: { digit: '7' }, at: 30000 }]);
      // v4: the persona column; a call from before personas has none.
      expect(old.persona).toBeNull();
      // v1 had no owner column: its open call belongs to nobody alive, so it is ended at its last event.
      expect(store.recovery.crashed).toEqual(['CAopen']);
      expect(store.get('CAopen')).toMatchObject({ status: 'failed', endReason: 'crashed', endedAt: 5000, durationMs: 3000 });
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(file, { readOnly: true });
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('a failing step leaves the database at the previous version, untouched', () => {
    const file = recordsDbPath(dataDir());
    const v1 = new DatabaseSync(file);
    v1.exec(V1_SCHEMA);
    v1.exec(`ALTER TABLE turns ADD COLUMN stt_ms INTEGER`); // collides with v2's column
    v1.exec(`INSERT INTO calls VALUES ('CAx', 'inbound', NULL, NULL, NULL, 1, 2, 'completed', 'stop', 1, NULL, 2)`);
    v1.close();

    let err: unknown;
    try {
      openRecordsDb(file);
    } catch (e) {
      err = e;
    }
    expect(isParleyError(err, 'RECORDS_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/to schema v2 failed/);
    const db = new DatabaseSync(file, { readOnly: true });
    expect(schemaVersion(db)).toBe(1);
    expect(columns(db, 'calls')).not.toContain('owner_pid'); // v2's earlier statements were rolled back
    expect(db.prepare('SELECT count(*) AS n FROM calls').get()).toEqual({ n: 1 });
    db.close();
  });

  it('refuses a database from a newer Parley with a message naming the fix', () => {
    const file = recordsDbPath(dataDir());
    const future = new DatabaseSync(file);
    future.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    expect(() => openRecordsDb(file)).toThrow(/newer Parley .*Update Parley/);
  });

  it('says clearly when a file is not a database', async () => {
    const file = recordsDbPath(dataDir());
    await writeFile(file, 'this is not sqlite, just some text that is long enough to have a header. '.repeat(20));
    expect(() => openRecordsDb(file)).toThrow(/call records file .* cannot be used \(file is not a database\). If it is damaged, move it aside/);
  });
});
