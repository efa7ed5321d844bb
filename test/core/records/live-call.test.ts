/** The records of a real simulated call (real server, real plugin workers) match what happened on the line. */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { readWav } from '../../../main/core/audio/wav.ts';
import { AUDIO, startTestCore, until, type TestCore, pluginsWarm } from '../../helpers/core.ts';

describe('records of a live call', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: 'Hello there caller, thanks for calling Parley today.', recordCalls: true, vad: 'silero' });
    t.core.plugins.setSettings('test-tts', { msPerChar: 50 });
    await pluginsWarm(t.core);
  });
  afterAll(async () => {
    await t.stop();
  });

  it('keeps the call, its turns (interrupted ones as heard), latencies and a two-channel recording', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl, from: '+15551230000' });
    const started = await caller.waitFor<{ start: number }>('agent-start', 5_000);
    await caller.silence(1_200 - (performance.now() - started.start));
    await caller.sayWav(AUDIO('interrupt.wav')); // barges into the greeting
    await caller.waitFor('agent-start', 5_000);
    await caller.waitForAgentSilence(400, 20_000);
    caller.dtmf('7');
    await caller.hangup();
    await until(() => t.core.records!.get(caller.callSid)?.endedAt != null, 'call record closed');
    await until(() => t.core.records!.recordingFile(caller.callSid) !== null, 'recording finished');

    const call = t.core.records!.get(caller.callSid)!;
    expect(call).toMatchObject({ sid: caller.callSid, direction: 'inbound', from: '+15551230000', endReason: 'stop', plugins: { stt: 'test-stt', llm: 'test-llm', tts: 'test-tts' } });
    const [greeting, answer] = call.turns;
    expect(greeting).toMatchObject({ turnId: 0, interrupted: true, agentText: 'Hello there caller,', agentFullText: 'Hello there caller, thanks for calling Parley today.' });
    expect(answer!.callerText).toMatch(/^caller spoke for/);
    expect(answer!.interrupted).toBe(false);
    expect(answer!.latencies!.voiceToVoiceMs).toBeGreaterThan(500);
    expect(JSON.stringify(call.events)).toMatch(/"7"/);

    // Caller on the left channel, agent on the right, at 8 kHz, about as long as the call.
    const file = t.core.records!.recordingFile(caller.callSid)!;
    expect(existsSync(file)).toBe(true);
    const wav = readWav(file);
    expect(wav.sampleRate).toBe(8000);
    const seconds = wav.samples.length / 8000;
    expect(seconds).toBeGreaterThan(3);
    expect(seconds).toBeLessThan(30);
  });
});
