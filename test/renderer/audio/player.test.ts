/**
 * The speakers' side of a test call with a fake AudioContext and fake time: frames play back to back (no gaps,
 * no overlap), a mark is answered only when the audio queued before it has played, and flush (Twilio `clear`)
 * stops every queued buffer at once and answers the pending marks.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SpeakerPlayer } from '../../../renderer/src/audio/player.ts';

class FakeSource {
  buffer: { duration: number } | null = null;
  startedAt: number | null = null;
  stopped = false;
  onended: (() => void) | null = null;
  connect() {}
  start(at: number) {
    this.startedAt = at;
  }
  stop() {
    this.stopped = true;
  }
}

class FakeContext {
  sampleRate = 48000;
  currentTime = 10;
  destination = {};
  sources: FakeSource[] = [];
  createBuffer(_ch: number, length: number, rate: number) {
    const data = new Float32Array(length);
    return { duration: length / rate, getChannelData: () => data };
  }
  createBufferSource() {
    const s = new FakeSource();
    this.sources.push(s);
    return s;
  }
}

describe('SpeakerPlayer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('schedules 20 ms frames back to back, a little ahead of now', () => {
    const ctx = new FakeContext();
    const p = new SpeakerPlayer(ctx as unknown as AudioContext);
    for (let i = 0; i < 3; i++) p.play(new Float32Array(160));
    const starts = ctx.sources.map((s) => s.startedAt!);
    expect(starts[0]).toBeGreaterThan(10);
    expect(starts[0]).toBeLessThan(10.2);
    // Each starts where the one before ends (to within the resampler's first-chunk rounding).
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeCloseTo(ctx.sources[i - 1]!.buffer!.duration, 6);
    expect(ctx.sources[1]!.buffer!.duration).toBeCloseTo(0.02, 3);
  });

  it('answers a mark only after what was queued before it has played', () => {
    const ctx = new FakeContext();
    const p = new SpeakerPlayer(ctx as unknown as AudioContext);
    for (let i = 0; i < 50; i++) p.play(new Float32Array(160)); // ~1 s
    const done = vi.fn();
    p.afterQueued(done);
    vi.advanceTimersByTime(900);
    expect(done).not.toHaveBeenCalled();
    vi.advanceTimersByTime(300);
    expect(done).toHaveBeenCalledTimes(1);
  });

  it('flush stops everything queued and answers pending marks at once; play then starts afresh', () => {
    const ctx = new FakeContext();
    const p = new SpeakerPlayer(ctx as unknown as AudioContext);
    for (let i = 0; i < 50; i++) p.play(new Float32Array(160));
    const done = vi.fn();
    p.afterQueued(done);
    p.flush();
    expect(done).toHaveBeenCalledTimes(1);
    expect(ctx.sources.every((s) => s.stopped)).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(done).toHaveBeenCalledTimes(1); // not twice
    p.play(new Float32Array(160));
    expect(ctx.sources.at(-1)!.startedAt).toBeLessThan(10.2); // not after the flushed second
  });
});
