import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeSample, encodeSample } from '../../../main/core/audio/mulaw.ts';
import { isParleyError } from '../../../main/core/errors.ts';
import { CoreEvents } from '../../../main/core/event-bus.ts';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import { DatabaseSync } from '@photostructure/sqlite';
import { agent, audio, caller, ended, metrics, PLUGINS, readWav, started, status, tempDataDir } from './helpers.ts';

const T0 = Date.UTC(2025, 4, 1, 9, 0, 0);
const A = 'CA00000000000000000000000000000a01';
const B = 'CA00000000000000000000000000000b02';

let dir: string;
let cleanup: () => Promise<void>;
let store: CallStore | null = null;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDataDir());
});
afterEach(async () => {
  await store?.close();
  store = null;
  await cleanup();
});

/** Two overlapping calls, as the engine and Twilio would report them, interleaved on one bus. */
function simulateTwoCalls(events: CoreEvents): void {
  const e = (ev: Parameters<CoreEvents['emit']>[0]) => events.emit(ev);
  // B: outbound, placed through the REST API before its stream exists.
  e(status(B, 'queued', T0 - 3000, { direction: 'outbound', from: '+15559870000', to: '+15557770002' }));
  e(status(B, 'initiated', T0 - 2500));
  // A: inbound.
  e(started(A, T0));
  e({ type: 'call.state', callSid: A, state: 'listening', at: T0 + 10 });
  e(status(B, 'ringing', T0 + 100));
  e(caller(A, 1, 'Hi, is this', T0 + 900, false));
  e(caller(A, 1, 'Hi, is this the bakery?', T0 + 1500));
  e(started(B, T0 + 1600, { direction: 'outbound', from: '+15559870000', to: '+15557770002' }));
  e(status(B, 'in-progress', T0 + 1601));
  e(agent(A, 1, 'Yes, this is', T0 + 2000, { final: false, heard: '' }));
  e(agent(A, 1, 'Yes, this is the bakery. How can I help?', T0 + 3000));
  e(metrics(A, 1, T0 + 3001, { voiceToVoiceMs: 980 }));
  e(caller(B, 1, 'Hello?', T0 + 2500));
  e(agent(B, 1, 'Hello, I am calling about your order.', T0 + 4000));
  e(metrics(B, 1, T0 + 4001, { llmFirstTokenMs: null, ttsFirstAudioMs: null }));
  e({ type: 'call.dtmf', callSid: A, digit: '5', at: T0 + 4500 });
  e(caller(A, 2, 'Do you have "rye", bread, or\nsourdough?', T0 + 6000));
  e(agent(A, 2, 'We have rye, sourdough and a seeded loaf, all baked this morning.', T0 + 6500, { final: false, heard: 'We have rye,' }));
  e({ type: 'call.interrupted', callSid: A, turnId: 2, source: 'barge-in', at: T0 + 7000 });
  e(agent(A, 2, 'We have rye, sourdough and a seeded loaf, all baked this morning.', T0 + 7001, { heard: 'We have rye, sourdough', interrupted: true }));
  e(metrics(A, 2, T0 + 7002));
  e({ type: 'call.error', callSid: B, code: 'PLUGIN_TIMEOUT', message: 'tts took too long', at: T0 + 7100 });
  e(caller(A, 3, 'Rye please. Bye.', T0 + 8000));
  e(agent(A, 3, 'Goodbye!', T0 + 8600));
  e(ended(A, T0 + 9000, 9000, 'stop'));
  e(status(A, 'completed', T0 + 9100, { durationSec: 10 }));
  // B: Twilio's final status before the stream's stop, and a late out-of-order `ringing` after it.
  e(status(B, 'completed', T0 + 9500, { durationSec: 8 }));
  e(ended(B, T0 + 9600, 8000, 'stop'));
  e(status(B, 'ringing', T0 + 9700));
}

describe('CallStore records what happened', () => {
  it('stores two concurrent calls with turns, interruptions, latencies, dtmf and status callbacks', async () => {
    store = await CallStore.open({ dataDir: dir });
    const events = new CoreEvents();
    store.attach(events);
    simulateTwoCalls(events);

    const a = store.get(A)!;
    expect(a).toMatchObject({
      sid: A,
      direction: 'inbound',
      from: '+15551230001',
      to: '+15559870000',
      startedAt: T0,
      endedAt: T0 + 9000,
      status: 'completed',
      endReason: 'stop',
      durationMs: 9000,
      plugins: PLUGINS,
      turnCount: 3,
      recording: null,
      streamSid: `MZ${A.slice(2)}`,
    });
    expect(a.turns.map((t) => [t.turnId, t.callerText, t.agentText, t.interrupted])).toEqual([
      [1, 'Hi, is this the bakery?', 'Yes, this is the bakery. How can I help?', false],
      [2, 'Do you have "rye", bread, or\nsourdough?', 'We have rye, sourdough', true],
      [3, 'Rye please. Bye.', 'Goodbye!', false],
    ]);
    const interrupted = a.turns[1]!;
    expect(interrupted.agentFullText).toBe('We have rye, sourdough and a seeded loaf, all baked this morning.');
    expect(interrupted.agentText!.length).toBeLessThan(interrupted.agentFullText!.length);
    expect(a.turns[0]!.latencies).toEqual({ endpointMs: 500, sttMs: 120, llmFirstTokenMs: 300, ttsFirstAudioMs: 90, voiceToVoiceMs: 980, engineOverheadMs: 40 });
    expect(a.turns[2]!.latencies).toBeNull(); // the engine sent no metrics for it
    expect(a.turns[0]!.callerAt).toBe(T0 + 1500);
    expect(a.events.map((ev) => [ev.type, ev.data])).toEqual([
      ['started', { direction: 'inbound', streamSid: `MZ${A.slice(2)}` }],
      ['dtmf', { digit: '5' }],
      ['interrupted', { turnId: 2, source: 'barge-in' }],
      ['ended', { reason: 'stop', durationMs: 9000 }],
      ['status', { status: 'completed', durationSec: 10 }],
    ]);

    const b = store.get(B)!;
    expect(b).toMatchObject({
      direction: 'outbound',
      from: '+15559870000',
      to: '+15557770002',
      startedAt: T0 - 3000, // placed, not connected
      status: 'completed', // the late `ringing` did not replace it
      endReason: 'stop',
      durationMs: 8000,
      turnCount: 1,
    });
    expect(b.turns[0]!.latencies).toMatchObject({ llmFirstTokenMs: null, ttsFirstAudioMs: null, voiceToVoiceMs: 1100 });
    expect(b.events.map((ev) => ev.type)).toEqual(['status', 'status', 'status', 'started', 'status', 'error', 'status', 'ended', 'status']);
    expect(b.events.find((ev) => ev.type === 'error')!.data).toEqual({ code: 'PLUGIN_TIMEOUT', message: 'tts took too long' });
    expect(store.failedWrites).toBe(0);
  });

  it('writes as things happen: the call row exists, in progress, from call.started on', async () => {
    store = await CallStore.open({ dataDir: dir });
    const events = new CoreEvents();
    store.attach(events);
    events.emit(started(A, T0));
    events.emit(caller(A, 1, 'Hello', T0 + 100));
    // A second connection (as the export CLI would have) sees it committed.
    const other = new DatabaseSync(store.dbFile, { readOnly: true });
    try {
      expect(other.prepare('SELECT status, ended_at FROM calls WHERE sid = ?').get(A)).toEqual({ status: 'in-progress', ended_at: null });
      expect((other.prepare('SELECT caller_text FROM turns WHERE call_sid = ?').get(A) as { caller_text: string }).caller_text).toBe('Hello');
      expect((other.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    } finally {
      other.close();
    }
  });

  it('handles bad input without losing or corrupting records', async () => {
    const records = memorySink();
    store = await CallStore.open({ dataDir: dir, log: createLogger({ sinks: [records], level: 'debug' }) });
    const events = new CoreEvents();
    store.attach(events);
    events.emit(started(A, T0));
    events.emit(caller(A, 1, 'first turn', T0 + 100));
    // Events for a call never announced: kept under a row of their own.
    events.emit(caller(B, 4, 'mid-call words', T0 + 200));
    // Garbage: no sid, a broken turn id, an error for a call nobody knows.
    events.emit({ type: 'transcript', callSid: '', turnId: 1, role: 'caller', text: 'x', final: true, at: T0 });
    events.emit(caller(A, Number.NaN, 'bad turn', T0 + 300));
    events.emit({ type: 'call.error', callSid: 'CAnobody', code: 'INTERNAL', message: 'x', at: T0 });
    events.emit({ type: 'call.error', callSid: null, code: 'INTERNAL', message: 'x', at: T0 });

    // A write that fails in the database is logged and does not break the next ones.
    const spy = new DatabaseSync(store.dbFile);
    spy.exec(`CREATE TRIGGER no_dtmf BEFORE INSERT ON events WHEN NEW.type = 'dtmf' BEGIN SELECT RAISE(ABORT, 'disk says no'); END`);
    spy.close();
    expect(() => events.emit({ type: 'call.dtmf', callSid: A, digit: '1', at: T0 + 400 })).not.toThrow();
    events.emit(caller(A, 2, 'second turn', T0 + 500));
    events.emit({ type: 'call.dtmf', callSid: A, digit: '2', at: T0 + 600 }); // counted; not logged again right away

    expect(store.failedWrites).toBe(2);
    expect(records.records.filter((r) => r.msg === 'records: could not store an event')).toHaveLength(1);
    expect(records.records.some((r) => r.level === 'error' && r.msg === 'records: could not store an event' && String(r.error).includes('disk says no'))).toBe(true);
    expect(records.records.filter((r) => r.msg === 'records: event not stored').map((r) => r.reason)).toEqual(['no usable callSid', 'no usable turnId']);

    const a = store.get(A)!;
    expect(a.turns.map((t) => t.callerText)).toEqual(['first turn', 'second turn']);
    expect(a.events.map((ev) => ev.type)).toEqual(['started']); // the failed dtmf left nothing half-written
    expect(store.get(B)).toMatchObject({ status: 'in-progress', direction: null, turnCount: 1 });
    expect(store.get('CAnobody')).toBeNull();
    const check = new DatabaseSync(store.dbFile, { readOnly: true });
    expect(check.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    check.close();
  });

  it('a listener that sees a closed store does nothing', async () => {
    store = await CallStore.open({ dataDir: dir });
    const events = new CoreEvents((err) => {
      throw err;
    });
    store.attach(events);
    await store.close();
    expect(() => events.emit(started(A, T0))).not.toThrow();
    store = null;
  });
});

describe('CallStore queries', () => {
  async function seeded(): Promise<CallStore> {
    const s = await CallStore.open({ dataDir: dir });
    const events = new CoreEvents();
    s.attach(events);
    for (let i = 0; i < 12; i++) {
      const sid = `CA${String(i).padStart(32, '0')}`;
      const at = T0 + i * 3_600_000;
      events.emit(started(sid, at, { from: `+1555000${String(i).padStart(4, '0')}`, direction: i % 3 === 0 ? 'outbound' : 'inbound' }));
      events.emit(caller(sid, 1, i === 7 ? 'I want 100% rye_bread' : `question ${i}`, at + 1000));
      events.emit(agent(sid, 1, i === 4 ? 'We close at SIX tonight.' : `answer ${i}`, at + 2000));
      if (i !== 11) events.emit(ended(sid, at + 5000, 5000));
      if (i === 5) events.emit(status(sid, 'failed', at + 5001));
    }
    return s;
  }

  it('lists newest first with paging and a total', async () => {
    store = await seeded();
    const page1 = store.list({ limit: 5 });
    expect(page1.total).toBe(12);
    expect(page1.calls.map((c) => c.sid.slice(-2))).toEqual(['11', '10', '09', '08', '07']);
    const page3 = store.list({ limit: 5, offset: 10 });
    expect(page3.calls.map((c) => c.sid.slice(-2))).toEqual(['01', '00']);
    expect(page3).toMatchObject({ total: 12, limit: 5, offset: 10 });
    expect(page1.calls[0]).toMatchObject({ status: 'in-progress', endedAt: null, turnCount: 1 });
  });

  it('filters by date range, number, status, direction and text', async () => {
    store = await seeded();
    const sids = (q: Parameters<CallStore['list']>[0]) => store!.list(q).calls.map((c) => c.sid.slice(-2)).sort();
    expect(sids({ from: T0 + 2 * 3_600_000, to: T0 + 4 * 3_600_000 })).toEqual(['02', '03']);
    expect(sids({ number: '(555) 000-0003' })).toEqual(['03']);
    expect(sids({ number: '+15559870000' })).toHaveLength(12); // the called number matches too
    expect(sids({ status: 'failed' })).toEqual(['05']);
    expect(sids({ status: ['failed', 'in-progress'] })).toEqual(['05', '11']);
    expect(sids({ direction: 'outbound' })).toEqual(['00', '03', '06', '09']);
    expect(sids({ q: 'six' })).toEqual(['04']); // agent text, case-insensitive
    expect(sids({ q: '100% rye_' })).toEqual(['07']); // LIKE wildcards are literal
    expect(sids({ q: '100%%' })).toEqual([]);
    expect(sids({ q: 'question', direction: 'inbound', from: T0 + 6 * 3_600_000 })).toEqual(['08', '10', '11']); // 07 said something else, 09 is outbound
    expect(() => store!.list({ from: Number.NaN })).toThrow(/must be a number/);
  });
});

describe('CallStore delete and retention', () => {
  it('delete removes the row, its turns and events, and the recording file', async () => {
    store = await CallStore.open({ dataDir: dir, recordCalls: true });
    const events = new CoreEvents();
    store.attach(events);
    events.emit(started(A, T0));
    store.recordAudio(A, audio('inbound', 0, encodeSample(1000)));
    events.emit(caller(A, 1, 'hello', T0 + 100));
    events.emit(ended(A, T0 + 1000, 1000));
    await store.close();
    store = await CallStore.open({ dataDir: dir });
    const file = store.recordingFile(A)!;
    expect(existsSync(file)).toBe(true);
    expect(store.get(A)!.recording).toMatchObject({ path: `recordings/${A}.wav`, bytes: 160 * 4, durationMs: 20 });

    await store.delete(A);
    expect(store.get(A)).toBeNull();
    expect(existsSync(file)).toBe(false);
    const db = new DatabaseSync(store.dbFile, { readOnly: true });
    expect(db.prepare('SELECT (SELECT count(*) FROM turns) AS t, (SELECT count(*) FROM events) AS e').get()).toEqual({ t: 0, e: 0 });
    db.close();
    // A late status callback for the deleted call does not bring it back.
    store.handle(status(A, 'completed', T0 + 2000));
    expect(store.get(A)).toBeNull();
  });

  it('delete of an unknown call is a clear error', async () => {
    store = await CallStore.open({ dataDir: dir });
    const err = await store.delete('CAmissing').catch((e: unknown) => e);
    expect(isParleyError(err, 'CALL_NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/no call record "CAmissing"/);
  });

  it('purge deletes ended calls older than N days with their recordings, and keeps the rest', async () => {
    const now = T0 + 40 * 86_400_000;
    store = await CallStore.open({ dataDir: dir, recordCalls: true, now: () => now });
    const events = new CoreEvents();
    store.attach(events);
    const old = 'CA000000000000000000000000000old1';
    const oldLive = 'CA000000000000000000000000000old2';
    const recent = 'CA00000000000000000000000000new01';
    events.emit(started(old, T0));
    store.recordAudio(old, audio('inbound', 0, 0x10));
    events.emit(ended(old, T0 + 1000, 1000));
    events.emit(started(oldLive, T0 + 1));
    events.emit(started(recent, now - 86_400_000));
    events.emit(ended(recent, now - 86_400_000 + 1000, 1000));
    await new Promise((r) => setTimeout(r, 50)); // let the recording close
    const oldFile = store.recordingFile(old)!;
    expect(existsSync(oldFile)).toBe(true);

    expect(await store.purge(30)).toEqual({ deleted: 1 });
    expect(store.get(old)).toBeNull();
    expect(existsSync(oldFile)).toBe(false);
    expect(store.get(oldLive)).not.toBeNull(); // still in progress: never purged under a live call
    expect(store.get(recent)).not.toBeNull();
    await expect(store.purge(-1)).rejects.toThrow(/number of days/);
  });

  it('the retention setting purges on its own', async () => {
    const now = T0 + 10 * 86_400_000;
    store = await CallStore.open({ dataDir: dir, now: () => now });
    const events = new CoreEvents();
    store.attach(events);
    events.emit(started(A, T0));
    events.emit(ended(A, T0 + 1000, 1000));
    store.setOptions({ retentionDays: 7 });
    await expect.poll(() => store!.get(A)).toBeNull();
  });
});

describe('CallStore recordings', () => {
  it('records only when recordCalls is on, one stereo WAV per call', async () => {
    store = await CallStore.open({ dataDir: dir, recorder: { lagMs: 40, flushMs: 20 } });
    const events = new CoreEvents();
    store.attach(events);
    events.emit(started(A, T0));
    store.recordAudio(A, audio('inbound', 0, 0x20));
    store.setOptions({ recordCalls: true }); // applies to calls whose audio starts afterwards
    store.recordAudio(A, audio('inbound', 20, 0x20));
    events.emit(started(B, T0));
    const callerByte = encodeSample(3000);
    const agentByte = encodeSample(-2000);
    for (let i = 0; i < 10; i++) {
      store.recordAudio(B, audio('inbound', i * 20, callerByte));
      if (i >= 5) store.recordAudio(B, audio('outbound', i * 20, agentByte));
    }
    events.emit(ended(A, T0 + 200, 200));
    events.emit(ended(B, T0 + 200, 200));
    store.recordAudio(B, audio('outbound', 200, agentByte)); // a stray frame after the end starts no second file
    await store.close();
    expect(await readdir(join(dir, 'recordings'))).toEqual([`${B}.wav`]);
    store = await CallStore.open({ dataDir: dir });
    expect(store.get(A)!.recording).toBeNull();
    const wav = await readWav(store.recordingFile(B)!);
    expect(wav).toMatchObject({ channels: 2, sampleRate: 8000, bitsPerSample: 16, format: 1, dataSize: 1600 * 4 });
    expect(new Set(wav.left)).toEqual(new Set([decodeSample(callerByte)]));
    expect(new Set(wav.right.subarray(0, 800))).toEqual(new Set([0])); // agent silent until it spoke
    expect(new Set(wav.right.subarray(800))).toEqual(new Set([decodeSample(agentByte)]));
    expect(store.get(B)!.recording).toEqual({ path: `recordings/${B}.wav`, bytes: 6400, durationMs: 200 });
    expect(store.recovery.repaired.every((r) => r.action === 'ok')).toBe(true);
  });
});
