/**
 * Replay with other settings: run a recorded call's caller channel (the left channel of the recording) through
 * the same VAD and turn detector the engine uses, offline, with other turn-taking settings (end-of-turn
 * silence, speech threshold), and say where each turn would have ended, why, and how long after the caller
 * stopped. Yields to the event loop every few hundred windows so a long call never stalls the media server.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createEnergyVad } from '../audio/vad/energy.ts';
import { VAD_SAMPLE_RATE, type VadEngine } from '../audio/vad/types.ts';
import { parseWavHeader } from '../records/wav.ts';
import { TurnDetector, type TurnEndReason } from './turn-detector.ts';

export interface ReplaySettings {
  /** End-of-turn silence, ms (50..5000). */
  silenceMs: number;
  /** Speech probability that starts speech, 0..1 (default 0.5). */
  threshold?: number;
  minSpeechMs?: number;
  maxTurnMs?: number;
}

export interface ReplayTurn {
  /** ms from the recording's start. */
  speechStartMs: number;
  speechEndMs: number;
  /** Where the turn was judged over. */
  endedAtMs: number;
  endedBy: TurnEndReason;
  /** endedAtMs − speechEndMs: what this setting adds before the agent can start. */
  endpointMs: number;
}

export interface ReplayResult {
  settings: Required<ReplaySettings>;
  durationMs: number;
  turns: ReplayTurn[];
}

const YIELD_EVERY = 200;

function check(s: ReplaySettings): Required<ReplaySettings> {
  const out = { threshold: 0.5, minSpeechMs: 200, maxTurnMs: 30_000, ...s };
  if (!Number.isFinite(out.silenceMs) || out.silenceMs < 50 || out.silenceMs > 5000) throw new RangeError(`silenceMs must be from 50 to 5000 (got ${s.silenceMs})`);
  if (!Number.isFinite(out.threshold) || out.threshold <= 0 || out.threshold >= 1) throw new RangeError(`threshold must be between 0 and 1 (got ${s.threshold})`);
  return out;
}

/** The caller channel of a recording (left of stereo, or the only channel), resampled to the VAD's 16 kHz. */
export function callerChannel16k(path: string): Float32Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    const wav = parseWavHeader(buf.subarray(0, Math.min(size, 4096)));
    if (!wav || wav.format !== 1 || wav.bitsPerSample !== 16 || wav.channels < 1 || wav.channels > 2) throw new Error(`${path} is not a 16-bit PCM WAV with 1 or 2 channels`);
    const dataBytes = wav.dataSize > 0 ? Math.min(wav.dataSize, size - wav.dataOffset) : size - wav.dataOffset;
    const step = 2 * wav.channels;
    const frames = Math.floor(dataBytes / step);
    const ratio = VAD_SAMPLE_RATE / wav.sampleRate;
    const out = new Float32Array(Math.floor(frames * ratio));
    // Linear interpolation (8 kHz → 16 kHz for recordings).
    for (let i = 0; i < out.length; i++) {
      const src = i / ratio;
      const a = Math.min(frames - 1, Math.floor(src));
      const b = Math.min(frames - 1, a + 1);
      const f = src - a;
      const va = buf.readInt16LE(wav.dataOffset + a * step) / 32768;
      const vb = buf.readInt16LE(wav.dataOffset + b * step) / 32768;
      out[i] = va + (vb - va) * f;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Replay caller audio (16 kHz) with the given settings. `vad` defaults to the energy VAD (no model needed). */
export async function replayCaller(samples: Float32Array, settings: ReplaySettings, vad: VadEngine = createEnergyVad()): Promise<ReplayResult> {
  const s = check(settings);
  const stream = vad.createStream();
  const turns: ReplayTurn[] = [];
  const detector = new TurnDetector(
    { sampleRate: VAD_SAMPLE_RATE, silenceMs: s.silenceMs, minSpeechMs: s.minSpeechMs, bargeInMinMs: s.minSpeechMs, maxTurnMs: s.maxTurnMs, speculativeMs: Math.min(150, s.silenceMs), threshold: s.threshold, releaseThreshold: Math.max(0.01, s.threshold - 0.15) },
    {
      end: (u, info) =>
        turns.push({ speechStartMs: Math.round(u.speechStartMs), speechEndMs: Math.round(u.speechEndMs), endedAtMs: Math.round(detector.clockMs), endedBy: info.endedBy, endpointMs: Math.round(detector.clockMs - u.speechEndMs) }),
    },
  );
  const n = stream.windowSamples;
  let w = 0;
  for (let off = 0; off + n <= samples.length; off += n, w++) {
    const win = samples.subarray(off, off + n);
    detector.push(win, await stream.process(win));
    if (w % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((r) => setImmediate(r));
  }
  return { settings: s, durationMs: Math.round((samples.length / VAD_SAMPLE_RATE) * 1000), turns };
}

/** Replay a recording's caller channel with several settings, side by side. */
export async function replayRecording(path: string, variants: ReplaySettings[], vad?: VadEngine): Promise<ReplayResult[]> {
  if (variants.length === 0 || variants.length > 8) throw new RangeError('give 1 to 8 settings to compare');
  variants.forEach(check);
  const samples = callerChannel16k(path);
  const out: ReplayResult[] = [];
  for (const v of variants) out.push(await replayCaller(samples, v, vad));
  return out;
}
