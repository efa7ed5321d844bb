/**
 * Echo guard bench: CPU of the speakerphone echo check (main/core/conversation/echo-guard.ts) with 50 calls at
 * once. Each call's guard hears a real-speech speakerphone stream (jfk.wav as the agent, its echo at −12 dB after
 * 220 ms through the simulated line, a caller speaking over it) fed in call order, 20 ms at a time for every call
 * in turn, as the media server's loop does. Only the guard's own calls are timed; the audio is prepared first.
 *
 * CPU per call = µs per inbound window × windows per second (16 kHz / 512) + µs per played frame × 50 frames/s.
 */
import { FRAME_BYTES, FRAME_MS, toFrames } from '../main/core/audio/frames.ts';
import { MULAW_SILENCE, decodeFloat, encodeFloat } from '../main/core/audio/mulaw.ts';
import { Resampler, resample } from '../main/core/audio/resample.ts';
import { readWav } from '../main/core/audio/wav.ts';
import { EchoGuard } from '../main/core/conversation/echo-guard.ts';
import { EchoPath } from '../main/sim/echo-path.ts';
import { AUDIO, percentile } from './engine.ts';

const WINDOW = 512;
const WINDOWS_PER_SECOND = 16000 / WINDOW;
const FRAMES_PER_SECOND = 1000 / FRAME_MS;

export interface EchoBenchResult {
  calls: number;
  seconds: number;
  /** Mean µs of one isEcho() call, and the 99th percentile over single calls. */
  usPerWindow: number;
  usPerWindowP99: number;
  /** Mean µs of one played() call (one 20 ms outbound frame). */
  usPerFrame: number;
  /** Share of one core per call, and for all calls together (%). */
  corePerCallPct: number;
  coreAllCallsPct: number;
  /** Windows of echo alone judged echo (a sanity check that the bench ran the real path). */
  echoJudged: number;
}

/** One speakerphone call's audio, prepared: what the guard is told was played, and the inbound windows. */
function prepare(): { played: Float32Array[]; windows: Float32Array[] } {
  const load = (f: string) => {
    const w = readWav(AUDIO(f));
    return w.sampleRate === 8000 ? w.samples : resample(w.samples, w.sampleRate, 8000);
  };
  const agent = toFrames(encodeFloat(load('jfk.wav')));
  const caller = toFrames(encodeFloat(load('question.wav')));
  const line = new EchoPath({ delayMs: 220, gainDb: -12 });
  const up = new Resampler(8000, 16000);
  const silence = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
  const played: Float32Array[] = [];
  const windows: Float32Array[] = [];
  let pending: number[] = [];
  for (let k = 0; k < agent.length; k++) {
    played.push(decodeFloat(agent[k]!));
    const said = caller[k - 250] ?? silence; // the caller speaks 5 s in, over the agent
    pending.push(...up.process(decodeFloat(line.mix(said, k * FRAME_BYTES))));
    line.play(agent[k]!, k * FRAME_BYTES);
    for (; pending.length >= WINDOW; pending = pending.slice(WINDOW)) windows.push(Float32Array.from(pending.slice(0, WINDOW)));
  }
  return { played, windows };
}

export async function benchEcho(options: { calls?: number } = {}): Promise<EchoBenchResult> {
  const calls = options.calls ?? 50;
  const { played, windows } = prepare();
  const guards = Array.from({ length: calls }, () => new EchoGuard({ sampleRate: 16000 }));
  const windowMs = (WINDOW / 16000) * 1000;
  const samples: number[] = [];
  let windowUs = 0;
  let frameUs = 0;
  let echoJudged = 0;
  const next = new Array<number>(calls).fill(0);
  // Twice through: the first pass warms the JIT up and is not counted.
  for (let pass = 0; pass < 2; pass++) {
    for (const [i] of guards.entries()) guards[i] = new EchoGuard({ sampleRate: 16000 });
    next.fill(0);
    for (let k = 0; k < played.length; k++) {
      for (let c = 0; c < calls; c++) {
        const guard = guards[c]!;
        let t = performance.now();
        guard.played(played[k]!, (k + 5) * FRAME_MS); // handed over 100 ms before it plays, as Playout does
        if (pass) frameUs += (performance.now() - t) * 1000;
        // The inbound windows that are complete by the end of this 20 ms.
        while (next[c]! < windows.length && (next[c]! + 1) * windowMs <= (k + 1) * FRAME_MS) {
          const w = next[c]!;
          t = performance.now();
          const echo = guard.isEcho(windows[w]!, w * windowMs);
          const us = (performance.now() - t) * 1000;
          next[c]!++;
          if (!pass) continue;
          windowUs += us;
          samples.push(us);
          if (echo) echoJudged++;
        }
      }
      if (k % 50 === 0) await new Promise((r) => setImmediate(r)); // keep the loop responsive, like a server
    }
  }
  const usPerWindow = windowUs / samples.length;
  const usPerFrame = frameUs / (played.length * calls);
  const corePerCallPct = ((usPerWindow * WINDOWS_PER_SECOND + usPerFrame * FRAMES_PER_SECOND) / 1e6) * 100;
  return {
    calls,
    seconds: (played.length * FRAME_MS) / 1000,
    usPerWindow,
    usPerWindowP99: percentile(samples, 99),
    usPerFrame,
    corePerCallPct,
    coreAllCallsPct: corePerCallPct * calls,
    echoJudged: echoJudged / calls,
  };
}

export function formatEchoBench(r: EchoBenchResult): string {
  return (
    `echo guard, ${r.calls} calls × ${r.seconds.toFixed(0)} s of speakerphone audio: ${r.usPerWindow.toFixed(1)} µs per inbound window ` +
    `(p99 ${r.usPerWindowP99.toFixed(1)}), ${r.usPerFrame.toFixed(1)} µs per played frame → ${r.corePerCallPct.toFixed(3)} % of a core per call, ` +
    `${r.coreAllCallsPct.toFixed(2)} % for all ${r.calls}`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchEcho().then((r) => process.stdout.write(formatEchoBench(r) + '\n'));
}
