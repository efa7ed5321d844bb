/**
 * The protocol suite: drives the real server (HTTP + /media WebSocket + plugin workers) exactly like Twilio
 * does, with real speech fixtures, and checks what a caller would notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { readWav } from '../../../main/core/audio/wav.ts';
import type { CoreEvent, EventOf } from '../../../main/core/event-bus.ts';
import { AUDIO, startTestCore, until, type TestCore, pluginsWarm } from '../../helpers/core.ts';

const agentFinals = (t: TestCore, callSid: string) =>
  t.events.filter((e): e is Extract<EventOf<'transcript'>, { role: 'agent' }> => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid);
const callerFinals = (t: TestCore, callSid: string) => t.events.filter((e) => e.type === 'transcript' && e.role === 'caller' && e.callSid === callSid) as EventOf<'transcript'>[];
const ofType = <T extends CoreEvent['type']>(t: TestCore, type: T, callSid?: string) =>
  t.events.filter((e) => e.type === type && (!callSid || (e as { callSid?: string }).callSid === callSid)) as EventOf<T>[];

/** What Twilio had buffered at each arrival: audio received minus audio played since the burst began. */
function maxBufferedMs(caller: TwilioCaller): number {
  let max = 0;
  let burstStart = 0;
  let frames = 0;
  let last = -Infinity;
  for (const a of caller.mediaArrivals) {
    if (a.at - last > 100 && a.at - burstStart > frames * 20 + 100) {
      burstStart = a.at;
      frames = 0;
    }
    frames += a.bytes / 160;
    last = a.at;
    max = Math.max(max, frames * 20 - (a.at - burstStart));
  }
  return max;
}

describe('Twilio Media Streams protocol', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: 'Hello there caller, thanks for calling Parley today.', vad: 'silero' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('greets, takes turns, confirms with marks, and speaks only media/mark/clear with its streamSid', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    const greeting = await caller.waitFor<{ start: number }>('agent-start', 5_000);
    expect(greeting.start - caller.startedAt).toBeLessThan(1_500);
    await caller.waitForAgentSilence(400);
    await caller.sayWav(AUDIO('hello.wav'));
    const reply = await caller.waitFor<{ firstArrival: number }>('agent-start', 5_000);
    await caller.waitForAgentSilence(400);
    await caller.hangup();
    await until(() => ofType(t, 'call.ended', caller.callSid).length === 1, 'call.ended');

    // Only media, mark and clear, all with this call's streamSid, μ-law 20 ms frames without a WAV header.
    expect(caller.protocolViolations).toEqual([]);
    const media = caller.received.filter((r) => r.msg.event === 'media');
    expect(media.length).toBeGreaterThan(50);
    for (const m of media) expect(Buffer.from((m.msg.media as { payload: string }).payload, 'base64').length).toBe(160);
    // A mark after every spoken piece, each echoed once it had played.
    expect(caller.marksReceived.length).toBeGreaterThanOrEqual(2);
    expect(caller.marksEchoed.map((m) => m.name)).toEqual(caller.marksReceived);

    const started = ofType(t, 'call.started', caller.callSid)[0]!;
    expect(started).toMatchObject({ streamSid: caller.streamSid, direction: 'inbound', from: '+15550001111', plugins: { stt: 'test-stt', llm: 'test-llm', tts: 'test-tts' } });
    const [greet, answer] = agentFinals(t, caller.callSid);
    expect(greet).toMatchObject({ turnId: 0, text: 'Hello there caller, thanks for calling Parley today.', heard: 'Hello there caller, thanks for calling Parley today.', interrupted: false });
    const said = callerFinals(t, caller.callSid);
    expect(said).toHaveLength(1);
    // hello.wav holds ~3.3 s of speech: the STT got that utterance, not the silence around it.
    const seconds = Number(/spoke for ([\d.]+)/.exec(said[0]!.text)![1]);
    expect(seconds).toBeGreaterThan(2.8);
    expect(seconds).toBeLessThan(4.5);
    expect(answer!.text).toBe(`You said: ${said[0]!.text}. Is there anything else I can help you with today?`);
    expect(answer!.heard).toBe(answer!.text);
    // The answer began after the caller stopped, within silenceMs plus a little engine time.
    const gap = reply.firstArrival - caller.utteranceEnds[0]!;
    expect(gap).toBeGreaterThan(400);
    expect(gap).toBeLessThan(1_500);
    const metrics = ofType(t, 'turn.metrics', caller.callSid)[0]!.metrics;
    expect(metrics.endpointMs).toBeGreaterThanOrEqual(600);
    expect(metrics.voiceToVoiceMs).not.toBeNull();
    expect(metrics.llmFirstTokenMs).not.toBeNull();
    const states = ofType(t, 'call.state', caller.callSid).map((e) => e.state);
    expect(states).toEqual(expect.arrayContaining(['listening', 'speaking', 'thinking']));
    expect(ofType(t, 'call.ended', caller.callSid)[0]!.reason).toBe('stop');
  });

  it('paces replies at real time: never more than 200 ms queued at Twilio', async () => {
    t.core.plugins.setSettings('test-tts', { msPerChar: 60 });
    await pluginsWarm(t.core);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 5_000);
    await caller.waitForAgentSilence(300, 20_000);
    await caller.hangup();
    t.core.plugins.setSettings('test-tts', {});
    await pluginsWarm(t.core);
    const frames = caller.mediaArrivals.length;
    expect(frames).toBeGreaterThan(80); // ~1.9 s of greeting
    expect(maxBufferedMs(caller)).toBeLessThanOrEqual(200);
    const span = caller.mediaArrivals.at(-1)!.at - caller.mediaArrivals[0]!.at;
    expect(span).toBeGreaterThan(frames * 20 - 250);
  });

  it('barge-in: caller speech clears Twilio, cancels the reply, and the LLM keeps only what was heard', async () => {
    t.core.plugins.setSettings('test-llm', { mode: 'history' });
    t.core.plugins.setSettings('test-tts', { msPerChar: 50 });
    await pluginsWarm(t.core);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    const started = await caller.waitFor<{ start: number }>('agent-start', 5_000);
    // Interrupt the greeting (two clauses, 0.95 s + 1.6 s at this rate) 1.2 s in: after its first clause was heard.
    await caller.silence(1_200 - (performance.now() - started.start));
    const speechStart = performance.now();
    const said = caller.sayWav(AUDIO('interrupt.wav'));
    await caller.waitFor('clear', 3_000);
    const clearAfter = caller.clears[0]! - speechStart;
    await said;
    // Then the next answer reveals what the LLM was told the agent had said.
    await caller.waitFor('agent-start', 5_000);
    await caller.waitForAgentSilence(400, 20_000);
    await caller.hangup();
    t.core.plugins.setSettings('test-llm', {});
    t.core.plugins.setSettings('test-tts', {});
    await pluginsWarm(t.core);

    expect(clearAfter).toBeGreaterThan(150); // not on the first noise
    expect(clearAfter).toBeLessThan(800);
    const greet = agentFinals(t, caller.callSid).find((e) => e.turnId === 0)!;
    expect(greet.interrupted).toBe(true);
    expect(greet.text).toBe('Hello there caller, thanks for calling Parley today.');
    expect(greet.heard).toBe('Hello there caller,');
    expect(ofType(t, 'call.interrupted', caller.callSid)).toMatchObject([{ source: 'barge-in', turnId: 0 }]);
    // Only the first clause's mark was echoed as played; nothing after the clear counted as heard.
    expect(caller.marksEchoed.filter((m) => !m.afterClear && m.name.startsWith('t0.')).map((m) => m.name)).toEqual(['t0.0']);
    const next = agentFinals(t, caller.callSid).find((e) => e.turnId === 1)!;
    expect(next.text).toContain('I remember 1 replies: Hello there caller, —.');
  });

  it('short sounds over the agent do not interrupt it', async () => {
    t.core.plugins.setSettings('test-tts', { msPerChar: 60 });
    await pluginsWarm(t.core);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 5_000);
    await caller.silence(300);
    const click = readWav(AUDIO('click.wav')).samples;
    await caller.say(click);
    await caller.silence(200);
    // 150 ms cut from real speech: shorter than the 250 ms barge-in minimum.
    const hello = readWav(AUDIO('hello.wav')).samples;
    await caller.say(hello.subarray(2_400, 2_400 + 1_200));
    await caller.waitForAgentSilence(300, 20_000);
    await caller.hangup();
    t.core.plugins.setSettings('test-tts', {});
    await pluginsWarm(t.core);
    expect(caller.clears).toEqual([]);
    expect(agentFinals(t, caller.callSid)[0]).toMatchObject({ turnId: 0, interrupted: false });
    expect(callerFinals(t, caller.callSid)).toEqual([]);
  });

  it('manual interrupt over HTTP clears even an idle call; unknown calls are a 404', async () => {
    t.core.plugins.setSettings('test-tts', { msPerChar: 60 });
    await pluginsWarm(t.core);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 5_000);
    const res = await fetch(`${t.url}/calls/${caller.callSid}/interrupt`, { method: 'POST', headers: t.auth });
    expect(res.status).toBe(200);
    await until(() => caller.clears.length === 1, 'clear', 1_000);
    await caller.waitForAgentSilence(200, 2_000);
    const again = await fetch(`${t.url}/calls/${caller.callSid}/interrupt`, { method: 'POST', headers: t.auth });
    expect(again.status).toBe(200);
    await until(() => caller.clears.length === 2, 'second clear');
    const missing = await fetch(`${t.url}/calls/CAnope/interrupt`, { method: 'POST', headers: t.auth });
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('CALL_NOT_FOUND');
    await caller.hangup();
    t.core.plugins.setSettings('test-tts', {});
    await pluginsWarm(t.core);
    expect(ofType(t, 'call.interrupted', caller.callSid).map((e) => e.source)).toEqual(['manual', 'manual']);
    expect(agentFinals(t, caller.callSid)[0]!.interrupted).toBe(true);
  });

  it('DTMF keys become events; stop ends the call and frees it', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.core.calls().some((c) => c.callSid === caller.callSid), 'live call');
    caller.dtmf('5');
    caller.dtmf('#');
    await until(() => ofType(t, 'call.dtmf', caller.callSid).length === 2, 'dtmf events');
    expect(ofType(t, 'call.dtmf', caller.callSid).map((e) => e.digit)).toEqual(['5', '#']);
    const live = await (await fetch(`${t.url}/calls`, { headers: t.auth })).json();
    expect(live.calls.map((c: { callSid: string }) => c.callSid)).toContain(caller.callSid);
    await caller.hangup();
    await until(() => !t.core.calls().some((c) => c.callSid === caller.callSid), 'call removed');
  });
});

describe('isolation and bad input', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '', vad: 'silero' }, {});
    t.core.plugins.setSettings('test-llm', { mode: 'history' });
    await pluginsWarm(t.core);
  });
  afterAll(async () => {
    await t.stop();
  });

  it('two simultaneous calls never hear or see each other', async () => {
    const [a, b] = await Promise.all([TwilioCaller.connect({ url: t.wsUrl, from: '+15550000001' }), TwilioCaller.connect({ url: t.wsUrl, from: '+15550000002' })]);
    const aAnswer = a.waitFor('agent-start', 10_000);
    const bAnswer = b.waitFor('agent-start', 10_000);
    await Promise.all([a.sayWav(AUDIO('hello.wav')), b.sayWav(AUDIO('yes.wav'))]);
    await Promise.all([aAnswer, bAnswer]);
    await Promise.all([a.waitForAgentSilence(400, 20_000), b.waitForAgentSilence(400, 20_000)]);
    await Promise.all([a.hangup(), b.hangup()]);
    expect(a.protocolViolations).toEqual([]);
    expect(b.protocolViolations).toEqual([]);
    const aSaid = callerFinals(t, a.callSid).map((e) => e.text);
    const bSaid = callerFinals(t, b.callSid).map((e) => e.text);
    expect(aSaid).toHaveLength(1);
    expect(bSaid).toHaveLength(1);
    expect(aSaid[0]).not.toBe(bSaid[0]);
    // Each LLM call saw only its own caller.
    expect(agentFinals(t, a.callSid)[0]!.text).toBe(`I remember 0 replies: none. Users said: ${aSaid[0]}.`);
    expect(agentFinals(t, b.callSid)[0]!.text).toBe(`I remember 0 replies: none. Users said: ${bSaid[0]}.`);
  });

  it('survives malformed input, logs why, and a concurrent call goes on untouched', async () => {
    const good = await TwilioCaller.connect({ url: t.wsUrl });
    const goodAnswer = good.waitFor('agent-start', 15_000);
    const speaking = good.sayWav(AUDIO('question.wav'));

    // Bad JSON, unknown events, binary frames, media before start, wrong stream ids: ignored and logged.
    const raw = new WebSocket(t.wsUrl);
    await new Promise((r) => raw.once('open', r));
    raw.send('{not json');
    raw.send(JSON.stringify({ event: 'media', streamSid: 'MZx', media: { payload: 'AAAA' } }));
    raw.send(JSON.stringify({ event: 'dance' }));
    raw.send(Buffer.from([1, 2, 3]), { binary: true });
    raw.send(JSON.stringify({ event: 'start', start: { callSid: 'CAraw', streamSid: 'MZraw', mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } }, streamSid: 'MZraw' }));
    raw.send(JSON.stringify({ event: 'media', streamSid: 'MZother', media: { payload: 'AAAA' } }));
    raw.send(JSON.stringify({ event: 'media', streamSid: 'MZraw', media: { payload: '!!!not base64!!!' } }));
    raw.send(JSON.stringify({ event: 'dtmf', streamSid: 'MZraw', dtmf: { digit: 'xyz' } }));
    await until(() => t.logs.some((l) => /is not base64/.test(l.msg)), 'bad payload logged');
    // A huge frame closes only that connection.
    const closed = new Promise<number>((r) => raw.once('close', (code) => r(code)));
    raw.send('x'.repeat(200_000));
    expect(await closed).toBe(1009);

    // Wrong encoding: refused with a clear log line and a close.
    const alaw = await TwilioCaller.connect({ url: t.wsUrl, mediaFormat: { encoding: 'audio/x-alaw', sampleRate: 8000, channels: 1 } });
    const alawClose = await alaw.waitFor<number>('close', 3_000);
    expect(alawClose).toBe(1003);

    // Abrupt close mid-call: the call ends, nothing else notices.
    const dropper = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.core.calls().some((c) => c.callSid === dropper.callSid), 'dropper live');
    dropper.drop();
    await until(() => ofType(t, 'call.ended', dropper.callSid).length === 1, 'dropped call ended');

    await speaking;
    await goodAnswer;
    await good.waitForAgentSilence(400, 20_000);
    await good.hangup();
    expect(good.protocolViolations).toEqual([]);
    expect(agentFinals(t, good.callSid)).toHaveLength(1);
    const logText = t.logs.map((l) => l.msg).join('\n');
    expect(logText).toMatch(/not JSON/);
    expect(logText).toMatch(/unknown event "dance"/);
    expect(logText).toMatch(/binary frame/);
    expect(logText).toMatch(/media before start/);
    expect(logText).toMatch(/this socket carries MZraw/);
    expect(logText).toMatch(/unsupported media format audio\/x-alaw.*audio\/x-mulaw 8000 Hz mono/);
    expect(ofType(t, 'call.ended', dropper.callSid)[0]!.reason).toBe('socket closed');
    const health = await (await fetch(`${t.url}/health`)).json();
    expect(health.ok).toBe(true);
  });
});
