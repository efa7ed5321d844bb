/** Replay with other settings: the same recorded caller audio, two silence settings, different turn ends. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayRecording } from '../../../main/core/conversation/replay.ts';
import { wavHeader } from '../../../main/core/records/wav.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A call recording (8 kHz stereo): the caller speaks 0.5–1.5 s, pauses 500 ms, speaks 2.0–3.0 s; 4 s long. */
function recording(): string {
  const frames = 8000 * 4;
  const data = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    const t = i / 8000;
    const speaking = (t >= 0.5 && t < 1.5) || (t >= 2.0 && t < 3.0);
    // Voice-like: a 200 Hz tone with a 4 Hz syllable envelope; faint noise otherwise.
    const v = speaking ? Math.sin(2 * Math.PI * 200 * t) * (0.5 + 0.3 * Math.sin(2 * Math.PI * 4 * t)) : Math.sin(i * 12.9898) * 0.0005;
    data.writeInt16LE(Math.round(v * 20000), i * 4);
    data.writeInt16LE(0, i * 4 + 2);
  }
  const path = join(dir, 'call.wav');
  writeFileSync(path, Buffer.concat([wavHeader(data.length), data]));
  return path;
}

describe('replay with other settings', () => {
  it('ends turns where the silence setting says: a short one splits at the pause, a long one does not', async () => {
    const [short, long] = await replayRecording(recording(), [{ silenceMs: 300 }, { silenceMs: 900 }]);
    expect(short!.durationMs).toBe(4000);
    expect(short!.turns.length).toBe(2);
    expect(long!.turns.length).toBe(1);
    // The first turn of the short setting ends in the pause, about 300 ms after the caller stopped.
    expect(short!.turns[0]!.endedBy).toBe('silence');
    expect(short!.turns[0]!.speechEndMs).toBeGreaterThan(1300);
    expect(short!.turns[0]!.speechEndMs).toBeLessThan(1600);
    expect(short!.turns[0]!.endedAtMs).toBeLessThan(2000);
    // Each turn's endpoint latency follows the setting.
    for (const t of short!.turns) expect(Math.abs(t.endpointMs - 300)).toBeLessThan(80);
    expect(Math.abs(long!.turns[0]!.endpointMs - 900)).toBeLessThan(80);
    expect(long!.turns[0]!.endedAtMs).toBeGreaterThan(short!.turns[1]!.endedAtMs);
  });

  it('refuses settings out of range, naming the allowed range', async () => {
    await expect(replayRecording(recording(), [{ silenceMs: 10 }])).rejects.toThrow(/silenceMs must be from 50 to 5000/);
    await expect(replayRecording(recording(), [{ silenceMs: 500, threshold: 2 }])).rejects.toThrow(/threshold must be between 0 and 1/);
  });
});
