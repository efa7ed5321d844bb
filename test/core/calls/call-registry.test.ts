/**
 * The live-call registry: statuses only move forward, no call hangs around forever, and each call's stream
 * and session are found in one place.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CoreEvent } from '../../../main/core/event-bus.ts';
import { silentLogger } from '../../../main/core/log.ts';
import { CallRegistry, type CallRegistryOptions, type LiveSession } from '../../../main/core/calls/call-registry.ts';

const SID = 'CA' + '1'.repeat(32);

/** A stand-in for a CallSession: records what the registry asks of it. */
function session(over: Partial<LiveSession> = {}): LiveSession & { ended: string[]; interrupts: number } {
  const s = {
    callSid: SID,
    streamSid: 'MZ1',
    direction: 'inbound' as const,
    from: null,
    to: null,
    startedAt: 0,
    state: 'listening' as const,
    plugins: { stt: 's', llm: 'l', tts: 't' },
    ended: [] as string[],
    interrupts: 0,
    interrupt() {
      s.interrupts++;
    },
    end(reason: string) {
      s.ended.push(reason);
    },
    ...over,
  };
  return s;
}

function tracker(over: Partial<CallRegistryOptions> = {}) {
  const events: CoreEvent[] = [];
  const t = new CallRegistry({
    emit: (e) => events.push(e),
    log: silentLogger,
    publicUrl: () => 'https://pub.example',
    timeouts: { ringMs: 1_000, maxRingMs: 5_000, streamMs: 2_000, endGraceMs: 500 },
    ...over,
  });
  const statuses = () => events.filter((e) => e.type === 'call.status').map((e) => (e as { status: string }).status);
  return { t, events, statuses };
}

describe('CallRegistry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('moves forward through Twilio statuses, ignoring duplicates and late, out-of-order callbacks', () => {
    const { t, statuses } = tracker();
    const live = session({ direction: 'outbound' });
    expect(t.update({ callSid: SID, status: 'queued', direction: 'outbound', to: '+15551230000' })).toBe(true);
    expect(t.update({ callSid: SID, status: 'ringing' })).toBe(true);
    expect(t.update({ callSid: SID, status: 'ringing' })).toBe(false); // duplicate
    expect(t.update({ callSid: SID, status: 'initiated' })).toBe(false); // arrived late
    expect(t.update({ callSid: SID, status: 'in-progress' })).toBe(true);
    const closed: string[] = [];
    t.streamStarted(live, { send: () => {}, close: (reason) => closed.push(reason) });
    expect(t.list()).toMatchObject([{ callSid: SID, status: 'in-progress', stream: 'live', direction: 'outbound', to: '+15551230000' }]);
    expect(t.session(SID)).toBe(live);
    expect(t.update({ callSid: SID, status: 'completed', durationSec: 42 })).toBe(true);
    expect(t.update({ callSid: SID, status: 'ringing' })).toBe(false); // after the end
    expect(t.update({ callSid: SID, status: 'completed' })).toBe(false); // twice
    expect(statuses()).toEqual(['queued', 'ringing', 'in-progress', 'completed']);
    // Twilio's final word ends the call's session and closes its stream.
    expect(live.ended).toEqual(['status completed']);
    expect(closed).toEqual(['call completed']);
    expect(t.list()).toEqual([]);
    expect(t.session(SID)).toBeNull();
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
    t.streamStarted(session());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.list()).toHaveLength(1);
    expect(events.some((e) => e.type === 'call.error')).toBe(false);
  });

  it('ringing with no news: asks Twilio, keeps waiting while it rings, then applies its answer', async () => {
    const answers: ('ringing' | 'no-answer')[] = ['ringing', 'no-answer'];
    const lookups: string[] = [];
    const { t, statuses } = tracker({ lookup: async (sid) => (lookups.push(sid), answers.shift() ?? null) });
    t.update({ callSid: SID, status: 'ringing' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lookups).toHaveLength(1);
    expect(t.list()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lookups).toHaveLength(2);
    expect(statuses()).toEqual(['ringing', 'no-answer']);
    expect(t.finished(SID)).toEqual({ status: 'no-answer', synthetic: false });
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
    const live = session({ from: '+15550001111' });
    t.streamStarted(live);
    expect(t.get(SID)).toMatchObject({ status: 'in-progress', stream: 'live', from: '+15550001111' });
    t.streamEnded(live);
    expect(t.session(SID)).toBeNull();
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

  it('holds each call\'s session and socket: /calls, interrupt and hang-up read it; a second stream is refused', () => {
    const { t } = tracker();
    const OTHER = 'CA' + '2'.repeat(32);
    t.update({ callSid: OTHER, status: 'ringing', direction: 'outbound', to: '+15551230000' });
    const live = session({ state: 'speaking' });
    const closed: string[] = [];
    t.streamStarted(live, { send: () => {}, close: (reason) => closed.push(reason) });
    expect(t.streams).toBe(1);
    expect(t.live()).toMatchObject([
      { callSid: SID, streamSid: 'MZ1', state: 'speaking', status: 'in-progress', plugins: { stt: 's' } },
      { callSid: OTHER, streamSid: null, state: null, plugins: null, status: 'ringing', direction: 'outbound' },
    ]);
    expect(() => t.streamStarted(session())).toThrow(/already has a media stream/);
    t.interrupt(SID);
    expect(live.interrupts).toBe(1);
    expect(() => t.interrupt(OTHER)).toThrow(expect.objectContaining({ code: 'CALL_NOT_FOUND' }));
    expect(t.endStream(SID, 'hung up')).toBe(true);
    expect(live.ended).toEqual(['hung up']);
    expect(closed).toEqual(['hung up']);
    // The session reports its end; a stale session's report changes nothing.
    t.streamEnded(session());
    expect(t.session(SID)).toBe(live);
    t.streamEnded(live);
    expect(t.live().map((c) => c.callSid)).toEqual([OTHER]);
    expect(t.endStream(SID, 'again')).toBe(false);
  });

  it('stop() ends every live session', () => {
    const { t } = tracker();
    const live = session();
    t.streamStarted(live);
    t.stop('server stopping');
    expect(live.ended).toEqual(['server stopping']);
    expect(t.list()).toEqual([]);
  });
});
