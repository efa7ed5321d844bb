import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Playout } from '../../../main/core/conversation/playout.ts';

/** What the playout wrote to the stream, in order. */
type PlayoutMessage = { kind: 'media'; frame: Uint8Array } | { kind: 'mark'; name: string } | { kind: 'clear' };

const frame = () => new Uint8Array(160);

describe('Playout', () => {
  let now = 0;
  let sent: { at: number; m: PlayoutMessage }[];
  let p: Playout;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
    sent = [];
    const send = (m: PlayoutMessage) => sent.push({ at: now, m });
    p = new Playout({ leadMs: 100, now: () => now, stream: { media: (frame) => send({ kind: 'media', frame }), mark: (name) => send({ kind: 'mark', name }), clear: () => send({ kind: 'clear' }) } });
  });
  afterEach(() => vi.useRealTimers());
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      now++;
      vi.advanceTimersByTime(1);
    }
  };

  it('sends the lead at once, then one frame per 20 ms: never more than leadMs ahead of playback', () => {
    p.enqueue(Array.from({ length: 50 }, frame));
    expect(sent.filter((s) => s.m.kind === 'media')).toHaveLength(5);
    advance(1_000);
    const media = sent.filter((s) => s.m.kind === 'media');
    expect(media).toHaveLength(50);
    media.forEach((s, k) => {
      // Frame k plays at k·20 ms; it is sent 100 ms early (less a timer tick), never more, never late.
      if (k < 5) expect(s.at).toBe(0);
      else {
        expect(k * 20 - s.at).toBeLessThanOrEqual(100);
        expect(k * 20 - s.at).toBeGreaterThanOrEqual(95);
      }
    });
  });

  it('sends a mark right after the audio before it and reports it played only when echoed', () => {
    const played = vi.fn();
    p.enqueue([frame(), frame()]);
    p.enqueueMark('t1.0', played);
    expect(sent.map((s) => s.m.kind)).toEqual(['media', 'media', 'mark']);
    expect(played).not.toHaveBeenCalled();
    expect(p.idle).toBe(false);
    expect(p.onMark('t1.0')).toBe(true);
    expect(played).toHaveBeenCalledOnce();
    expect(p.idle).toBe(true);
    expect(p.onMark('t1.0')).toBe(false);
  });

  it('clear drops queued audio, always sends clear, and swallows echoes of marks it cancelled', () => {
    const played = vi.fn();
    p.enqueue(Array.from({ length: 20 }, frame));
    p.enqueueMark('t2.0', played);
    p.clear();
    expect(sent.at(-1)!.m.kind).toBe('clear');
    advance(500);
    expect(sent.filter((s) => s.m.kind === 'media')).toHaveLength(5);
    // A mark already at Twilio when we cleared comes back — but it was not heard.
    const pending = vi.fn();
    p.enqueue([frame()]);
    p.enqueueMark('t3.0', pending);
    p.clear();
    expect(p.onMark('t3.0')).toBe(false);
    expect(pending).not.toHaveBeenCalled();
    expect(played).not.toHaveBeenCalled();
    // clear with nothing queued still tells Twilio.
    p.clear();
    expect(sent.filter((s) => s.m.kind === 'clear')).toHaveLength(3);
  });

  it('starts a new run after Twilio ran dry instead of bursting to catch up', () => {
    p.enqueue([frame()]);
    advance(2_000);
    p.enqueue(Array.from({ length: 10 }, frame));
    expect(sent.filter((s) => s.m.kind === 'media')).toHaveLength(1 + 5);
  });
});
