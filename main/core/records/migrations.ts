/**
 * The records schema, as ordered migration steps. `PRAGMA user_version` holds the number of steps applied;
 * each step runs in its own transaction together with the version bump, so a crash mid-migration leaves the
 * database at the previous version, never half-way. Steps are append-only: never edit a released one.
 *
 * All times are epoch milliseconds (INTEGER). JSON columns hold small objects (plugins, event details).
 */
import type { DatabaseSyncInstance } from '@photostructure/sqlite';
import { ParleyError } from '../errors.ts';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'calls, turns, events',
    sql: `
      CREATE TABLE calls (
        sid           TEXT PRIMARY KEY,
        direction     TEXT,              -- inbound | outbound | NULL when no event said
        from_number   TEXT,
        to_number     TEXT,
        stream_sid    TEXT,
        started_at    INTEGER NOT NULL,
        ended_at      INTEGER,
        status        TEXT NOT NULL,     -- last known Twilio status; the final one once the call has ended
        end_reason    TEXT,              -- from call.ended, or 'crashed'
        duration_ms   INTEGER,
        plugins       TEXT,              -- JSON {stt, llm, tts}
        last_event_at INTEGER NOT NULL
      );
      CREATE INDEX calls_started_at ON calls (started_at);
      CREATE TABLE turns (
        call_sid        TEXT NOT NULL REFERENCES calls (sid) ON DELETE CASCADE,
        turn_id         INTEGER NOT NULL,
        caller_text     TEXT,
        agent_text      TEXT,            -- what the caller heard
        agent_full_text TEXT,            -- everything generated for the turn
        interrupted     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (call_sid, turn_id)
      ) WITHOUT ROWID;
      CREATE TABLE events (
        id       INTEGER PRIMARY KEY,
        call_sid TEXT NOT NULL REFERENCES calls (sid) ON DELETE CASCADE,
        at       INTEGER NOT NULL,
        type     TEXT NOT NULL,          -- started | status | dtmf | interrupted | error | ended
        data     TEXT                    -- JSON details
      );
      CREATE INDEX events_call ON events (call_sid, at);
    `,
  },
  {
    version: 2,
    description: 'recordings, per-turn latencies and times, models, call ownership',
    sql: `
      ALTER TABLE calls ADD COLUMN models TEXT;             -- JSON, when the engine reports them
      ALTER TABLE calls ADD COLUMN owner_pid INTEGER;       -- process writing a live call (crash recovery)
      ALTER TABLE calls ADD COLUMN recording_path TEXT;     -- relative to the data folder
      ALTER TABLE calls ADD COLUMN recording_bytes INTEGER;
      ALTER TABLE calls ADD COLUMN recording_ms INTEGER;
      CREATE INDEX calls_status ON calls (status);
      ALTER TABLE turns ADD COLUMN caller_at INTEGER;
      ALTER TABLE turns ADD COLUMN agent_at INTEGER;
      ALTER TABLE turns ADD COLUMN endpoint_ms INTEGER;
      ALTER TABLE turns ADD COLUMN stt_ms INTEGER;
      ALTER TABLE turns ADD COLUMN llm_first_token_ms INTEGER;
      ALTER TABLE turns ADD COLUMN tts_first_audio_ms INTEGER;
      ALTER TABLE turns ADD COLUMN voice_to_voice_ms INTEGER;
      ALTER TABLE turns ADD COLUMN engine_overhead_ms INTEGER;
    `,
  },
  {
    version: 3,
    description: 'messages taken for the owner (the inbox)',
    sql: `
      CREATE TABLE messages (
        id        INTEGER PRIMARY KEY,
        call_sid  TEXT NOT NULL REFERENCES calls (sid) ON DELETE CASCADE,
        name      TEXT NOT NULL DEFAULT '',
        callback  TEXT NOT NULL DEFAULT '',
        message   TEXT NOT NULL DEFAULT '',
        at        INTEGER NOT NULL,
        done_at   INTEGER                -- NULL until marked done
      );
      CREATE INDEX messages_at ON messages (at);
      CREATE INDEX messages_call ON messages (call_sid);
    `,
  },
  {
    version: 4,
    description: 'the persona that took the call',
    sql: `
      ALTER TABLE calls ADD COLUMN persona TEXT;            -- the persona's name (main/core/personas.ts); NULL before v4
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export function schemaVersion(db: DatabaseSyncInstance): number {
  return Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
}

/** Applies the missing steps in order; returns the versions applied. */
export function migrate(db: DatabaseSyncInstance, file: string): number[] {
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new ParleyError(
      'RECORDS_FAILED',
      `The call records in ${file} were written by a newer Parley (schema v${current}; this version knows up to v${SCHEMA_VERSION}). Update Parley, or point PARLEY_DATA_DIR at another folder.`,
      { details: { file, current, supported: SCHEMA_VERSION } },
    );
  }
  const applied: number[] = [];
  for (const step of MIGRATIONS) {
    if (step.version <= current) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another process (the export CLI, a second Parley) may have applied it while we waited for the lock.
      if (schemaVersion(db) >= step.version) {
        db.exec('COMMIT');
        continue;
      }
      db.exec(step.sql);
      db.exec(`PRAGMA user_version = ${step.version}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw new ParleyError('RECORDS_FAILED', `Upgrading the call records in ${file} to schema v${step.version} failed: ${(err as Error).message}`, {
        cause: err,
        details: { file, version: step.version },
      });
    }
    applied.push(step.version);
  }
  return applied;
}
