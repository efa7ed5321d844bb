/**
 * Backchannels through the real server: an "mm-hm" over the agent stops playback and the reply goes on where
 * hearing stopped; a real interruption is not resumed; `--backchannel false` makes any sound a barge-in.
 */
import { describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { until, type TestCore } from '../../helpers/core.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { coresPerTest, ofType, short8k } from '../../helpers/turns.ts';

const start = coresPerTest();

describe('backchannels', () => {
  const GREETING = 'Thanks for calling. I will read you our opening hours for every day of the week, starting with Monday and Tuesday.';

  // The test voice's speed: the first clause ("Thanks for calling.", 19 characters) plays for 570 ms, the second
  // (95 characters) until 3.4 s. The caller speaks at 1 s: well after the first and long before the second ends.
  const MS_PER_CHAR = 30;
  const SPEAK_AT_MS = 1_000;

  /** Say "yes" over the greeting once its first clause has played; then one real turn. */
  async function overTheGreeting(core: TestCore): Promise<TwilioCaller> {
    const caller = await TwilioCaller.connect({ url: core.wsUrl });
    const started = await caller.waitFor<{ start: number }>('agent-start', 10_000);
    await caller.silence(SPEAK_AT_MS - (performance.now() - started.start));
    const cleared = caller.waitFor('clear', 10_000);
    await caller.say(short8k());
    await cleared;
    await caller.waitForAgentSilence(1_500, 60_000);
    const reply = caller.waitFor('agent-start', 20_000);
    await caller.say(short8k()); // a real turn: the agent is silent, so nothing makes it a backchannel
    await reply;
    await caller.waitForAgentSilence(400, 30_000);
    await caller.hangup();
    await until(() => ofType(core, 'call.ended', caller.callSid).length === 1, 'call.ended');
    return caller;
  }
  const agentFinals = (core: TestCore, sid: string) =>
    ofType(core, 'transcript', sid).filter((e): e is Extract<EventOf<'transcript'>, { role: 'agent' }> => e.role === 'agent' && e.final);

  it('an "mm-hm" over the agent stops playback, then the reply goes on where hearing stopped, and the LLM keeps it whole', async () => {
    const core = await start({ greeting: GREETING, silenceMs: 700, pluginSettings: { 'test-tts': { msPerChar: MS_PER_CHAR }, 'test-stt': { text: 'Yeah.' }, 'test-llm': { mode: 'history' } } });
    const caller = await overTheGreeting(core);
    const greet = agentFinals(core, caller.callSid).find((e) => e.turnId === 0)!;
    expect(greet).toMatchObject({ text: GREETING, heard: GREETING, interrupted: false });
    expect(ofType(core, 'call.backchannel', caller.callSid)).toMatchObject([{ turnId: 0, text: 'Yeah.' }]);
    expect(ofType(core, 'call.interrupted', caller.callSid)).toHaveLength(0);
    // The backchannel is not a turn: the only caller turn is the real one after it.
    expect(ofType(core, 'transcript', caller.callSid).filter((e) => e.role === 'caller')).toHaveLength(1);
    const next = agentFinals(core, caller.callSid).find((e) => e.turnId === 1)!;
    expect(next.text).toBe(`I remember 1 replies: ${GREETING}. Users said: Yeah..`);
    // The second clause was sent twice: once before the clear, once after; its mark was confirmed after the resume.
    expect(caller.clears.length).toBe(1);
    expect(caller.marksEchoed.filter((m) => !m.afterClear).map((m) => m.name)).toEqual(expect.arrayContaining(['t0.0', 't0.1r1']));
  }, 120_000);

  it('a real interruption is not resumed: heard-only history, and the turn is answered', async () => {
    const core = await start({ greeting: GREETING, silenceMs: 700, pluginSettings: { 'test-tts': { msPerChar: MS_PER_CHAR }, 'test-llm': { mode: 'history' } } });
    const caller = await overTheGreeting(core);
    const greet = agentFinals(core, caller.callSid).find((e) => e.turnId === 0)!;
    expect(greet).toMatchObject({ text: GREETING, heard: 'Thanks for calling.', interrupted: true });
    expect(ofType(core, 'call.backchannel', caller.callSid)).toHaveLength(0);
    expect(ofType(core, 'call.interrupted', caller.callSid)).toMatchObject([{ source: 'barge-in', turnId: 0 }]);
    // One clear for the interruption: playback stopped when the caller began, and the cancel later sends no second.
    expect(caller.clears).toHaveLength(1);
    const said = ofType(core, 'transcript', caller.callSid).filter((e) => e.role === 'caller');
    expect(said).toHaveLength(2);
    const answers = agentFinals(core, caller.callSid).filter((e) => e.turnId > 0);
    expect(answers[0]!.text).toMatch(/^I remember 1 replies: Thanks for calling\. —\. Users said: caller spoke for/);
  }, 120_000);

  it('with --backchannel false, the same "yeah" interrupts as any barge-in', async () => {
    const core = await start({ greeting: GREETING, silenceMs: 700, backchannel: false, pluginSettings: { 'test-tts': { msPerChar: MS_PER_CHAR }, 'test-stt': { text: 'Yeah.' } } });
    const caller = await overTheGreeting(core);
    const greet = agentFinals(core, caller.callSid).find((e) => e.turnId === 0)!;
    expect(greet.interrupted).toBe(true);
    expect(ofType(core, 'call.backchannel', caller.callSid)).toHaveLength(0);
  }, 120_000);
});
