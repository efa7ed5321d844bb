/**
 * Idle callers and the longest call (issue 14 §3). The watch alone with fake time (exact thresholds, once only,
 * caller speech resets, 0 disables, the agent busy holds the clock), then through the real server with a
 * simulated caller and short settings (generous bounds: a loaded 2-core machine must not make it flaky).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdleWatch, IDLE_REASON, MAX_LENGTH_REASON, type IdleWatchOptions } from '../../../main/core/conversation/idle-watch.ts';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

function watch(over: Partial<IdleWatchOptions> = {}) {
  const said: string[] = [];
  const goodbyes: string[] = [];
  const hangups: string[] = [];
  const agent = { idle: true };
  const w = new IdleWatch({
    repromptMs: 8_000,
    hangupMs: 20_000,
    maxCallMs: 0,
    prompt: 'Are you still there?',
    idleGoodbye: 'Bye idle.',
    maxGoodbye: 'Bye long.',
    agentIdle: () => agent.idle,
    say: async (t) => void said.push(t),
    finalWords: async (t) => void goodbyes.push(t),
    hangUp: (r) => void hangups.push(r),
    log: createLogger({ sinks: [memorySink()] }),
    ...over,
  });
  return { w, said, goodbyes, hangups, agent };
}

describe('IdleWatch (fake time)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks once after the reprompt time, then says goodbye and hangs up with reason idle', async () => {
    vi.useFakeTimers();
    const { w, said, goodbyes, hangups } = watch();
    w.start();
    await vi.advanceTimersByTimeAsync(7_500);
    expect(said).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(said).toEqual(['Are you still there?']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(said).toHaveLength(1);
    expect(hangups).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(goodbyes).toEqual(['Bye idle.']);
    expect(hangups).toEqual([IDLE_REASON]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(hangups).toHaveLength(1);
  });

  it('caller speech resets the clock; a speaking caller is never idle', async () => {
    vi.useFakeTimers();
    const { w, said, hangups } = watch();
    w.start();
    await vi.advanceTimersByTimeAsync(7_000);
    w.callerSpeaking();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(said).toEqual([]);
    w.callerDone();
    await vi.advanceTimersByTimeAsync(7_000);
    expect(said).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(said).toHaveLength(1);
    // Spoke after the question: it may be asked again after a new stretch of silence.
    w.callerSpeaking();
    w.callerDone();
    await vi.advanceTimersByTimeAsync(8_500);
    expect(said).toHaveLength(2);
    expect(hangups).toEqual([]);
    w.stop();
  });

  it('the agent speaking, thinking or in a tool holds the clock', async () => {
    vi.useFakeTimers();
    const { w, said, agent } = watch();
    agent.idle = false;
    w.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(said).toEqual([]);
    agent.idle = true;
    await vi.advanceTimersByTimeAsync(7_500);
    expect(said).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(said).toHaveLength(1);
    w.stop();
  });

  it('0 turns each limit off', async () => {
    vi.useFakeTimers();
    const { w, said, hangups } = watch({ repromptMs: 0, hangupMs: 0, maxCallMs: 0 });
    w.start();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(said).toEqual([]);
    expect(hangups).toEqual([]);
    const only = watch({ repromptMs: 0, hangupMs: 5_000 });
    only.w.start();
    await vi.advanceTimersByTimeAsync(5_500);
    expect(only.said).toEqual([]);
    expect(only.hangups).toEqual([IDLE_REASON]);
  });

  it('the longest call says its goodbye after what is queued and hangs up with reason max-length, even mid-conversation', async () => {
    vi.useFakeTimers();
    const { w, goodbyes, hangups, agent } = watch({ repromptMs: 0, hangupMs: 0, maxCallMs: 60_000 });
    agent.idle = false;
    w.start();
    w.callerSpeaking();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(hangups).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(goodbyes).toEqual(['Bye long.']);
    expect(hangups).toEqual([MAX_LENGTH_REASON]);
  });

  it('a goodbye that never finishes playing still ends the call', async () => {
    vi.useFakeTimers();
    const { w, hangups } = watch({ repromptMs: 0, hangupMs: 1_000, finalWords: () => new Promise(() => {}), goodbyeTimeoutMs: 5_000 });
    w.start();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(hangups).toEqual([]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(hangups).toEqual([IDLE_REASON]);
  });

  it('stopped (the call ended): nothing more happens', async () => {
    vi.useFakeTimers();
    const { w, said, hangups } = watch({ maxCallMs: 10_000 });
    w.start();
    w.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(said).toEqual([]);
    expect(hangups).toEqual([]);
  });
});

const agentLines = (t: TestCore, callSid: string) =>
  t.events.filter((e): e is EventOf<'transcript'> => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid);
const endedOf = (t: TestCore, callSid: string) => t.events.find((e): e is EventOf<'call.ended'> => e.type === 'call.ended' && e.callSid === callSid);

describe('idle caller through the real server', () => {
  let t: TestCore | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('a silent caller is asked once (not before the reprompt time), then hears the goodbye and the stream closes with reason idle', async () => {
    t = await startTestCore({ greeting: '', idleRepromptMs: 300, idleHangupMs: 2_500, idlePrompt: 'Are you still there?', idleGoodbye: 'Goodbye for now.' }, { callTimeouts: { endGraceMs: 200 } });
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    const connectedAt = Date.now();
    const closed = caller.waitFor<number>('close', 20_000);
    await until(() => agentLines(t!, caller.callSid).some((e) => e.text === 'Are you still there?'), 'the idle question', 5_000);
    const asked = agentLines(t, caller.callSid).find((e) => e.text === 'Are you still there?')!;
    expect(asked.at - connectedAt).toBeGreaterThanOrEqual(250);
    expect(await closed).toBe(1000);
    const lines = agentLines(t, caller.callSid).map((e) => e.text);
    expect(lines).toEqual(['Are you still there?', 'Goodbye for now.']);
    await until(() => endedOf(t!, caller.callSid) !== undefined, 'call.ended');
    expect(endedOf(t, caller.callSid)).toMatchObject({ reason: 'idle' });
    // The caller heard both lines (agent audio arrived) and the protocol was kept.
    expect(caller.received.filter((r) => r.msg.event === 'media').length).toBeGreaterThan(10);
    expect(caller.protocolViolations).toEqual([]);
  });

  it('a caller who speaks is answered, and the silence counts only from when the agent is done', async () => {
    // A quick test voice: how long the answer plays is not the point, only that the clock waits for its end.
    t = await startTestCore({ greeting: '', idleRepromptMs: 300, idleHangupMs: 0, idlePrompt: 'Are you still there?', pluginSettings: { 'test-tts': { msPerChar: 10 } } });
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t!.core.calls().some((c) => c.callSid === caller.callSid), 'the call to start');
    await caller.sayWav(AUDIO('yes.wav'));
    await until(() => agentLines(t!, caller.callSid).some((e) => e.text === 'Are you still there?'), 'the idle question', 15_000);
    const lines = agentLines(t, caller.callSid);
    const askedIdx = lines.findIndex((e) => e.text === 'Are you still there?');
    // The caller's turn was answered first, and the question came after the answer ended plus the silence.
    expect(askedIdx).toBeGreaterThan(0);
    const states = t.events.filter((e): e is EventOf<'call.state'> => e.type === 'call.state' && e.callSid === caller.callSid && e.at <= lines[askedIdx]!.at);
    const askStart = states.findLastIndex((e) => e.state !== 'listening');
    const quietFrom = states.slice(0, askStart).findLast((e) => e.state === 'listening')!;
    expect(askStart).toBeGreaterThan(0);
    expect(states[askStart]!.at - quietFrom.at).toBeGreaterThanOrEqual(250);
    expect(endedOf(t, caller.callSid)).toBeUndefined();
    await caller.hangup();
  });

  it('--max-call-ms ends a call with its goodbye and reason max-length', async () => {
    t = await startTestCore({ greeting: '', idleRepromptMs: 0, idleHangupMs: 0, maxCallMs: 1_000, maxCallGoodbye: 'Time is up, goodbye.' }, { callTimeouts: { endGraceMs: 200 } });
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    const connectedAt = Date.now();
    expect(await caller.waitFor<number>('close', 20_000)).toBe(1000);
    expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(900);
    expect(agentLines(t, caller.callSid).map((e) => e.text)).toEqual(['Time is up, goodbye.']);
    await until(() => endedOf(t!, caller.callSid) !== undefined, 'call.ended');
    expect(endedOf(t, caller.callSid)).toMatchObject({ reason: 'max-length' });
  });
});
