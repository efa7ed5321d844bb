/**
 * The person at the desk on a live call, in a real browser (issue 15 §3). A simulated Twilio caller is on the
 * line; Chromium's fake microphone plays real speech (jfk.wav). In the Calls view:
 * - **Whisper** sends a note that reaches the next LLM request and shows in the transcript as a note;
 * - **Listen** joins the call's audio;
 * - **Take over**: the caller receives frames carrying the mic's audio (correlated against the WAV), the caller's
 *   words are transcribed while no LLM request is made, and the desk's words show as "You";
 * - **Hand back**: the next caller utterance is answered by the agent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { decodeFloat } from '../../main/core/audio/mulaw.ts';
import { readWav } from '../../main/core/audio/wav.ts';
import { resample } from '../../main/core/audio/resample.ts';
import { AUDIO, until } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

/** The best normalised correlation of `probe` against `ref` at any lag (1 = the same waveform, any gain). */
function bestCorrelation(ref: Float32Array, probe: Float32Array): number {
  let pp = 0;
  for (const v of probe) pp += v * v;
  let best = 0;
  for (let lag = 0; lag + probe.length <= ref.length; lag += 1) {
    let rp = 0;
    let rr = 0;
    for (let i = 0; i < probe.length; i++) {
      const r = ref[lag + i]!;
      rp += r * probe[i]!;
      rr += r * r;
    }
    if (rr > 0 && pp > 0) best = Math.max(best, Math.abs(rp) / Math.sqrt(rr * pp));
  }
  return best;
}

/** The loudest `len`-sample stretch of `x`. */
function loudest(x: Float32Array, len: number): Float32Array {
  let best = 0;
  let at = 0;
  for (let i = 0; i + len <= x.length; i += 80) {
    let e = 0;
    for (let k = i; k < i + len; k++) e += x[k]! * x[k]!;
    if (e > best) [best, at] = [e, i];
  }
  return x.subarray(at, at + len);
}

describe('Listen, Whisper, Take over and Hand back in the Calls view', () => {
  let rig: GuiRig;
  let dir: string;
  let sent: string;
  let caller: TwilioCaller;
  const requests = () => (existsSync(sent) ? readFileSync(sent, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { role: string; content: string }[]) : []);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-desk-gui-'));
    sent = join(dir, 'llm.jsonl');
    const wav = join(dir, 'mic.wav');
    execFileSync('sox', [AUDIO('jfk.wav'), '-r', '48000', '-b', '16', '-c', '1', '-e', 'signed-integer', wav, 'pad', '0', '4']);
    rig = await startGui({ greeting: 'Hello, this is the front desk.', recordCalls: true, pluginSettings: { 'test-llm': { recordTo: sent } } }, {}, {
      chromiumArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required'],
    });
  });
  afterAll(async () => {
    await caller?.hangup().catch(() => {});
    await rig?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('whispers, listens, takes over with the mic and hands back', async () => {
    const { page } = rig;
    await openView(page, 'Calls');
    caller = await TwilioCaller.connect({ url: rig.wsUrl, from: '+15550003333', to: '+15559998888' });
    const sid = caller.callSid;
    const detail = page.locator(`.call-detail[data-sid="${sid}"]`);
    await detail.waitFor({ timeout: 10_000 });
    await caller.waitForAgentSilence(300, 20_000);

    // Whisper: reaches the next LLM request, shows as a note, is never spoken.
    await detail.getByLabel('Whisper to the agent').fill('offer Tuesday instead');
    await detail.getByRole('button', { name: 'Whisper', exact: true }).click();
    await detail.locator('.line.action.whisper-note', { hasText: 'offer Tuesday instead' }).waitFor({ timeout: 10_000 });
    const reply = caller.waitFor('agent-start', 20_000);
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(300);
    await reply;
    await caller.waitForAgentSilence(300, 20_000);
    expect(requests().at(-1)!.some((m) => m.role === 'system' && m.content.endsWith('offer Tuesday instead'))).toBe(true);

    // Listen: pressed, and the page joined the call's audio.
    const listen = detail.getByRole('button', { name: 'Listen', exact: true });
    await listen.click();
    await detail.locator('button[aria-pressed="true"]', { hasText: 'Listen' }).waitFor({ timeout: 10_000 });

    // Take over: the mic's speech reaches the caller.
    const asked = requests().length;
    const receivedBefore = caller.received.length;
    await detail.getByRole('button', { name: 'Take over', exact: true }).click();
    await detail.getByRole('button', { name: 'Hand back', exact: true }).waitFor({ timeout: 10_000 });
    await until(() => rig.events.some((e) => e.type === 'call.takeover' && e.callSid === sid && e.active), 'the call to be taken over', 10_000);
    await caller.silence(4000);
    const got = caller.received
      .slice(receivedBefore)
      .filter((r) => r.msg.event === 'media')
      .map((r) => decodeFloat(Buffer.from(String((r.msg.media as { payload: string }).payload), 'base64')));
    const heard = new Float32Array(got.length * 160);
    got.forEach((f, i) => heard.set(f, i * 160));
    expect(heard.length).toBeGreaterThan(8000 * 2);
    const wav = readWav(AUDIO('jfk.wav'));
    const ref = resample(wav.samples, wav.sampleRate, 8000);
    const corr = bestCorrelation(ref, loudest(heard, 2400));
    expect(corr).toBeGreaterThan(0.5);

    // The caller talks while taken over: transcribed, shown, never answered.
    await caller.sayWav(AUDIO('hello.wav'));
    await caller.silence(1500);
    await until(() => rig.events.filter((e) => e.type === 'transcript' && e.callSid === sid && e.role === 'caller' && e.final).length >= 2, 'the caller transcript while taken over', 20_000);
    // The desk's words (the fake mic) show as "You".
    await detail.locator('.line.agent.desk .who', { hasText: 'You' }).first().waitFor({ timeout: 30_000 });
    expect(requests().length).toBe(asked);
    await shot(page, 'calls-taken-over');

    // Hand back: the agent answers the next utterance.
    await detail.getByRole('button', { name: 'Hand back', exact: true }).click();
    await detail.getByRole('button', { name: 'Take over', exact: true }).waitFor({ timeout: 10_000 });
    const answered = caller.waitFor('agent-start', 20_000);
    await caller.sayWav(AUDIO('hello.wav'));
    await caller.silence(300);
    await answered;
    expect(requests().length).toBe(asked + 1);
    await detail.locator('.line.action.takeover', { hasText: 'handed the call back' }).waitFor({ timeout: 10_000 });
    expect(rig.pageErrors).toEqual([]);
  }, 120_000);
});
