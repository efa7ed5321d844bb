/** The call state machine: statuses only move forward, and no call hangs around forever. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CoreEvent } from '../../../main/core/events.ts';
import { silentLogger } from '../../../main/core/log.ts';
import { CallTracker, type CallTrackerOptions } from '../../../main/core/twilio/call-tracker.ts';

const SID = 'CA' + '1'.repeat(32);

function tracker(over: Partial<CallTrackerOptions> = {}) {
  const events: CoreEvent[] = [];
  const ended: string[] = [];
  const t = new CallTracker({
    emit: (e) => events.push(e),
    log: silentLogger,
    onFinal: (sid, status) => ended.push(`${sid}:${status}`),
    publicUrl: () => 'https://pub.example',
    timeouts: { ringMs: 1_000, maxRingMs: 5_000, streamMs: 2_000, endGraceMs: 500 },
    ...over,
  });
  const statuses = () => events.filter((e) => e.type === 'call.status').map((e) => (e as { status: string }).status);
  return { t, events, ended, statuses };
}

describe('CallTracker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('moves forward through Twilio statuses, ignoring duplicates and late, out-of-order callbacks', () => {
    const { t, statuses, ended } = tracker();
    expect(t.update({ callSid: SID, status: 'queued', direction: 'outbound', to: '+15551230000' })).toBe(true);
    expect(t.update({ callSid: SID, status: 'ringing' })).toBe(true);
    expect(t.update({ callSid: SID, status: 'ringing' })).toBe(false); // duplicate
    expect(t.update({ callSid: SID, status: 'initiated' })).toBe(false); // arrived late
    expect(t.update({ callSid: SID, status: 'in-progress' })).toBe(true);
    t.streamStarted({ callSid: SID });
    expect(t.list()).toMatchObject([{ callSid: SID, status: 'in-progress', stream: 'live', direction: 'outbound', to: '+15551230000' }]);
    expect(t.update({ callSid: SID, status: 'completed', durationSec: 42 })).toBe(true);
    expect(t.update({ callSid: SID, status: 'ringing' })).toBe(false); // after the end
    expect(t.update({ callSid: SID, status: 'completed' })).toBe(false); // twice
    expect(statuses()).toEqual(['queued', 'ringing', 'in-progress', 'completed']);
    expect(ended).toEqual([`${SID}:completed`]);
    expect(t.list()).toEqual([]);
    expect(t.finished(SID)).toEqual({ status: 'completed', synthetic: false });
  });

  it('answered but the stream never connects: hung up after streamMs, reported failed with the fix', async () => {
    const hangups: string[] = [];
    const { t, events, statuses } = tracker({ hangup: async (sid) => void hangups.push(sid) });
    t.update({ callSid: SID, status: 'in-progress', direction: 'outbound' });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(t.list()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.list()).toEqual([]);
    expect(hangups).toEqual([SID]);
    const error = events.find((e) => e.type === 'call.error') as { code: string; message: string };
    expect(error.code).toBe('STREAM_TIMEOUT');
    expect(error.message).toContain('wss://pub.example/media is reachable');
    expect(statuses()).toEqual(['in-progress', 'failed']);
    // Twilio's own final word still corrects Parley's guess, once.
    expect(t.update({ callSid: SID, status: 'completed' })).toBe(true);
    expect(t.update({ callSid: SID, status: 'completed' })).toBe(false);
    expect(statuses()).toEqual(['in-progress', 'failed', 'completed']);
  });

  it('the stream arriving in time cancels the stream timeout', async () => {
    const { t, events } = tracker({ hangup: async () => {} });
    t.update({ callSid: SID, status: 'in-progress' });
    await vi.advanceTimersByTimeAsync(1_000);
    t.streamStarted({ callSid: SID });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.list()).toHaveLength(1);
    expect(events.some((e) => e.type === 'call.error')).toBe(false);
  });

  it('ringing with no news: asks Twilio, keeps waiting while it rings, then applies its answer', async () => {
    const answers: ('ringing' | 'no-answer')[] = ['ringing', 'no-answer'];
    const lookups: string[] = [];
    const { t, statuses, ended } = tracker({ lookup: async (sid) => (lookups.push(sid), answers.shift() ?? null) });
    t.update({ callSid: SID, status: 'ringing' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lookups).toHaveLength(1);
    expect(t.list()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lookups).toHaveLength(2);
    expect(statuses()).toEqual(['ringing', 'no-answer']);
    expect(ended).toEqual([`${SID}:no-answer`]);
    expect(t.list()).toEqual([]);
  });

  it('ringing with no news and no way to ask: given up with a message about the status callback URL', async () => {
    const { t, events, statuses } = tracker();
    t.update({ callSid: SID, status: 'queued' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.list()).toEqual([]);
    expect(statuses()).toEqual(['queued', 'failed']);
    expect((events.find((e) => e.type === 'call.error') as { message: string }).message).toMatch(/https:\/\/pub\.example\/voice\/status: check that it is reachable/);
  });

  it('Twilio saying it still rings is believed only up to maxRingMs', async () => {
    const { t, statuses } = tracker({ lookup: async () => 'ringing' });
    t.update({ callSid: SID, status: 'ringing' });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(t.list()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_001);
    expect(t.list()).toEqual([]);
    expect(statuses()).toEqual(['ringing', 'failed']);
  });

  it('a stream that ended without a final status is over after the grace period, silently', async () => {
    const { t, events } = tracker();
    t.streamStarted({ callSid: SID, direction: 'inbound', from: '+15550001111' });
    expect(t.get(SID)).toMatchObject({ status: 'in-progress', stream: 'live' });
    t.streamEnded(SID);
    await vi.advanceTimersByTimeAsync(499);
    expect(t.list()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.list()).toEqual([]);
    expect(events).toEqual([]); // call.ended already said it
  });

  it('stop() cancels every timer', async () => {
    const { t, events } = tracker();
    t.update({ callSid: SID, status: 'queued' });
    t.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(events.filter((e) => e.type !== 'call.status' || (e as { status: string }).status !== 'queued')).toEqual([]);
  });
});
