/**
 * `npm run bench` (engine): simulated Twilio calls against the real server (a child process running the
 * headless core with the instant test plugins), measured from the caller's side of the socket:
 *
 *  - engine overhead: endpoint → first outbound frame (from the engine's own per-turn metrics)
 *  - barge-in: the caller's speech onset → `clear` received
 *  - 1 / 10 / 50 concurrent calls: outbound pacing jitter against the ideal real-time schedule, frames that
 *    arrived after Twilio would have needed them (audible gaps), server CPU per call, event-loop delay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readWav } from '../main/core/audio/wav.ts';
import { TwilioCaller } from '../main/sim/twilio-caller.ts';
import type { TurnMetrics } from '../main/shared/events.ts';
import { treeCpuSeconds } from './proc.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const AUDIO = (f: string) => join(ROOT, 'test/fixtures/audio', f);
const LEAD_MS = 100;

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface Server {
  url: string;
  wsUrl: string;
  token: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startServer(extraArgs: string[] = []): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const token = randomBytes(16).toString('hex');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'main/cli/headless.ts'), '--port', '0', '--plugins-dir', join(ROOT, 'test/fixtures/plugins'), '--data-dir', dataDir, '--log-level', 'warn',
      // Tiny fixture plugins serve the 50-call level; real models would not (hence the lower defaults).
      '--max-streams', '1000', '--max-calls', '1000', '--max-connections-per-address', '1000',
      // Bench callers wait (for the other calls, for a level to start): no idle question may add a turn.
      '--idle-reprompt-ms', '0', '--idle-hangup-ms', '0', ...extraArgs],
    { cwd: ROOT, env: { ...process.env, PARLEY_CONTROL_TOKEN: token, PARLEY_PLUGINS_DIR: join(dataDir, 'plugins') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr.slice(-2000)}`)));
  });
  // Let the plugin workers warm up, as a running app's are.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/plugins`, { headers: { authorization: `Bearer ${token}` } }).then((x) => x.json()).catch(() => null);
    if (r?.plugins?.filter((p: { active: boolean }) => p.active).every((p: { status: string }) => p.status === 'ready')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/media',
    token,
    child,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Follow the server's /events stream, handing each event to `onEvent`, until stopped. */
export function watchServerEvents(server: Server, onEvent: (e: { type: string; [k: string]: unknown }) => void): { stop(): void } {
  const controller = new AbortController();
  void (async () => {
    try {
      const res = await fetch(`${server.url}/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: controller.signal });
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString();
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const line = buf.slice(0, i).split('\n').find((l) => l.startsWith('data: '));
          buf = buf.slice(i + 2);
          if (line) onEvent(JSON.parse(line.slice(6)));
        }
      }
    } catch {
      // stopped
    }
  })();
  return { stop: () => controller.abort() };
}

/** Collect `turn.metrics` events from the server's /events stream. */
export function collectMetrics(server: Server): { metrics: TurnMetrics[]; stop(): void } {
  const metrics: TurnMetrics[] = [];
  const { stop } = watchServerEvents(server, (e) => {
    if (e.type === 'turn.metrics') metrics.push(e.metrics as TurnMetrics);
  });
  return { metrics, stop };
}

/** Pacing of every agent burst a caller received: lateness vs the ideal schedule, and missed play deadlines. */
export function pacing(caller: TwilioCaller): { jitter: number[]; missed: number; frames: number } {
  const jitter: number[] = [];
  let missed = 0;
  let frames = 0;
  let t0 = -Infinity;
  let k = 0;
  let last = -Infinity;
  for (const a of caller.mediaArrivals) {
    if (a.at - last > 300) {
      t0 = a.at;
      k = 0;
    }
    const ideal = t0 + Math.max(0, k * 20 - LEAD_MS);
    if (k * 20 >= LEAD_MS) jitter.push(Math.abs(a.at - ideal));
    if (a.at > t0 + k * 20 + 1) missed++;
    frames++;
    k++;
    last = a.at;
  }
  return { jitter, missed, frames };
}

async function oneCall(server: Server, speech: Float32Array): Promise<TwilioCaller> {
  const caller = await TwilioCaller.connect({ url: server.wsUrl });
  await caller.waitFor('agent-start', 15_000);
  await caller.waitForAgentSilence(300, 60_000);
  const answer = caller.waitFor('agent-start', 30_000);
  await caller.say(speech);
  await answer;
  await caller.waitForAgentSilence(300, 60_000);
  await caller.hangup();
  return caller;
}

export interface EngineBenchResult {
  overhead: { p50: number; p99: number; n: number };
  bargeIn: { p50: number; p99: number; n: number };
  levels: {
    calls: number;
    /** Measured where the frames arrive (the caller's side, including the simulator's own scheduling). */
    jitterP50: number;
    jitterP99: number;
    missed: number;
    frames: number;
    /** Measured where the frames leave (the server's Playout). */
    serverLatenessP50: number | null;
    serverLatenessP99: number | null;
    serverLateFrames: number | null;
    cpuPerCallPct: number;
    eventLoopP99Ms: number | null;
    callerLoopP99Ms: number;
    firstFrameP50: number;
    firstFrameP99: number;
  }[];
}

export async function benchEngine(options: { levels?: number[]; log?: (line: string) => void } = {}): Promise<EngineBenchResult> {
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const levels = options.levels ?? [1, 10, 50];
  const hello = readWav(AUDIO('hello.wav')).samples;
  const question = readWav(AUDIO('question.wav')).samples;
  const interrupt = readWav(AUDIO('interrupt.wav')).samples;

  // 1. Engine overhead, one call, turn after turn.
  let server = await startServer(['--greeting', 'Hi.']);
  let events = collectMetrics(server);
  {
    log('engine overhead: 1 call × 10 turns…');
    const caller = await TwilioCaller.connect({ url: server.wsUrl });
    await caller.waitForAgentSilence(300, 10_000);
    for (let i = 0; i < 10; i++) {
      const answer = caller.waitFor('agent-start', 10_000);
      await caller.say(i % 2 ? hello : question);
      await answer;
      await caller.waitForAgentSilence(300, 30_000);
    }
    await caller.hangup();
  }
  const firstFrame = (list: { endpointMs: number; voiceToVoiceMs: number | null }[]) => list.filter((m) => m.voiceToVoiceMs !== null).map((m) => m.voiceToVoiceMs! - m.endpointMs);
  const overhead = firstFrame(events.metrics);
  events.stop();
  await server.stop();

  // 2. Barge-in: interrupt a long reply at varying points.
  server = await startServer(['--greeting', 'Thanks for calling. I will read you our long list of opening hours for every day of the week, starting with Monday and Tuesday.', '--set', 'test-tts.msPerChar=60']);
  const bargeIn: number[] = [];
  log('barge-in: 8 interruptions…');
  for (let i = 0; i < 8; i++) {
    const caller = await TwilioCaller.connect({ url: server.wsUrl });
    await caller.waitFor('agent-start', 10_000);
    await caller.silence(600 + i * 250);
    const cleared = caller.waitFor<number>('clear', 5_000);
    void caller.say(interrupt);
    const at = await cleared;
    bargeIn.push(at - caller.voiceOnsets.at(-1)!);
    await caller.hangup();
  }
  await server.stop();

  // 3. Concurrency.
  const levelResults: EngineBenchResult['levels'] = [];
  for (const n of levels) {
    server = await startServer(['--greeting', 'Hello, thanks for calling Parley. How can I help you today?']);
    events = collectMetrics(server);
    log(`${n} concurrent call(s)…`);
    const cpu0 = treeCpuSeconds(server.child.pid!);
    const callerLoop = monitorEventLoopDelay({ resolution: 10 });
    callerLoop.enable();
    const t0 = performance.now();
    const callers = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * 1000) / n)); // calls arrive over a second
        return oneCall(server, i % 2 ? hello : question);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = treeCpuSeconds(server.child.pid!) - cpu0;
    callerLoop.disable();
    const health = await fetch(`${server.url}/health`).then((r) => r.json()).catch(() => ({}));
    const jitter: number[] = [];
    let missed = 0;
    let frames = 0;
    for (const c of callers) {
      const p = pacing(c);
      jitter.push(...p.jitter);
      missed += p.missed;
      frames += p.frames;
    }
    const ff = firstFrame(events.metrics);
    events.stop();
    levelResults.push({
      calls: n,
      jitterP50: percentile(jitter, 50),
      jitterP99: percentile(jitter, 99),
      missed,
      frames,
      serverLatenessP50: health.pacing?.latenessP50Ms ?? null,
      serverLatenessP99: health.pacing?.latenessP99Ms ?? null,
      serverLateFrames: health.pacing?.lateFrames ?? null,
      cpuPerCallPct: (cpu / seconds / n) * 100,
      eventLoopP99Ms: typeof health.eventLoopDelayP99Ms === 'number' ? health.eventLoopDelayP99Ms : null,
      callerLoopP99Ms: callerLoop.percentile(99) / 1e6,
      firstFrameP50: percentile(ff, 50),
      firstFrameP99: percentile(ff, 99),
    });
    await server.stop();
  }

  return {
    overhead: { p50: percentile(overhead, 50), p99: percentile(overhead, 99), n: overhead.length },
    bargeIn: { p50: percentile(bargeIn, 50), p99: percentile(bargeIn, 99), n: bargeIn.length },
    levels: levelResults,
  };
}

export function formatEngineBench(r: EngineBenchResult): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
  const ok = (x: number, max: number) => (x <= max ? 'ok' : 'MISSED');
  const lines = [
    'Parley engine bench (instant in-process test plugins, real server in a child process, caller-side timing)',
    '',
    'metric                                   p50       p99     target',
    `endpoint → first outbound frame        ${f(r.overhead.p50).padStart(6)} ms ${f(r.overhead.p99).padStart(6)} ms   p50 ≤ 20, p99 ≤ 50 ms  ${ok(r.overhead.p50, 20)}/${ok(r.overhead.p99, 50)}  (n=${r.overhead.n})`,
    `barge-in: speech onset → clear         ${f(r.bargeIn.p50).padStart(6)} ms ${f(r.bargeIn.p99).padStart(6)} ms   ≤ 250 ms               ${ok(r.bargeIn.p99, 250)}  (n=${r.bargeIn.n}; includes the 250 ms minimum speech)`,
    '',
    'calls  server pacing p50/p99  late   caller-side jitter p50/p99  late frames     first frame p50/p99   CPU/call  server loop p99  caller loop p99',
  ];
  const n = (x: number | null) => (x === null ? '—' : f(x));
  for (const l of r.levels) {
    lines.push(
      `${String(l.calls).padStart(5)}   ${n(l.serverLatenessP50).padStart(5)} / ${n(l.serverLatenessP99).padStart(5)} ms  ${String(l.serverLateFrames ?? '—').padStart(4)}   ${f(l.jitterP50).padStart(5)} / ${f(l.jitterP99).padStart(5)} ms          ${String(l.missed).padStart(4)} of ${String(l.frames).padStart(6)}   ${f(l.firstFrameP50).padStart(6)} / ${f(l.firstFrameP99).padStart(6)} ms   ${f(l.cpuPerCallPct).padStart(5)} %   ${l.eventLoopP99Ms === null ? '—' : f(l.eventLoopP99Ms) + ' ms'}         ${f(l.callerLoopP99Ms)} ms`,
    );
  }
  lines.push(
    '',
    'targets at 50 calls on 2 cores: pacing jitter p99 ≤ 20 ms, no late frame.',
    'Server pacing = how late each frame left the server against its ideal time; late = frames sent after Twilio would',
    'have run dry. Caller-side numbers also include the simulated callers\' own scheduling (all callers share this',
    'process and the same 2 cores); CPU/call counts the server and its plugin worker processes.',
  );
  return lines.join('\n');
}
