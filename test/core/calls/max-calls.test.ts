/**
 * Admission control (issue 17): with `--max-calls 1`, a second simultaneous call hears the bundled "all lines
 * are busy" notice (media frames, then a mark), and once its mark is echoed the stream is closed — which ends a
 * <Connect><Stream> call — with `call.ended` reason "busy", no plugin taken; the first call is untouched and
 * goes on taking turns. /status shows the lines in use against capacity, and the call records say why the
 * refused call ended.
 */
import { existsSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BUSY_MARK, BUSY_NOTICE_WAV, loadBusyNotice } from '../../../main/core/calls/busy-notice.ts';
import { CallRegistry, type LiveSession } from '../../../main/core/calls/call-registry.ts';
import { callCapacity } from '../../../main/core/config.ts';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { StatusBoard } from '../../../main/core/status-board.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../../helpers/fake-twilio.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const ended = (t: TestCore, callSid: string) => t.events.filter((e): e is EventOf<'call.ended'> => e.type === 'call.ended' && e.callSid === callSid);
const agentFinals = (t: TestCore, callSid: string) => t.events.filter((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid);

describe('the bundled busy notice', () => {
  it('is a small 8 kHz clip of a few seconds, found from the app root', () => {
    expect(existsSync(BUSY_NOTICE_WAV)).toBe(true);
    expect(statSync(BUSY_NOTICE_WAV).size).toBeLessThan(64 * 1024);
    const frames = loadBusyNotice();
    expect(frames.length * 20).toBeGreaterThan(1_500);
    expect(frames.length * 20).toBeLessThan(8_000);
    for (const f of frames) expect(f.length).toBe(160);
  });

  it('the default capacity is conservative: 2 on 2–4 cores, one per 2 cores above, at most 8', () => {
    expect([1, 2, 4, 6, 8, 16, 64].map((cores) => callCapacity(0, cores))).toEqual([2, 2, 2, 3, 4, 8, 8]);
    expect(callCapacity(5, 2)).toBe(5);
  });
});

describe('lines in use', () => {
  const session = (callSid: string, busy = false): LiveSession => ({
    callSid, streamSid: 'MZ' + callSid, direction: 'inbound', from: null, to: null, startedAt: 0, state: 'listening',
    plugins: { stt: 'a', llm: 'b', tts: 'c' }, ...(busy ? { busy: true } : {}), interrupt() {}, end() {},
  });

  it('counts the calls being served, not the busy notices, and the status board reports them against capacity', () => {
    const calls = new CallRegistry({ emit: () => {}, log: createLogger({ sinks: [memorySink()] }), publicUrl: () => '' });
    const board = new StatusBoard(() => {}, { calls: () => ({ inUse: calls.inUse, capacity: callCapacity(1) }) });
    expect(board.get().calls).toEqual({ inUse: 0, capacity: 1 });
    const served = session('CA1');
    calls.streamStarted(served);
    calls.streamStarted(session('CA2', true));
    expect(calls.inUse).toBe(1);
    expect(calls.streams).toBe(2);
    expect(calls.live().map((c) => c.callSid)).toEqual(['CA1']);
    expect(board.get().calls).toEqual({ inUse: 1, capacity: 1 });
    calls.streamEnded(served);
    expect(board.get().calls).toEqual({ inUse: 0, capacity: 1 });
    // A board without the registry (older wiring) just leaves the field out.
    expect(new StatusBoard(() => {}).get().calls).toBeUndefined();
    calls.stop();
  });
});

describe('--max-calls 1', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '', maxCalls: 1 }, { callTimeouts: { endGraceMs: 200 } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('a second call hears the busy notice and is ended cleanly; the first call goes on taking turns', async () => {
    const first = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.core.calls().some((c) => c.callSid === first.callSid && c.streamSid), 'first call to start');
    await first.sayWav(AUDIO('hello.wav'));
    await first.waitFor('agent-start', 10_000);

    const acquire = vi.spyOn(t.core.plugins, 'acquire');
    const acquireOptional = vi.spyOn(t.core.plugins, 'acquireOptional');
    const second = await TwilioCaller.connect({ url: t.wsUrl, from: '+15557770000' });
    const closed = second.waitFor<number>('close', 20_000);
    // Audio arrives at once: never dead air.
    await second.waitFor('media', 5_000);
    const code = await closed;

    expect(code).toBe(1000);
    expect(second.protocolViolations).toEqual([]);
    const media = second.received.filter((r) => r.msg.event === 'media');
    expect(media.length).toBe(loadBusyNotice().length);
    // The notice's mark came after the audio, and the stream closed only once it was echoed (heard).
    expect(second.received.at(-1)!.msg).toMatchObject({ event: 'mark', mark: { name: BUSY_MARK } });
    expect(second.marksEchoed.map((m) => m.name)).toEqual([BUSY_MARK]);
    await until(() => ended(t, second.callSid).length === 1, 'call.ended for the busy call');
    expect(ended(t, second.callSid)[0]).toMatchObject({ reason: 'busy' });
    // No plugin was taken for it, no model ran, and it never counted as a call in use.
    expect(acquire).not.toHaveBeenCalled();
    expect(acquireOptional).not.toHaveBeenCalled();
    expect(t.events.some((e) => e.type === 'call.started' && e.callSid === second.callSid)).toBe(false);
    expect(t.events.some((e) => (e.type === 'transcript' || e.type === 'call.state') && e.callSid === second.callSid)).toBe(false);
    expect(t.events.find((e) => e.type === 'call.error' && e.callSid === second.callSid)).toMatchObject({ code: 'BUSY', message: expect.stringMatching(/all 1 lines were busy/) });
    expect(t.logs.some((l) => l.msg.startsWith('call refused: all 1 lines are busy (PARLEY_MAX_CALLS = 1)'))).toBe(true);
    acquire.mockRestore();
    acquireOptional.mockRestore();

    // The first call is untouched: still live, and it answers the next turn.
    expect(ended(t, first.callSid)).toEqual([]);
    expect(t.core.calls().map((c) => c.callSid)).toEqual([first.callSid]);
    await first.waitForAgentSilence(400);
    const answersBefore = agentFinals(t, first.callSid).length;
    await first.sayWav(AUDIO('question.wav'));
    await until(() => agentFinals(t, first.callSid).length > answersBefore, 'the first call to answer its next turn', 15_000);
    expect(first.protocolViolations).toEqual([]);

    // The refused call's record says why it ended, and the explanation is kept with it.
    await until(() => t.core.records?.get(second.callSid)?.endReason === 'busy', 'the busy call to be recorded');
    await until(() => t.core.records!.get(second.callSid)!.events.some((e) => JSON.stringify(e).includes('all 1 lines were busy')), 'the busy explanation to be recorded');

    await first.hangup();
    await until(() => ended(t, first.callSid).length === 1, 'first call to end');
    // A line is free again: the next call is served.
    const third = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === third.callSid), 'third call to be served');
    await third.hangup();
    await until(() => ended(t, third.callSid).length === 1, 'third call to end');
  }, 60_000);

  it('a caller who hangs up during the notice ends it at once, still recorded as busy', async () => {
    const first = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === first.callSid), 'first call to start');
    const second = await TwilioCaller.connect({ url: t.wsUrl });
    await second.waitFor('media', 5_000);
    await second.hangup();
    await until(() => ended(t, second.callSid).length === 1, 'call.ended for the busy call');
    expect(ended(t, second.callSid)[0]!.reason).toMatch(/^busy: /);
    expect(t.core.calls().map((c) => c.callSid)).toEqual([first.callSid]);
    await first.hangup();
    await until(() => ended(t, first.callSid).length === 1, 'first call to end');
  }, 30_000);

  it('/status shows the calls in use against capacity', async () => {
    const get = async () => (await (await fetch(`${t.url}/status`, { headers: t.auth })).json()) as { calls?: { inUse: number; capacity: number } };
    await until(() => t.core.calls().length === 0, 'no calls left');
    expect((await get()).calls).toMatchObject({ inUse: 0, capacity: 1 });
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === caller.callSid), 'call to start');
    expect((await get()).calls).toMatchObject({ inUse: 1, capacity: 1 });
    await caller.hangup();
  }, 30_000);
});

describe('--max-calls 1 with Twilio set up', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    // Signature checks off: the simulated streams are unsigned; the REST API is what this is about.
    t = await startTestCore(
      { twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, validateSignatures: false, greeting: '', maxCalls: 1 },
      { twilioApiUrl: fake.url, callTimeouts: { endGraceMs: 200 } },
    );
  });
  afterAll(async () => {
    await t.stop();
    await fake.stop();
  });

  it('also completes the busy call through the REST API once the notice was heard', async () => {
    const first = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === first.callSid), 'first call to start');
    const second = await TwilioCaller.connect({ url: t.wsUrl });
    expect(await second.waitFor<number>('close', 20_000)).toBe(1000);
    const hangup = () => fake.requests.find((r) => r.method === 'POST' && r.path.endsWith(`/Calls/${second.callSid}.json`));
    await until(() => hangup() !== undefined, 'the REST hang-up of the busy call');
    expect(hangup()!.form.get('Status')).toBe('completed');
    expect(fake.requests.some((r) => r.path.includes(first.callSid))).toBe(false);
    expect(ended(t, second.callSid)[0]).toMatchObject({ reason: 'busy' });
    await first.hangup();
  }, 30_000);
});

describe('POST /calls with every line busy', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    t = await startTestCore(
      { twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, publicUrl: 'https://parley.example.com', validateSignatures: false, greeting: '', maxCalls: 1 },
      { twilioApiUrl: fake.url, callTimeouts: { endGraceMs: 200, streamMs: 1_000 } },
    );
  });
  afterAll(async () => {
    await t.stop();
    await fake.stop();
  });

  const dial = () => fetch(`${t.url}/calls`, { method: 'POST', body: JSON.stringify({ to: '+15551230001' }), headers: { ...t.auth, 'content-type': 'application/json' } });
  const creates = () => fake.requests.filter((r) => r.method === 'POST' && /\/Calls\.json$/.test(r.path)).length;

  it('answers 409 LINES_BUSY and dials nothing; once the line is free it dials', async () => {
    const first = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === first.callSid), 'first call to start');
    const before = creates();
    const res = await dial();
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('LINES_BUSY');
    expect(body.error.message).toMatch(/all 1 line is busy \(1 call in progress\): no call was placed\. Try again when a call ends, or raise --max-calls/);
    expect(creates()).toBe(before);
    // The call in progress is untouched.
    expect(t.core.calls().map((c) => c.callSid)).toEqual([first.callSid]);

    await first.hangup();
    await until(() => ended(t, first.callSid).length === 1, 'first call to end');
    const again = await dial();
    expect(again.status).toBe(200);
    expect(creates()).toBe(before + 1);
  }, 30_000);
});
