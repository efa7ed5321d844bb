/**
 * A disk that stops taking writes (full, or the folder became unwritable): the failures are counted and shown
 * (status), the lost `call.ended` is written once writes work again, and a call whose end never made it to
 * disk is "ended (record incomplete)" at the next start — not "in progress" for ever.
 * The failing disk is simulated with a second connection holding the database's write lock: every write of the
 * store then fails (after the 2 s busy timeout), exactly as it would on SQLITE_FULL.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DatabaseSync } from '@photostructure/sqlite';
import { CoreEvents } from '../../../main/core/event-bus.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import type { RecordsStatus } from '../../../main/shared/status.ts';
import { ended, started, status, freshDataDirPerTest } from './helpers.ts';

const T0 = Date.UTC(2025, 4, 1, 9, 0, 0);

const tempDir = freshDataDirPerTest();

function blockWrites(): () => void {
  const other = new DatabaseSync(join(tempDir(), 'records.db'));
  other.exec('BEGIN IMMEDIATE');
  return () => {
    other.exec('ROLLBACK');
    other.close();
  };
}

it('counts failed writes in its status, and writes the lost call.ended once the disk takes writes again', { timeout: 30_000 }, async () => {
  const seen: RecordsStatus[] = [];
  const store = await CallStore.open({ dataDir: tempDir(), onStatus: (s) => seen.push(s) });
  const events = new CoreEvents();
  store.attach(events);
  expect(store.status).toMatchObject({ ok: true, failedWrites: 0 });
  events.emit(started('CAfull', T0));

  const unblock = blockWrites();
  events.emit(ended('CAfull', T0 + 4000, 4000));
  unblock();
  expect(store.failedWrites).toBe(1);
  expect(store.status.ok).toBe(false);
  expect(store.status.detail).toMatch(/1 call-record write failed .*Free disk space on the data folder/);
  expect(seen.at(-1)).toMatchObject({ ok: false, failedWrites: 1 });
  expect(store.get('CAfull')).toMatchObject({ status: 'in-progress', endedAt: null });

  // The next write that works — here a late status callback of the same call — brings the lost end with it.
  events.emit(status('CAfull', 'completed', T0 + 5000));
  expect(store.get('CAfull')).toMatchObject({ status: 'completed', endedAt: T0 + 4000, durationMs: 4000 });
  expect(store.status).toMatchObject({ ok: true, failedWrites: 1 });
  expect(seen.at(-1)).toMatchObject({ ok: true, failedWrites: 1 });
  await store.close();
  // Nothing was lost in the end: the next start has no call to mark incomplete.
  expect(existsSync(join(tempDir(), 'records.db-incomplete'))).toBe(false);
});

it('at the next start, a call whose end was lost is ended as "record incomplete"', { timeout: 30_000 }, async () => {
  const store = await CallStore.open({ dataDir: tempDir() });
  const events = new CoreEvents();
  store.attach(events);
  events.emit(started('CAlost', T0));
  const unblock = blockWrites();
  events.emit(ended('CAlost', T0 + 4000, 4000));
  expect(existsSync(join(tempDir(), 'records.db-incomplete'))).toBe(true);
  // Parley stops while the disk is still full: the call stays open on disk.
  const closing = store.close();
  await closing.catch(() => {});
  unblock();

  const next = await CallStore.open({ dataDir: tempDir() });
  try {
    expect(next.recovery.crashed).toEqual(['CAlost']);
    const call = next.get('CAlost')!;
    expect(call).toMatchObject({ endReason: 'record-incomplete' });
    expect(call.endedAt).not.toBeNull();
    expect(call.events.at(-1)).toMatchObject({ type: 'ended', data: { reason: 'record-incomplete', recovered: true } });
    expect(existsSync(join(tempDir(), 'records.db-incomplete'))).toBe(false);
  } finally {
    await next.close();
  }
});
