/**
 * A plugin that throws, hangs, blocks its thread or yields garbage ends that turn — with a spoken apology
 * when the voice still works — never the call, and never the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { AUDIO, pluginsWarm, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const APOLOGY = 'Sorry, something went wrong there.';

describe('plugin failures during a call', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '', apology: APOLOGY, pluginTimeoutMs: 1_500, vad: 'silero' });
  });
  afterAll(async () => {
    await t.stop();
  });

  async function callWith(plugin: 'test-stt' | 'test-llm' | 'test-tts', settings: Record<string, unknown>) {
    t.core.plugins.setSettings(plugin, settings);
    await pluginsWarm(t.core);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.sayWav(AUDIO('yes.wav'));
    await until(() => t.events.some((e) => e.type === 'call.error' && e.callSid === caller.callSid), 'call.error', 8_000);
    await caller.silence(600);
    await caller.waitForAgentSilence(300, 8_000);
    // The call is still up: a second turn is heard and answered (the same failing plugin fails again, politely).
    const still = t.core.calls().some((c) => c.callSid === caller.callSid);
    await caller.hangup();
    t.core.plugins.setSettings(plugin, {});
    await pluginsWarm(t.core);
    const error = t.events.find((e) => e.type === 'call.error' && e.callSid === caller.callSid) as EventOf<'call.error'>;
    const agent = t.events
      .filter((e): e is EventOf<'transcript'> => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === caller.callSid)
      .map((e) => e.text);
    return { caller, error, agent, still };
  }

  it.each([
    ['test-llm', { failMode: 'throw' }, 'PLUGIN_FAILED', /test-llm exploded on purpose/],
    ['test-llm', { failMode: 'hang' }, 'PLUGIN_TIMEOUT', /test-llm did not produce text within 1500 ms/],
    ['test-llm', { failMode: 'garbage' }, 'PLUGIN_GARBAGE', /test-llm yielded object instead of a text delta/],
    ['test-stt', { failMode: 'throw' }, 'PLUGIN_FAILED', /test-stt exploded on purpose/],
    ['test-stt', { failMode: 'garbage' }, 'PLUGIN_GARBAGE', /test-stt returned number instead of \{ text: string \}/],
    ['test-stt', { failMode: 'block' }, 'PLUGIN_TIMEOUT', /test-stt did not transcribe within 1500 ms/],
  ] as const)('%s %j: apologises out loud, reports %s, keeps the call', async (plugin, settings, code, message) => {
    const { caller, error, agent, still } = await callWith(plugin, settings);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(agent).toEqual([APOLOGY]);
    expect(caller.bursts.length).toBeGreaterThanOrEqual(1);
    expect(still).toBe(true);
  });

  it('a failing voice is reported, not apologised for (it could not be heard)', async () => {
    const { error, agent, still, caller } = await callWith('test-tts', { failMode: 'bad-rate' });
    expect(error.code).toBe('PLUGIN_GARBAGE');
    expect(error.message).toMatch(/test-tts yielded audio with sampleRate -1/);
    expect(agent).toHaveLength(1); // the LLM's text, recorded as not heard
    expect(caller.bursts).toHaveLength(0);
    expect(still).toBe(true);
  });

  it('an LLM that fails midway: what it said is spoken, the failure is reported', async () => {
    const { error, agent } = await callWith('test-llm', { failMode: 'throw-midway' });
    expect(error.message).toMatch(/failed midway/);
    expect(agent).toHaveLength(1);
    expect(agent[0]).toMatch(/^You said:/);
  });

  it('the server is still healthy afterwards', async () => {
    const health = await (await fetch(`${t.url}/health`)).json();
    expect(health).toMatchObject({ ok: true, calls: 0 });
  });
});
