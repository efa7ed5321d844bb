/**
 * The STT/TTS worker pool (issue 17) on real plugin worker processes (test-stt with reportPid: it answers
 * "pid P call N", the process that served the request and how many requests that process has seen).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { effectiveSettings, readManifest } from '../../../main/core/plugins/manifest.ts';
import { WorkerPool, poolSize } from '../../../main/core/plugins/worker-pool.ts';
import { TEST_PLUGINS } from '../../helpers/core.ts';

const audio = { samples: new Float32Array(1600), sampleRate: 16000 as const };
const pools: WorkerPool[] = [];

async function pool(size: number, settings: Record<string, unknown>): Promise<WorkerPool> {
  const dir = join(TEST_PLUGINS, 'test-stt');
  const m = await readManifest(dir);
  const p = new WorkerPool({ name: m.name, kind: m.kind, dir, main: m.main, settings: effectiveSettings(m, { reportPid: true, ...settings }), modelDir: dir }, createLogger({ sinks: [memorySink()] }), size);
  pools.push(p);
  await p.start();
  return p;
}

const ask = (p: WorkerPool, callSid: string, signal = new AbortController().signal) => p.transcribe(audio, { signal, callSid });
const parse = (text: string) => {
  const m = /^pid (\d+) call (\d+)$/.exec(text);
  if (!m) throw new Error(`unexpected transcript ${text}`);
  return { pid: Number(m[1]), call: Number(m[2]) };
};

afterAll(async () => {
  await Promise.all(pools.map((p) => p.dispose()));
});

describe('WorkerPool', () => {
  it('sizes itself from the cores when the setting is 0: one worker per 2 cores, 1 to 4', () => {
    expect([1, 2, 3, 4, 8, 16, 64].map((cores) => poolSize(0, cores))).toEqual([1, 1, 1, 2, 4, 4, 4]);
    expect(poolSize(3, 2)).toBe(3);
  });

  it('queues fairly across calls: while one call floods the pool, the other call is served next', async () => {
    const p = await pool(1, { delayMs: 150 });
    const order: string[] = [];
    const track = (label: string, r: Promise<{ text: string }>) => r.then(() => void order.push(label));
    const flood = [1, 2, 3, 4].map((i) => track(`A${i}`, ask(p, 'CA-flood')));
    expect(p.queued).toBe(3); // A1 is on the worker
    const other = track('B1', ask(p, 'CA-other'));
    await Promise.all([...flood, other]);
    expect(order).toEqual(['A1', 'B1', 'A2', 'A3', 'A4']);
  });

  it('drops an aborted queued request at once: it never reaches a worker', async () => {
    const p = await pool(1, { delayMs: 200 });
    const first = ask(p, 'CA-a');
    const controller = new AbortController();
    const dropped = ask(p, 'CA-b', controller.signal);
    const after = ask(p, 'CA-c');
    expect(p.queued).toBe(2);
    controller.abort();
    await expect(dropped).rejects.toMatchObject({ name: 'AbortError' });
    expect(p.queued).toBe(1);
    const [a, c] = await Promise.all([first, after]);
    // The worker saw request 1 (first) and request 2 (after): the aborted one was never sent to it.
    expect(parse(c.text).call).toBe(parse(a.text).call + 1);
  });

  it('runs two requests at once on two worker processes, and queues a third', async () => {
    const p = await pool(2, { delayMs: 600 });
    const one = ask(p, 'CA-1');
    const two = ask(p, 'CA-2');
    const three = ask(p, 'CA-3');
    // Both first requests are on workers at the same time; only the third waits.
    expect(p.queued).toBe(1);
    const [r1, r2, r3] = await Promise.all([one, two, three]);
    const pids = [r1, r2].map((r) => parse(r.text).pid);
    expect(new Set(pids).size).toBe(2);
    expect(pids).toContain(parse(r3.text).pid);
    expect(pids).not.toContain(process.pid);
  });

  it('serves requests without a callSid in the lane of the lease that made them', async () => {
    const p = await pool(1, { delayMs: 150 });
    const a = p.forLane('lease-a');
    const b = p.forLane('lease-b');
    const order: string[] = [];
    const opts = () => ({ signal: new AbortController().signal });
    const all = [
      ...[1, 2, 3].map((i) => a.transcribe(audio, opts()).then(() => void order.push(`a${i}`))),
      b.transcribe(audio, opts()).then(() => void order.push('b1')),
    ];
    await Promise.all(all);
    expect(order).toEqual(['a1', 'b1', 'a2', 'a3']);
  });

  it('restarts a crashed worker for the next request, as one plugin process does', async () => {
    const p = await pool(1, {});
    const before = parse((await ask(p, 'CA-x')).text).pid;
    process.kill(before, 'SIGKILL');
    // The exit may land after the next request was sent: that one fails, the one after runs on a new process.
    let after: number | null = null;
    for (let i = 0; i < 50 && after === null; i++) {
      after = await ask(p, 'CA-x').then((r) => parse(r.text).pid, () => null);
      if (after === before) after = null;
      if (after === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
  });
});
