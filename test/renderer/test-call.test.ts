/**
 * Test call (issue 15 §2) in a real browser: Chromium's fake microphone plays real speech (jfk.wav, as a
 * 48 kHz 16-bit WAV followed by silence so the turn ends), the GUI's **Test call** streams it to the real core
 * over /test-call, and the Calls view shows the caller's transcript (test-stt: "caller spoke for N seconds") and the
 * agent's reply (test-llm). **End test call** ends it, and History keeps it as a test call.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIO, until } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

describe('Test call with the mic and speakers', () => {
  let rig: GuiRig;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-fake-mic-'));
    const wav = join(dir, 'mic.wav');
    // Chromium's fake capture wants plain 16-bit PCM; the pad gives the caller a pause to end the turn on.
    execFileSync('sox', [AUDIO('jfk.wav'), '-r', '48000', '-b', '16', '-c', '1', '-e', 'signed-integer', wav, 'pad', '0', '4']);
    rig = await startGui({ greeting: 'Hello, this is a test.', recordCalls: true }, {}, {
      chromiumArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required'],
    });
  });
  afterAll(async () => {
    await rig?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('talks to the agent through the mic: caller transcript and agent reply show live, marked as a test call', async () => {
    const { page } = rig;
    await openView(page, 'Calls');
    await page.getByRole('button', { name: 'Test call', exact: true }).click();
    const end = page.getByRole('button', { name: 'End test call' });
    await end.waitFor({ timeout: 10_000 });
    const sid = (await end.getAttribute('data-sid'))!;
    expect(sid).toMatch(/^TEST[0-9a-f]{32}$/);

    // The engine saw an ordinary call, marked as a test call.
    await until(() => rig.events.some((e) => e.type === 'call.started' && e.callSid === sid), 'call.started for the test call', 10_000);
    const started = rig.events.find((e) => e.type === 'call.started' && e.callSid === sid) as Extract<(typeof rig.events)[number], { type: 'call.started' }>;
    expect(started.customParameters).toMatchObject({ test: 'true', from: 'Test call' });
    expect(started.direction).toBe('inbound');

    const item = page.locator(`.call-item[data-sid="${sid}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.textContent()).toContain('Test call');
    const detail = page.locator(`.call-detail[data-sid="${sid}"]`);
    // The mic's speech reached STT through getUserMedia → 8 kHz μ-law → /test-call.
    const callerLine = detail.locator('.line.caller', { hasText: 'caller spoke for' }).first();
    await callerLine.waitFor({ timeout: 40_000 });
    const spoke = Number(/caller spoke for ([\d.]+) seconds/.exec((await callerLine.textContent()) ?? '')?.[1]);
    expect(spoke).toBeGreaterThan(0.5); // real speech, not a click
    // test-llm answers with a fixed follow-up; it was played to the page (marks echoed → heard).
    await detail.locator('.line.agent', { hasText: 'Is there anything else I can help you with today?' }).first().waitFor({ timeout: 30_000 });
    await shot(page, 'test-call-live');
    expect(rig.pageErrors).toEqual([]);
  });

  it('End test call ends it, and History keeps it as a test call', async () => {
    const { page } = rig;
    const end = page.getByRole('button', { name: 'End test call' });
    const sid = (await end.getAttribute('data-sid'))!;
    await end.click();
    await page.getByRole('button', { name: 'Test call', exact: true }).waitFor({ timeout: 5000 });
    await until(() => rig.events.some((e) => e.type === 'call.ended' && e.callSid === sid), 'call.ended for the test call', 10_000);
    await until(() => rig.core.calls().length === 0, 'no live call left', 10_000);
    await until(() => rig.core.records?.get(sid)?.endedAt != null, 'the record to be closed', 10_000);
    const record = rig.core.records!.get(sid)!;
    expect(record.from).toBe('Test call');
    expect(record.turns.some((t) => t.callerText?.includes('caller spoke for'))).toBe(true);

    await openView(page, 'History');
    const row = page.locator(`.calls-table tr[data-sid="${sid}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('Test call');
    await shot(page, 'test-call-history');
  });
});
