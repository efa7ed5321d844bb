/**
 * A recorded call as a timeline: both channels' waveform peaks (computed here, so the GUI never downloads the
 * whole WAV), and the marks the records hold — turn ends with why and how fast, barge-ins, backchannels, tool
 * actions, whispers and any other event kind (shown generically) — each placed in ms from the call's start.
 * Reads the file in bounded chunks; the peaks are the max |sample| of each bucket, 0..1.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { CallDetail } from '../../shared/records.ts';
import type { Timeline, TimelineMark, TimelinePeaks, TimelineTurn } from '../../shared/timeline.ts';
import { parseWavHeader } from './wav.ts';

export type { Timeline, TimelineMark, TimelinePeaks, TimelineTurn };

const MAX_BUCKETS = 4000;
const CHUNK_BYTES = 256 * 1024;

/** Peaks of a 16-bit PCM WAV (mono or stereo), `buckets` per channel. */
export function wavPeaks(path: string, buckets = 1000): TimelinePeaks {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) throw new RangeError(`buckets must be a whole number from 1 to ${MAX_BUCKETS} (got ${buckets})`);
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    const got = readSync(fd, head, 0, head.length, 0);
    const wav = parseWavHeader(head.subarray(0, got));
    if (!wav || wav.format !== 1 || wav.bitsPerSample !== 16 || wav.channels < 1 || wav.channels > 2) throw new Error(`${path} is not a 16-bit PCM WAV with 1 or 2 channels`);
    const fileData = Math.max(0, fstatSync(fd).size - wav.dataOffset);
    // A recording still being written (or repaired) has a zero size in its header: use the file's length.
    const dataBytes = wav.dataSize > 0 ? Math.min(wav.dataSize, fileData) : fileData;
    const frameBytes = 2 * wav.channels;
    const frames = Math.floor(dataBytes / frameBytes);
    const caller = new Array<number>(buckets).fill(0);
    const agent = new Array<number>(buckets).fill(0);
    const perBucket = Math.max(1, frames / buckets);
    const chunk = Buffer.alloc(CHUNK_BYTES - (CHUNK_BYTES % frameBytes));
    let frame = 0;
    while (frame < frames) {
      const want = Math.min(chunk.length, (frames - frame) * frameBytes);
      const n = readSync(fd, chunk, 0, want, wav.dataOffset + frame * frameBytes);
      if (n <= 0) break;
      const count = Math.floor(n / frameBytes);
      for (let i = 0; i < count; i++, frame++) {
        const b = Math.min(buckets - 1, Math.floor(frame / perBucket));
        const l = Math.abs(chunk.readInt16LE(i * frameBytes)) / 32768;
        if (l > caller[b]!) caller[b] = l;
        if (wav.channels === 2) {
          const r = Math.abs(chunk.readInt16LE(i * frameBytes + 2)) / 32768;
          if (r > agent[b]!) agent[b] = r;
        }
      }
    }
    const round = (v: number) => Math.round(v * 1000) / 1000;
    return { durationMs: Math.round((frames / wav.sampleRate) * 1000), caller: caller.map(round), agent: wav.channels === 2 ? agent.map(round) : [] };
  } finally {
    closeSync(fd);
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function labelOf(type: string, data: Record<string, unknown>): string {
  switch (type) {
    case 'turn-end': {
      const by = typeof data.endedBy === 'string' ? data.endedBy : 'unknown';
      const v2v = num(data.voiceToVoiceMs);
      return `turn ended (${by})${v2v !== null ? ` · ${Math.round(v2v)} ms to reply` : ''}`;
    }
    case 'interrupted':
      return `barge-in${typeof data.source === 'string' ? ` (${data.source})` : ''}`;
    case 'backchannel':
      return `backchannel${typeof data.text === 'string' && data.text ? `: ${data.text}` : ''}`;
    case 'tool':
      return `tool ${typeof data.name === 'string' ? data.name : ''}${typeof data.state === 'string' ? ` (${data.state})` : ''}`.trim();
    default:
      return type;
  }
}

/** The timeline of one call's records, with peaks when a recording path is given. */
export function timelineOf(detail: CallDetail, recordingPath: string | null, buckets = 1000): Timeline {
  const t0 = detail.startedAt;
  const rel = (at: number | null) => (at === null ? null : Math.max(0, at - t0));
  return {
    callSid: detail.sid,
    startedAt: t0,
    peaks: recordingPath ? wavPeaks(recordingPath, buckets) : null,
    turns: detail.turns.map((t) => ({
      turnId: t.turnId,
      callerAtMs: rel(t.callerAt),
      agentAtMs: rel(t.agentAt),
      callerText: t.callerText,
      agentText: t.agentText,
      interrupted: t.interrupted,
      voiceToVoiceMs: num(t.latencies?.voiceToVoiceMs),
    })),
    marks: detail.events
      .filter((e) => e.type !== 'started' && e.type !== 'status')
      .map((e) => ({ atMs: rel(e.at)!, kind: e.type, turnId: num(e.data.turnId), label: labelOf(e.type, e.data), data: e.data })),
  };
}
