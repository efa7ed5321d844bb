/**
 * Turn-taking through the real server, as a caller notices it: a turn model that ends the turn early or holds
 * it until the silence, one that fails (the call goes on, on silence), and preemptive replies that are prepared
 * during a pause and leave no trace when the caller goes on talking. Backchannels: backchannel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { until } from '../../helpers/core.ts';
import { coresPerTest, metricsOf, ofType, oneTurn, predictions, short8k } from '../../helpers/turns.ts';

// How long the agent talks is not what these tests are about: a quick voice keeps each turn short.
const start = coresPerTest({ 'test-tts': { msPerChar: 10 } });

describe('a turn model', () => {
  it('ends the turn as soon as it says "complete", long before the silence would', async () => {
    const core = await start({ turn: 'test-turn', silenceMs: 2_500, turnMinMs: 200, pluginSettings: { 'test-turn': { complete: 0.9 } } });
    const caller = await oneTurn(core, short8k());
    await until(() => metricsOf(core, caller.callSid).length === 1, 'turn metrics');
    const m = metricsOf(core, caller.callSid)[0]!;
    expect(m.endedBy).toBe('turn-model');
    expect(m.turnProbability).toBeCloseTo(0.9);
    expect(m.turnModelMs).toBeGreaterThanOrEqual(0);
    // On the call's audio clock: asked at ≥ 200 ms of silence, and the turn ended well before the 2.5 s.
    expect(m.endpointMs).toBeGreaterThanOrEqual(200);
    expect(m.endpointMs).toBeLessThan(2_500);
    const asked = predictions(core, caller.callSid);
    expect(asked.length).toBeGreaterThanOrEqual(1);
    expect(asked[0]).toMatchObject({ callSid: caller.callSid });
    expect(ofType(core, 'call.started', caller.callSid)[0]!.plugins).toMatchObject({ turn: 'test-turn' });
    await caller.hangup();
  });

  it('holds an "incomplete" turn until the silence, asking again as the pause grows', async () => {
    const core = await start({ turn: 'test-turn', silenceMs: 1_200, turnMinMs: 200, pluginSettings: { 'test-turn': { complete: 0.2 } } });
    const caller = await oneTurn(core, short8k());
    await until(() => metricsOf(core, caller.callSid).length === 1, 'turn metrics');
    const m = metricsOf(core, caller.callSid)[0]!;
    expect(m.endedBy).toBe('silence');
    expect(m.turnProbability).toBeCloseTo(0.2);
    expect(m.endpointMs).toBeGreaterThanOrEqual(1_200);
    // Asked at 200 ms of silence and again every 150 ms more while the answer was "no".
    expect(predictions(core, caller.callSid).length).toBeGreaterThanOrEqual(2);
    // A model that answers "not yet" has not failed, even with a late question still out when the silence ran out.
    expect(core.logs.filter((r) => r.callSid === caller.callSid && /turn model failed/.test(r.msg))).toHaveLength(0);
    await caller.hangup();
  });

  for (const mode of ['throw', 'hang', 'garbage'] as const) {
    it(`that ${mode}s leaves the turn to the silence, says so once per call, and the call goes on`, async () => {
      const core = await start({ turn: 'test-turn', silenceMs: 700, turnMinMs: 200, pluginSettings: { 'test-turn': { mode } } });
      const caller = await oneTurn(core, short8k());
      const again = caller.waitFor('agent-start', 20_000);
      await caller.say(short8k());
      await again;
      await caller.waitForAgentSilence(300, 20_000);
      await until(() => metricsOf(core, caller.callSid).length === 2, 'two turns answered');
      for (const m of metricsOf(core, caller.callSid)) {
        expect(m.endedBy).toBe('silence');
        expect(m.turnProbability).toBeNull();
        expect(m.endpointMs).toBeGreaterThanOrEqual(700);
      }
      const warnings = core.logs.filter((r) => r.callSid === caller.callSid && /turn model failed/.test(r.msg));
      expect(warnings).toHaveLength(1);
      expect(ofType(core, 'call.ended', caller.callSid)).toHaveLength(0);
      await caller.hangup();
    }, 120_000);
  }

  it('is not asked at all with --turn none', async () => {
    const core = await start({ turn: 'none', silenceMs: 700 });
    const caller = await oneTurn(core, short8k());
    await until(() => metricsOf(core, caller.callSid).length === 1, 'turn metrics');
    expect(metricsOf(core, caller.callSid)[0]!.endedBy).toBe('silence');
    expect(predictions(core, caller.callSid)).toHaveLength(0);
    expect(ofType(core, 'call.started', caller.callSid)[0]!.plugins.turn).toBeUndefined();
    await caller.hangup();
  });
});

describe('preemptive replies', () => {
  it('send the reply prepared during the pause as soon as the turn ends', async () => {
    const core = await start({ silenceMs: 900, speculativeMs: 200, pluginSettings: { 'test-llm': { mode: 'history' } } });
    const caller = await oneTurn(core, short8k());
    await until(() => metricsOf(core, caller.callSid).length === 1, 'turn metrics');
    const m = metricsOf(core, caller.callSid)[0]!;
    expect(m.preemptive).toBe(true);
    expect(core.logs.some((r) => r.callSid === caller.callSid && r.msg === 'preparing a reply during the pause')).toBe(true);
    await caller.hangup();
  });

  it('leave nothing audible and nothing in the history when the caller goes on after the pause', async () => {
    const core = await start({ silenceMs: 1_500, speculativeMs: 200, pluginSettings: { 'test-llm': { mode: 'history' } } });
    const caller = await TwilioCaller.connect({ url: core.wsUrl });
    await caller.waitFor('agent-start', 10_000);
    await caller.waitForAgentSilence(300, 20_000);
    const burstsBefore = caller.bursts.length;
    const marksBefore = caller.marksReceived.length;
    // A pause long enough for the whole reply to be prepared (the test plugins are instant), shorter than the silence.
    await caller.say(short8k());
    await caller.silence(700);
    await until(() => core.logs.some((r) => r.callSid === caller.callSid && r.msg === 'preparing a reply during the pause'), 'a prepared reply');
    const reply = caller.waitFor('agent-start', 20_000);
    await caller.say(short8k());
    await reply;
    await caller.waitForAgentSilence(300, 20_000);
    await until(() => metricsOf(core, caller.callSid).length === 1, 'turn metrics');

    expect(core.logs.some((r) => r.callSid === caller.callSid && r.msg === 'prepared reply dropped: the caller went on')).toBe(true);
    // One reply, to the whole turn: one burst, one caller transcript, and the LLM never heard of the dropped one.
    expect(caller.bursts.length).toBe(burstsBefore + 1);
    const said = ofType(core, 'transcript', caller.callSid).filter((e) => e.role === 'caller');
    expect(said).toHaveLength(1);
    const agent = ofType(core, 'transcript', caller.callSid).filter((e) => e.role === 'agent' && e.final);
    expect(agent).toHaveLength(2);
    expect(agent[1]!.text).toMatch(/^I remember 1 replies: Hi\.\. Users said: caller spoke for [\d.]+ seconds\.$/);
    // Only the reply's own marks reached the caller, each once.
    const newMarks = caller.marksReceived.slice(marksBefore);
    expect(new Set(newMarks.map((n) => n.split('.')[0])).size).toBe(1);
    expect(caller.protocolViolations).toEqual([]);
    await caller.hangup();
  }, 120_000);

  it('are off with --preemptive false: the reply starts only once the turn has ended', async () => {
    const core = await start({ silenceMs: 700, speculativeMs: 200, preemptive: false });
    const caller = await oneTurn(core, short8k());
    await until(() => metricsOf(core, caller.callSid).length === 1, 'turn metrics');
    expect(metricsOf(core, caller.callSid)[0]!.preemptive).toBe(false);
    expect(core.logs.some((r) => r.callSid === caller.callSid && r.msg === 'preparing a reply during the pause')).toBe(false);
    await caller.hangup();
  });
});
