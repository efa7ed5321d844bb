/**
 * `npm run bench` (turn-taking): voice-to-voice as the caller hears it, from the simulated caller's last speech
 * frame to the first reply frame it receives, through the real server in a child process:
 *
 *  - instant plugins, silence 600: the time beyond the silence, and the VAD's lag (where the engine placed the end
 *    of speech on the call's audio clock − where the caller's last voiced frame ended);
 *  - test plugins that cost what real models cost (STT 150 ms, LLM first token 350 ms, TTS first audio 200 ms),
 *    serial, preemptive, and preemptive with a turn plugin that says "complete";
 *  - instant plugins with a "complete" turn plugin (the floor: turn-min-ms plus the engine).
 */
import { readWav } from '../main/core/audio/wav.ts';
import { TwilioCaller } from '../main/sim/twilio-caller.ts';
import { collectMetrics, percentile, startServer, AUDIO, type Server } from './engine.ts';

export interface TurnRow {
  label: string;
  /** Caller-side voice-to-voice per turn, ms. */
  v2v: number[];
  /** How many turns' replies were prepared during the pause. */
  preemptive: number;
  endedByModel: number;
  silenceMs: number;
}

export interface TurnBenchResult {
  instant: TurnRow;
  /** Engine end of speech − the caller's true end, ms (positive: the VAD placed it late). */
  vadLag: number[];
  rows: TurnRow[];
}

const COSTLY = ['--set', 'test-stt.delayMs=150', '--set', 'test-llm.firstTokenDelayMs=350', '--set', 'test-tts.firstChunkDelayMs=200'];
const COMPLETE = ['--turn', 'test-turn', '--set', 'test-turn.complete=1', '--turn-min-ms', '200'];

/** `turns` caller turns on one call; per turn the caller-side voice-to-voice and the engine's metrics. */
async function callerTurns(server: Server, turns: number): Promise<{ v2v: number[]; lag: number[]; preemptive: number; endedByModel: number }> {
  const speech = [readWav(AUDIO('hello.wav')).samples, readWav(AUDIO('question.wav')).samples];
  const events = collectMetrics(server);
  const caller = await TwilioCaller.connect({ url: server.wsUrl });
  await caller.waitFor('agent-start', 15_000);
  await caller.waitForAgentSilence(300, 30_000);
  const v2v: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < turns; i++) {
    const answer = caller.waitFor<{ firstArrival: number }>('agent-start', 30_000);
    await caller.say(speech[i % 2]!);
    const end = caller.utteranceEnds.at(-1)!;
    const burst = await answer;
    v2v.push(burst.firstArrival - end);
    // The caller's true end of speech on the call's audio clock: frames go out at real time from startedAt.
    ends.push(caller.utteranceEndClocksMs.at(-1)!);
    await caller.waitForAgentSilence(300, 30_000);
  }
  await caller.hangup();
  await new Promise((r) => setTimeout(r, 300));
  events.stop();
  const m = events.metrics;
  const lag = m.map((x, i) => (x.speechEndAudioMs !== undefined && ends[i] !== undefined ? x.speechEndAudioMs - ends[i]! : NaN)).filter(Number.isFinite);
  return { v2v, lag, preemptive: m.filter((x) => x.preemptive).length, endedByModel: m.filter((x) => x.endedBy === 'turn-model').length };
}

async function row(label: string, args: string[], silenceMs: number, turns: number, log: (l: string) => void): Promise<TurnRow & { lag: number[] }> {
  log(`turn-taking: ${label}…`);
  const server = await startServer(['--greeting', 'Hi.', '--silence-ms', String(silenceMs), ...args]);
  try {
    const r = await callerTurns(server, turns);
    return { label, v2v: r.v2v, preemptive: r.preemptive, endedByModel: r.endedByModel, silenceMs, lag: r.lag };
  } finally {
    await server.stop();
  }
}

export async function benchTurns(options: { turns?: number; log?: (line: string) => void } = {}): Promise<TurnBenchResult> {
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const n = options.turns ?? 12;
  const instant = await row('instant plugins, serial', ['--preemptive', 'false', '--turn', 'none'], 600, n, log);
  const rows: TurnRow[] = [];
  rows.push(await row('real-model costs, serial', [...COSTLY, '--preemptive', 'false', '--turn', 'none'], 600, n, log));
  rows.push(await row('real-model costs, preemptive', [...COSTLY, '--turn', 'none'], 600, n, log));
  rows.push(await row('real-model costs, preemptive + turn model "complete"', [...COSTLY, ...COMPLETE], 600, n, log));
  rows.push(await row('instant plugins, preemptive + turn model "complete"', COMPLETE, 600, n, log));
  return { instant, vadLag: instant.lag, rows };
}

export function formatTurnBench(r: TurnBenchResult): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');
  const ok = (x: number, max: number) => (x <= max ? 'ok' : 'MISSED');
  const beyond = r.instant.v2v.map((v) => v - r.instant.silenceMs);
  const lines = [
    'Parley turn-taking bench (real server in a child process, timed at the simulated caller: its last speech frame → the first reply frame it receives)',
    '',
    `instant plugins, silence 600: beyond the silence p50 ${f(percentile(beyond, 50))} ms, p99 ${f(percentile(beyond, 99))} ms   target p50 ≤ 40, p99 ≤ 80  ${ok(percentile(beyond, 50), 40)}/${ok(percentile(beyond, 99), 80)}  (n=${beyond.length})`,
    `VAD lag (engine's end of speech − the caller's last voiced frame, audio clock): p50 ${f(percentile(r.vadLag, 50))} ms, p99 ${f(percentile(r.vadLag, 99))} ms`,
    '',
    'caller-side voice-to-voice, silence 600                                  p50      p99   prepared  ended by model',
  ];
  for (const x of r.rows) {
    lines.push(`${x.label.padEnd(70)} ${f(percentile(x.v2v, 50)).padStart(5)} ms ${f(percentile(x.v2v, 99)).padStart(5)} ms   ${String(x.preemptive).padStart(3)}/${x.v2v.length}     ${String(x.endedByModel).padStart(3)}/${x.v2v.length}`);
  }
  const pre = r.rows.find((x) => x.label === 'real-model costs, preemptive');
  const floor = r.rows.find((x) => x.label.startsWith('instant plugins, preemptive'));
  lines.push(
    '',
    'real-model costs = test plugins that wait what real models take: STT 150 ms, LLM first token 350 ms, TTS first audio 200 ms.',
    pre ? `targets: preemptive p50 ≤ 950 ms (${ok(percentile(pre.v2v, 50), 950)}); ` + (floor ? `instant + "complete" turn model p50 ≤ turn-min-ms + 60 = 260 ms (${ok(percentile(floor.v2v, 50), 260)}).` : '') : '',
  );
  return lines.join('\n');
}
