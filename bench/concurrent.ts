/**
 * `npm run bench -- concurrent --standin [--levels 1,2,4,8] [--turns 3]`: several simultaneous simulated calls
 * through the real server (a child process) and the real default plugins — moonshine-stt, llama-llm, piper-tts
 * — on random-weight stand-ins of the real models' exact shapes (bench/standins: Qwen2.5-0.5B-Instruct Q4_K_M
 * GGUF, moonshine-tiny q8 ONNX, a Piper medium voice), with preemptive replies on (the default).
 *
 * Each caller speaks real speech (test/fixtures/audio/jfk.wav, two of its phrases in turn) for a few turns and
 * waits for each reply to finish. Per concurrency level:
 *  - caller-side voice-to-voice p50/p99: the caller's last voiced frame → the first reply frame it receives;
 *  - LLM first token p50/p99 (the engine's turn.metrics);
 *  - outbound frames late: at the server (sent after Twilio would have run dry) and where the caller got them;
 *  - the media server's event-loop delay p99 (its /health, monitorEventLoopDelay): audio pacing and `clear`
 *    must never wait behind model work, which runs in the plugin worker processes;
 *  - CPU (server + plugin workers, % of all cores) and peak memory (RSS summed over the server's process tree).
 * The knee is the first level whose voice-to-voice p99 passes 2 s. Then the highest level once more with the
 * default --max-calls: the calls beyond capacity hear the busy notice and are refused, so the admitted calls
 * keep the latency of a level the machine can carry.
 *
 * Random weights, real shapes: the numbers are the models' cost on this machine, never their quality. The
 * stand-in LLM never picks its end token, so every reply runs to llama-llm.maxTokens (REPLY_TOKENS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readWav } from '../main/core/audio/wav.ts';
import { resample } from '../main/core/audio/resample.ts';
import { callCapacity } from '../main/core/config.ts';
import { poolSize } from '../main/core/plugins/worker-pool.ts';
import { TwilioCaller } from '../main/sim/twilio-caller.ts';
import type { TurnMetrics } from '../main/shared/events.ts';
import { AUDIO, pacing, percentile, startServer, watchServerEvents, type Server } from './engine.ts';
import { descendants, readProcTable, treeCpuSeconds } from './proc.ts';
import { writeQwenStandin } from './standins/qwen-gguf.ts';
import { writeMoonshineTiny, tokensFor } from './standins/stt-models.ts';
import { standinVoice } from './standins/tts.ts';
import { STANDIN_LABEL } from './standins/types.ts';

const median = (xs: (number | null | undefined)[]) => percentile(xs.filter((x): x is number => typeof x === 'number'), 50);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Tokens per reply: about one spoken clause (the stand-in never stops early). */
const REPLY_TOKENS = 12;
const KNEE_MS = 2_000;
const GREETING = 'Hi, how can I help?';

export interface LevelResult {
  calls: number;
  maxCalls: number;
  admitted: number;
  refused: number;
  /** Turns that got no reply in time. */
  unanswered: number;
  v2v: number[];
  llmFirstToken: number[];
  preemptive: number;
  serverLateFrames: number | null;
  callerLateFrames: number;
  frames: number;
  loopP99Ms: number | null;
  /** Server + plugin workers, % of all cores over the level. */
  cpuPct: number;
  peakRssMb: number;
  seconds: number;
  /** Where the time went, medians over the level's turns (the engine's turn.metrics), ms. */
  stages: { endpoint: number; stt: number; ttsFirstAudio: number; engineV2v: number };
  /** 1-minute load average at the end of the level (other work on the machine shows here). */
  load: number;
}

export interface ConcurrentResult {
  levels: LevelResult[];
  capped: LevelResult | null;
  knee: number | null;
  models: string[];
  cores: number;
  workers: { stt: number; tts: number };
  turns: number;
}

interface Models {
  args: string[];
  describe: string[];
  cleanup(): void;
}

/** Write (or reuse) the stand-ins; the server args that point the default plugins at them. */
function standinModels(log: (line: string) => void, maxLevel: number): Models {
  const started = performance.now();
  const qwen = writeQwenStandin();
  const sttRoot = mkdtempSync(join(tmpdir(), 'parley-concurrent-stt-'));
  // The decoder's text length is fixed per file: a 2 s phrase's worth of tokens.
  const [stt] = writeMoonshineTiny(sttRoot, [tokensFor(2)]);
  const voice = standinVoice(log);
  log(`stand-ins ready in ${Math.round(performance.now() - started)} ms`);
  return {
    args: [
      '--plugins-dir', join(ROOT, 'plugins'),
      '--stt', 'moonshine-stt', '--llm', 'llama-llm', '--tts', 'piper-tts', '--turn', 'none',
      '--set', `moonshine-stt.model=${stt!.dir}`, '--set', 'moonshine-stt.dtype=q8',
      '--set', `llama-llm.model=${qwen.path}`, '--set', `llama-llm.maxTokens=${REPLY_TOKENS}`,
      // One sequence per call at every level; 1024 tokens each holds a few turns of history.
      '--set', `llama-llm.maxCalls=${maxLevel}`, '--set', 'llama-llm.contextSize=1024',
      '--set', `piper-tts.model=${voice.onnx}`,
    ],
    describe: [
      `LLM: llama-llm on a Qwen2.5-0.5B-Instruct Q4_K_M stand-in (${(qwen.bytes / 1e6).toFixed(0)} MB), one sequence per call, replies of ${REPLY_TOKENS} tokens`,
      'STT: moonshine-stt on a moonshine-tiny q8 stand-in',
      'TTS: piper-tts on a Piper medium (en_US-lessac-medium shapes) stand-in',
    ],
    cleanup: () => rmSync(sttRoot, { recursive: true, force: true }),
  };
}

/** The two phrases of jfk.wav the callers say in turn ("And so, my fellow Americans" / "ask what you can do…"), 8 kHz. */
function phrases(): Float32Array[] {
  const wav = readWav(AUDIO('jfk.wav'));
  const at = (s: number) => Math.round(s * wav.sampleRate);
  const cut = (a: number, b: number) => resample(wav.samples.subarray(at(a), at(b)), wav.sampleRate, 8000);
  return [cut(0, 2.2), cut(5.3, 7.6)];
}

/** The server's /events: each turn's metrics, and which calls ended busy. */
function watchEvents(server: Server): { metrics: TurnMetrics[]; busy: Set<string>; stop(): void } {
  const metrics: TurnMetrics[] = [];
  const busy = new Set<string>();
  const { stop } = watchServerEvents(server, (e) => {
    if (e.type === 'turn.metrics') metrics.push(e.metrics as TurnMetrics);
    if (e.type === 'call.ended' && typeof e.reason === 'string' && e.reason.startsWith('busy')) busy.add(e.callSid as string);
  });
  return { metrics, busy, stop };
}

/** Wait until every active plugin is ready (the llama model and the ONNX sessions load in their workers). */
async function pluginsReady(server: Server, timeoutMs = 180_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${server.url}/plugins`, { headers: { authorization: `Bearer ${server.token}` } }).then((x) => x.json()).catch(() => null);
    const active = (r?.plugins ?? []).filter((p: { active: boolean }) => p.active) as { name: string; status: string; error: string | null }[];
    const failed = active.find((p) => p.status === 'failed' || p.status === 'broken');
    if (failed) throw new Error(`plugin ${failed.name} could not start: ${failed.error}`);
    if (active.length >= 3 && active.every((p) => p.status === 'ready')) return;
    if (performance.now() > deadline) throw new Error(`plugins not ready after ${timeoutMs / 1000} s: ${active.map((p) => `${p.name} ${p.status}`).join(', ')}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

interface CallerRun {
  caller: TwilioCaller;
  refused: boolean;
  v2v: number[];
  unanswered: number;
}

async function oneCaller(server: Server, busy: Set<string>, speech: Float32Array[], turns: number, delayMs: number): Promise<CallerRun> {
  await new Promise((r) => setTimeout(r, delayMs));
  const caller = await TwilioCaller.connect({ url: server.wsUrl });
  let closed = false;
  caller.once('close', () => (closed = true));
  const run: CallerRun = { caller, refused: false, v2v: [], unanswered: 0 };
  // The greeting (or, beyond capacity, the busy notice and the hang-up that follows it).
  await caller.waitFor('agent-start', 60_000).catch(() => {});
  await caller.waitForAgentSilence(400, 60_000).catch(() => {});
  await new Promise((r) => setTimeout(r, 500));
  if (closed || busy.has(caller.callSid)) {
    run.refused = true;
    return run;
  }
  for (let i = 0; i < turns && !closed; i++) {
    const answer = caller.waitFor<{ firstArrival: number }>('agent-start', 30_000);
    answer.catch(() => {});
    await caller.say(speech[i % speech.length]!);
    const end = caller.utteranceEnds.at(-1)!;
    try {
      const burst = await answer;
      run.v2v.push(burst.firstArrival - end);
      await caller.waitForAgentSilence(400, 60_000);
    } catch {
      run.unanswered++;
    }
  }
  await caller.hangup().catch(() => {});
  return run;
}

async function runLevel(models: Models, n: number, maxCalls: number, turns: number, log: (line: string) => void): Promise<LevelResult> {
  log(`${n} simultaneous call(s), --max-calls ${maxCalls || '0 (default)'}…`);
  const server = await startServer(['--greeting', GREETING, '--preemptive', 'true', ...models.args, '--max-calls', String(maxCalls)]);
  try {
    await pluginsReady(server);
    const events = watchEvents(server);
    const pid = server.child.pid!;
    let peak = 0;
    const sample = () => {
      const table = readProcTable();
      const rss = (table.get(pid)?.rssBytes ?? 0) + descendants(pid, table).reduce((s, p) => s + p.rssBytes, 0);
      peak = Math.max(peak, rss);
    };
    sample();
    const sampler = setInterval(sample, 500);
    const cpu0 = treeCpuSeconds(pid);
    const t0 = performance.now();
    const speech = phrases();
    // Calls arrive within ~half a second of each other: as good as simultaneous for the models.
    const runs = await Promise.all(Array.from({ length: n }, (_, i) => oneCaller(server, events.busy, i % 2 ? [...speech].reverse() : speech, turns, (i * 500) / n)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = treeCpuSeconds(pid) - cpu0;
    clearInterval(sampler);
    const health = (await fetch(`${server.url}/health`).then((r) => r.json()).catch(() => ({}))) as { eventLoopDelayP99Ms?: number; pacing?: { lateFrames?: number } };
    await new Promise((r) => setTimeout(r, 300));
    events.stop();
    let late = 0;
    let frames = 0;
    for (const r of runs.filter((x) => !x.refused)) {
      const p = pacing(r.caller);
      late += p.missed;
      frames += p.frames;
    }
    const admitted = runs.filter((r) => !r.refused);
    return {
      calls: n,
      maxCalls,
      admitted: admitted.length,
      refused: runs.length - admitted.length,
      unanswered: admitted.reduce((s, r) => s + r.unanswered, 0),
      v2v: admitted.flatMap((r) => r.v2v),
      llmFirstToken: events.metrics.map((m) => m.llmFirstTokenMs).filter((x): x is number => typeof x === 'number'),
      preemptive: events.metrics.filter((m) => m.preemptive).length,
      serverLateFrames: typeof health.pacing?.lateFrames === 'number' ? health.pacing.lateFrames : null,
      callerLateFrames: late,
      frames,
      loopP99Ms: typeof health.eventLoopDelayP99Ms === 'number' ? health.eventLoopDelayP99Ms : null,
      cpuPct: (cpu / seconds / availableParallelism()) * 100,
      peakRssMb: Math.round(peak / 1e6),
      seconds,
      stages: {
        endpoint: median(events.metrics.map((m) => m.endpointMs)),
        stt: median(events.metrics.map((m) => m.sttMs)),
        ttsFirstAudio: median(events.metrics.map((m) => m.ttsFirstAudioMs)),
        engineV2v: median(events.metrics.map((m) => m.voiceToVoiceMs)),
      },
      load: loadavg()[0]!,
    };
  } finally {
    await server.stop();
  }
}

export async function benchConcurrent(options: { levels?: number[]; turns?: number; log?: (line: string) => void } = {}): Promise<ConcurrentResult> {
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const levels = options.levels ?? [1, 2, 4, 8];
  const turns = options.turns ?? 3;
  const top = Math.max(...levels);
  const models = standinModels(log, top);
  try {
    const results: LevelResult[] = [];
    // --max-calls high enough that every level is admitted: what the machine does when nothing says no.
    for (const n of levels) results.push(await runLevel(models, n, top, turns, log));
    // The same load with the default capacity for this machine: the calls beyond it are refused.
    const capped = top > callCapacity(0) ? await runLevel(models, top, 0, turns, log) : null;
    const knee = results.find((r) => percentile(r.v2v, 99) > KNEE_MS)?.calls ?? null;
    return { levels: results, capped, knee, models: models.describe, cores: availableParallelism(), workers: { stt: poolSize(0), tts: poolSize(0) }, turns };
  } finally {
    models.cleanup();
  }
}

export function formatConcurrent(r: ConcurrentResult): string {
  const f = (x: number) => (Number.isFinite(x) ? Math.round(x).toString() : '—');
  const row = (l: LevelResult, label: string) =>
    `${label.padEnd(13)} ${`${l.admitted}/${l.refused}`.padStart(6)}   ${f(percentile(l.v2v, 50)).padStart(5)} / ${f(percentile(l.v2v, 99)).padStart(5)} ms   ` +
    `${f(percentile(l.llmFirstToken, 50)).padStart(5)} / ${f(percentile(l.llmFirstToken, 99)).padStart(5)} ms   ` +
    `${String(l.serverLateFrames ?? '—').padStart(4)} / ${String(l.callerLateFrames).padStart(4)} of ${String(l.frames).padStart(5)}   ` +
    `${(l.loopP99Ms === null ? '—' : l.loopP99Ms.toFixed(1)).padStart(6)} ms   ${f(l.cpuPct).padStart(3)} %   ${String(l.peakRssMb).padStart(5)} MB   ${String(l.v2v.length).padStart(3)}${l.unanswered ? ` (${l.unanswered} unanswered)` : ''}`;
  const lines = [
    `Parley concurrency bench (${STANDIN_LABEL}) — real server, real plugins, ${r.cores} cores, ${r.turns} turns per caller, preemptive replies on`,
    ...r.models.map((m) => `  ${m}`),
    `  worker pools: stt ${r.workers.stt}, tts ${r.workers.tts} (auto for ${r.cores} cores); default --max-calls here: ${callCapacity(0)}`,
    '',
    'calls         served/   voice-to-voice        LLM first token      frames late           server loop   CPU    peak     turns',
    '              refused   p50 / p99             p50 / p99            server / caller       delay p99            RSS',
  ];
  for (const l of r.levels) lines.push(row(l, `${l.calls}`));
  if (r.capped) lines.push(row(r.capped, `${r.capped.calls} (default)`));
  lines.push('', 'where the time went (medians of the engine\'s turn.metrics): endpoint (silence) · STT · TTS first audio · engine voice-to-voice · load average');
  for (const l of [...r.levels, ...(r.capped ? [r.capped] : [])]) {
    const s = l.stages;
    lines.push(`  ${`${l.calls}${l === r.capped ? ' (default)' : ''}`.padEnd(12)} ${f(s.endpoint).padStart(5)} · ${f(s.stt).padStart(5)} · ${f(s.ttsFirstAudio).padStart(5)} · ${f(s.engineV2v).padStart(5)} ms · load ${l.load.toFixed(1)}`);
  }
  lines.push(
    '',
    r.knee === null ? `knee: voice-to-voice p99 stayed under ${KNEE_MS / 1000} s at every level` : `knee: voice-to-voice p99 passes ${KNEE_MS / 1000} s at ${r.knee} simultaneous call${r.knee === 1 ? '' : 's'}`,
    'voice-to-voice = the caller\'s last voiced frame → the first reply frame it receives. Frames late: server = sent after Twilio',
    'would have run dry (its /health pacing); caller = arrived after the simulated phone needed them. Server loop delay = the media',
    'server\'s event loop (monitorEventLoopDelay p99 since start). CPU = server + plugin workers, % of all cores; RSS summed over its',
    'process tree (shared pages counted once per process).',
  );
  const one = r.levels.find((l) => l.calls === 1);
  const two = r.levels.find((l) => l.calls === 2);
  if (one && two) {
    const ratio = percentile(two.v2v, 50) / percentile(one.v2v, 50);
    lines.push(`target: at 2 calls voice-to-voice p50 ≤ 1.5 × the 1-call figure: ${ratio.toFixed(2)} × (${ratio <= 1.5 ? 'ok' : 'MISSED'})`);
  }
  const late = r.levels.reduce((s, l) => s + (l.serverLateFrames ?? 0), 0);
  lines.push(`target: no late frame at any level: ${late === 0 ? 'ok' : `MISSED (${late} at the server)`}`);
  if (r.capped) {
    const p99 = percentile(r.capped.v2v, 99);
    const open = r.levels.find((l) => l.calls === r.capped!.calls);
    lines.push(
      `target: beyond capacity calls are refused: ${r.capped.refused} of ${r.capped.calls} heard the busy notice; the ${r.capped.admitted} served kept p99 ${f(p99)} ms` +
        (open ? ` (against ${f(percentile(open.v2v, 99))} ms with all ${open.calls} admitted)` : ''),
    );
  }
  return lines.join('\n');
}

export async function runConcurrentCli(args: string[]): Promise<ConcurrentResult> {
  if (!args.includes('--standin')) throw new Error('bench concurrent needs --standin: it runs on the random-weight stand-ins of the default models (bench/standins)');
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const levels = opt('--levels')?.split(',').map(Number);
  const turns = opt('--turns') ? Number(opt('--turns')) : undefined;
  if (levels && levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--levels takes whole numbers ≥ 1, like 1,2,4,8');
  const r = await benchConcurrent({ levels, turns });
  process.stdout.write(formatConcurrent(r) + '\n');
  return r;
}
