/** A recorded call as a timeline: peaks per channel from the WAV (server side), turns and marks from the records. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { timelineOf, wavPeaks } from '../../../main/core/records/timeline.ts';
import { wavHeader } from '../../../main/core/records/wav.ts';
import type { CallDetail } from '../../../main/shared/records.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-timeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 1 s of 8 kHz stereo: the caller speaks (loud) in the first half, the agent (half as loud) in the second. */
function writeRecording(zeroSizes = false): string {
  const frames = 8000;
  const data = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    const s = Math.round(Math.sin(i / 3) * 16000);
    data.writeInt16LE(i < 4000 ? s : 0, i * 4);
    data.writeInt16LE(i >= 4000 ? Math.round(s / 2) : 0, i * 4 + 2);
  }
  const path = join(dir, `rec-${zeroSizes ? 'open' : 'done'}.wav`);
  writeFileSync(path, Buffer.concat([wavHeader(zeroSizes ? 0 : data.length), data]));
  return path;
}

describe('timeline peaks', () => {
  it("puts each channel's speech where it is", () => {
    const p = wavPeaks(writeRecording(), 10);
    expect(p.durationMs).toBe(1000);
    expect(p.caller.length).toBe(10);
    expect(p.caller.slice(0, 5).every((v) => v > 0.4)).toBe(true);
    expect(p.caller.slice(5).every((v) => v === 0)).toBe(true);
    expect(p.agent.slice(0, 5).every((v) => v === 0)).toBe(true);
    expect(p.agent.slice(5).every((v) => v > 0.2 && v < 0.26)).toBe(true);
  });

  it('reads a recording still being written (zero sizes in its header) from its length', () => {
    expect(wavPeaks(writeRecording(true), 4).durationMs).toBe(1000);
  });

  it('refuses a bad bucket count and a file that is not a WAV, saying what is wrong', () => {
    expect(() => wavPeaks(writeRecording(), 0)).toThrow(/buckets must be a whole number from 1 to 4000/);
    const bad = join(dir, 'not.wav');
    writeFileSync(bad, 'hello');
    expect(() => wavPeaks(bad)).toThrow(/not a 16-bit PCM WAV/);
  });
});

describe('timelineOf', () => {
  it('places turns and marks in ms from the start, with why each turn ended, and keeps unknown kinds', () => {
    const t0 = 1_700_000_000_000;
    const detail = {
      sid: 'CA1',
      startedAt: t0,
      turns: [{ turnId: 1, callerText: 'hello', agentText: 'hi there', agentFullText: 'hi there', interrupted: false, callerAt: t0 + 1200, agentAt: t0 + 2100, latencies: { endpointMs: 300, sttMs: 50, llmFirstTokenMs: 200, ttsFirstAudioMs: 100, voiceToVoiceMs: 900, engineOverheadMs: 10 } }],
      events: [
        { id: 1, at: t0, type: 'started', data: {} },
        { id: 2, at: t0 + 1250, type: 'turn-end', data: { turnId: 1, endedBy: 'silence', voiceToVoiceMs: 900 } },
        { id: 3, at: t0 + 2500, type: 'interrupted', data: { turnId: 1, source: 'vad' } },
        { id: 4, at: t0 + 2600, type: 'backchannel', data: { turnId: 1, text: 'mm-hm' } },
        { id: 5, at: t0 + 3000, type: 'takeover', data: { by: 'desk' } },
      ],
    } as unknown as CallDetail;
    const tl = timelineOf(detail, null);
    expect(tl.peaks).toBeNull();
    expect(tl.turns).toEqual([{ turnId: 1, callerAtMs: 1200, agentAtMs: 2100, callerText: 'hello', agentText: 'hi there', interrupted: false, voiceToVoiceMs: 900 }]);
    expect(tl.marks.map((m) => [m.atMs, m.kind, m.label])).toEqual([
      [1250, 'turn-end', 'turn ended (silence) · 900 ms to reply'],
      [2500, 'interrupted', 'barge-in (vad)'],
      [2600, 'backchannel', 'backchannel: mm-hm'],
      [3000, 'takeover', 'takeover'],
    ]);
  });
});
