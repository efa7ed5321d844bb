/** Call records are private on disk: folders 0700, records.db (+ -wal / -shm) and recordings 0600. */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoreEvents } from '../../../main/core/event-bus.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import { audio, ended, started, freshDataDirPerTest } from './helpers.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

const tempDir = freshDataDirPerTest();

describe.skipIf(process.platform === 'win32')('records file modes', () => {
  it('a new data folder, the database, its WAL files and a recording are readable only by this user', async () => {
    const dataDir = join(tempDir(), 'data'); // does not exist yet
    const store = await CallStore.open({ dataDir, recordCalls: true, recorder: { lagMs: 0, flushMs: 20 } });
    const events = new CoreEvents();
    store.attach(events);
    events.emit(started('CAmodes', 1000));
    for (let i = 0; i < 10; i++) store.recordAudio('CAmodes', audio('inbound', i * 20, 0x30));
    // While open (WAL mode), the -wal and -shm files exist next to the database.
    expect(mode(join(dataDir, 'records.db-wal'))).toBe(0o600);
    expect(mode(join(dataDir, 'records.db-shm'))).toBe(0o600);
    events.emit(ended('CAmodes', 2000, 1000));
    await store.close();
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'records.db'))).toBe(0o600);
    expect(mode(join(dataDir, 'recordings'))).toBe(0o700);
    expect(mode(join(dataDir, 'recordings', 'CAmodes.wav'))).toBe(0o600);
  });

  it('tightens a folder and files an older run left open to everyone', async () => {
    const dataDir = join(tempDir(), 'old');
    mkdirSync(join(dataDir, 'recordings'), { recursive: true });
    const first = await CallStore.open({ dataDir });
    await first.close();
    writeFileSync(join(dataDir, 'recordings', 'CAold.wav'), 'RIFF');
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'recordings'), 0o755);
    chmodSync(join(dataDir, 'records.db'), 0o644);
    chmodSync(join(dataDir, 'recordings', 'CAold.wav'), 0o644);
    const store = await CallStore.open({ dataDir });
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'records.db'))).toBe(0o600);
    expect(mode(join(dataDir, 'records.db-wal'))).toBe(0o600);
    expect(mode(join(dataDir, 'recordings'))).toBe(0o700);
    expect(mode(join(dataDir, 'recordings', 'CAold.wav'))).toBe(0o600);
    await store.close();
  });
});
