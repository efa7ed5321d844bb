/**
 * What the turn-taking suites share (test/core/server/turn-taking.test.ts, backchannel.test.ts): events of one
 * call, the speech clips, a core per test with the Silero VAD (stopped after each), one caller turn.
 */
import { afterEach } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { readWav } from '../../main/core/audio/wav.ts';
import { resample } from '../../main/core/audio/resample.ts';
import type { Config } from '../../main/core/config.ts';
import type { CoreEvent, EventOf, TurnMetrics } from '../../main/core/event-bus.ts';
import { AUDIO, startTestCore, type TestCore } from './core.ts';

export const ofType = <T extends CoreEvent['type']>(t: TestCore, type: T, callSid?: string) =>
  t.events.filter((e) => e.type === type && (!callSid || (e as { callSid?: string }).callSid === callSid)) as EventOf<T>[];
export const metricsOf = (t: TestCore, callSid: string): TurnMetrics[] => ofType(t, 'turn.metrics', callSid).map((e) => e.metrics);
export const predictions = (t: TestCore, callSid: string) => t.logs.filter((r) => r.msg === 'predict' && r.callSid === callSid);

export const wav8k = (name: string) => {
  const w = readWav(AUDIO(name));
  return w.sampleRate === 8000 ? w.samples : resample(w.samples, w.sampleRate, 8000);
};
export const hello8k = () => wav8k('hello.wav');
/** A short turn (0.7 s): what the turn-taking tests need, at a fraction of the time. */
export const short8k = () => wav8k('yes.wav');

/**
 * `start(overrides)`: a core with a greeting and the Silero VAD, stopped after each test of the calling file.
 * `pluginDefaults` are plugin settings for every core of the file, under each test's own (per plugin, per key):
 * e.g. a faster test voice where how long the agent talks is not what the file tests.
 */
export function coresPerTest(pluginDefaults: Config['pluginSettings'] = {}): (overrides: Partial<Config>) => Promise<TestCore> {
  let t: TestCore | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });
  return async (overrides) => {
    const pluginSettings: Config['pluginSettings'] = { ...pluginDefaults };
    for (const [name, s] of Object.entries(overrides.pluginSettings ?? {})) pluginSettings[name] = { ...pluginDefaults[name], ...s };
    t = await startTestCore({ greeting: 'Hi.', vad: 'silero', ...overrides, pluginSettings });
    return t;
  };
}

/** One caller turn after the greeting; resolves once the reply has played. */
export async function oneTurn(core: TestCore, speech: Float32Array): Promise<TwilioCaller> {
  const caller = await TwilioCaller.connect({ url: core.wsUrl });
  await caller.waitFor('agent-start', 10_000);
  await caller.waitForAgentSilence(300, 20_000);
  const reply = caller.waitFor('agent-start', 20_000);
  await caller.say(speech);
  await reply;
  await caller.waitForAgentSilence(300, 20_000);
  return caller;
}
