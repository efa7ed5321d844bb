/**
 * A Parley process killed (SIGKILL) mid-call, while it writes turns and audio: the next start must find a
 * consistent database with every completed turn, the call marked crashed, and a playable recording.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { DatabaseSync } from '@photostructure/sqlite';
import { decodeSample } from '../../../main/core/audio/mulaw.ts';
import { CallStore } from '../../../main/core/records/call-store.ts';
import { parseWavHeader, wavHeader } from '../../../main/core/records/wav.ts';
import { AGENT_BYTE, CALLER_BYTE, CRASH_SID } from '../../fixtures/records/crash-constants.ts';
import { readWav, freshDataDirPerTest } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('../../fixtures/records/crash-child.ts', import.meta.url));

const dataDir = freshDataDirPerTest();

/** Runs the child until it has reported `killAfter` turns, then SIGKILLs it; returns the last turn it reported. */
async function runAndKill(killAfter: number): Promise<number> {
  const { out, err } = await runChild([], (text) => text.includes(`turn ${killAfter}\n`));
  const turns = [...out.matchAll(/^turn (\d+)$/gm)].map((m) => Number(m[1]));
  expect(turns.length, `child never reported a turn; stderr: ${err}`).toBeGreaterThanOrEqual(killAfter);
  return Math.max(...turns);
}

/** Runs the crash child with `args` and SIGKILLs it once its output satisfies `enough`. */
async function runChild(args: string[], enough: (out: string) => boolean): Promise<{ out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir(), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (enough(out)) child.kill('SIGKILL');
  });
  const signal = await exited;
  clearTimeout(timer);
  expect(signal, `child stderr: ${err}`).toBe('SIGKILL');
  return { out, err };
}

it('a process killed mid-call leaves a consistent database and a repairable recording', async () => {
  const lastTurn = await runAndKill(8);
  const wavFile = join(dataDir(), 'recordings', `${CRASH_SID}.wav`);

  // As the kill left it: the header still says "no data" although audio was written.
  const raw = await readFile(wavFile);
  expect(parseWavHeader(raw)!.dataSize).toBe(0);
  expect(raw.length).toBeGreaterThan(44 + 8000 * 4);

  const store = await CallStore.open({ dataDir: dataDir() });
  try {
    expect(store.recovery.crashed).toEqual([CRASH_SID]);
    expect(store.recovery.repaired).toEqual([expect.objectContaining({ file: wavFile, action: 'repaired' })]);

    const check = new DatabaseSync(store.dbFile, { readOnly: true });
    expect(check.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    expect(check.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    const row = check.prepare('SELECT ended_at, last_event_at, started_at, owner_pid FROM calls WHERE sid = ?').get(CRASH_SID) as Record<string, number | null>;
    check.close();

    const call = store.get(CRASH_SID)!;
    expect(call).toMatchObject({ status: 'failed', endReason: 'crashed', direction: 'inbound' });
    expect(call.endedAt).toBe(row.last_event_at); // ended at its last recorded event
    expect(call.durationMs).toBe(row.last_event_at! - row.started_at!);
    expect(row.owner_pid).toBeNull();
    expect(call.events.at(-1)).toMatchObject({ type: 'ended', data: { reason: 'crashed', recovered: true } });

    // Every turn the child reported as done is there, whole; at most the one in flight is partial.
    const complete = call.turns.filter((t) => t.callerText && t.agentText && t.latencies);
    expect(complete.map((t) => t.turnId).slice(0, lastTurn)).toEqual(Array.from({ length: lastTurn }, (_, i) => i + 1));
    expect(call.turns.length).toBeLessThanOrEqual(lastTurn + 1);
    for (const t of complete) {
      expect(t).toMatchObject({ callerText: `caller says ${t.turnId}`, agentText: `agent answers ${t.turnId}`, interrupted: false });
      expect(t.latencies!.endpointMs).toBe(t.turnId);
    }

    // The recording parses back as a valid WAV with exactly the audio written, caller left, agent right.
    const wav = await readWav(wavFile);
    expect(wav).toMatchObject({ format: 1, channels: 2, sampleRate: 8000, bitsPerSample: 16 });
    expect(wav.dataSize).toBe(wav.fileSize - 44);
    expect(wav.riffSize).toBe(wav.fileSize - 8);
    expect(wav.dataSize % 4).toBe(0);
    expect(wav.left.length).toBeGreaterThan(8000);
    expect(new Set(wav.left)).toEqual(new Set([decodeSample(CALLER_BYTE)]));
    expect(new Set(wav.right)).toEqual(new Set([decodeSample(AGENT_BYTE)]));
    expect(call.recording).toMatchObject({ bytes: wav.dataSize, durationMs: Math.round(wav.left.length / 8) });
  } finally {
    await store.close();
  }

  // Recovery is done once: a second start finds nothing to fix.
  const again = await CallStore.open({ dataDir: dataDir() });
  expect(again.recovery.crashed).toEqual([]);
  expect(again.recovery.repaired.map((r) => r.action)).toEqual(['ok']);
  await again.close();
});

it("a call that only streamed audio before the kill keeps (about) its real length, not its start's", async () => {
  // Killed once the child's clock says the call has run 2.5 s — audio only, no turn, no other event.
  const { out } = await runChild(['audio'], (text) => [...text.matchAll(/^audio (\d+)$/gm)].some((m) => Number(m[1]) >= 2500));
  const ranMs = Math.max(...[...out.matchAll(/^audio (\d+)$/gm)].map((m) => Number(m[1])));
  const store = await CallStore.open({ dataDir: dataDir() });
  try {
    expect(store.recovery.crashed).toEqual([CRASH_SID]);
    const call = store.get(CRASH_SID)!;
    expect(call.endReason).toBe('crashed');
    // last_event_at follows the audio (at most once a second), so at most ~1 s of the call is lost.
    expect(call.durationMs).toBeGreaterThanOrEqual(ranMs - 1500);
    expect(call.durationMs).toBeLessThanOrEqual(ranMs + 1000);
  } finally {
    await store.close();
  }
});

it('leaves a call owned by another live Parley alone (and its recording)', async () => {
  // Another process on the same data folder, alive while we open.
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    const first = await CallStore.open({ dataDir: dataDir() });
    await first.close();
    const db = new DatabaseSync(join(dataDir(), 'records.db'));
    db.prepare(`INSERT INTO calls (sid, started_at, status, last_event_at, owner_pid, recording_path) VALUES ('CAlive', 1, 'in-progress', 2, ?, 'recordings/CAlive.wav')`).run(other.pid!);
    db.close();
    await mkdir(join(dataDir(), 'recordings'), { recursive: true });
    await writeFile(join(dataDir(), 'recordings', 'CAlive.wav'), Buffer.concat([wavHeader(0), Buffer.alloc(64)]));

    const store = await CallStore.open({ dataDir: dataDir() });
    expect(store.recovery).toEqual({ crashed: [], repaired: [] });
    expect(store.get('CAlive')).toMatchObject({ status: 'in-progress', endedAt: null });
    await store.close();
  } finally {
    other.kill('SIGKILL');
  }
});
