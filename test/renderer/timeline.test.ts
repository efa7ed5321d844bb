/**
 * History's call timeline against a real headless core: a simulated Twilio caller speaks, the call is recorded,
 * and History shows the call's timeline — both channels' waveforms drawn from peaks the core computed, the
 * turn with its caller words and latency, and the turn-end mark saying why the turn ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { AUDIO, until } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

describe('History timeline', () => {
  let rig: GuiRig;
  let caller: TwilioCaller;

  beforeAll(async () => {
    rig = await startGui({ greeting: 'Hello.', recordCalls: true });
  });
  afterAll(async () => {
    caller?.drop();
    await rig?.close();
  });

  it('renders a recorded call with its waveforms, turns and turn-end marks', async () => {
    const { page } = rig;
    caller = await TwilioCaller.connect({ url: rig.wsUrl, from: '+15550002222', to: '+15559998888' });
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(300);
    await until(() => rig.events.some((e) => e.type === 'turn.metrics' && e.callSid === caller.callSid), 'the first turn to be answered', 20_000);
    await caller.silence(1500);
    await caller.hangup();
    await until(() => rig.core.calls().length === 0, 'the call to end', 10_000);
    // The recording is closed once the call's records are written.
    await until(() => rig.core.records?.recordingFile(caller.callSid) != null, 'the recording to be complete', 10_000);

    await openView(page, 'History');
    const row = page.locator(`.calls-table tr[data-sid="${caller.callSid}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('button').click();
    const tl = page.locator(`.record[data-sid="${caller.callSid}"] .timeline`);
    await tl.waitFor({ timeout: 10_000 });
    // The greeting is turn 0; the caller's turn carries their words (test-stt says how much audio it got).
    await tl.locator('.tl-turn', { hasText: 'caller spoke for' }).first().waitFor();
    expect(await tl.locator('.tl-turn').count()).toBeGreaterThanOrEqual(2);
    await tl.locator('.tl-mark[data-kind="turn-end"]').first().waitFor();
    expect(await tl.locator('.tl-mark[data-kind="turn-end"]').first().textContent()).toMatch(/turn ended \(\w+/);
    await tl.scrollIntoViewIfNeeded();
    await shot(page, 'history-timeline');
    // The canvas has the caller's waveform drawn (blue pixels in its top half) and the agent's (orange, bottom).
    const drawn = await tl.locator('canvas').evaluate((c: HTMLCanvasElement) => {
      const g = c.getContext('2d')!;
      const img = g.getImageData(0, 0, c.width, c.height).data;
      let callerPx = 0;
      let agentPx = 0;
      for (let y = 0; y < c.height; y++)
        for (let x = 0; x < c.width; x++) {
          const i = (y * c.width + x) * 4;
          if (img[i] === 0x4a && img[i + 1] === 0x7b && img[i + 2] === 0xd0 && y < c.height / 2) callerPx++;
          if (img[i] === 0xd0 && img[i + 1] === 0x7a && img[i + 2] === 0x4a && y > c.height / 2) agentPx++;
        }
      return { callerPx, agentPx };
    });
    expect(drawn.callerPx).toBeGreaterThan(50);
    expect(drawn.agentPx).toBeGreaterThan(50);
    expect(await tl.locator('canvas').getAttribute('aria-label')).not.toContain('no recording');

    // Replay with other settings: a long silence setting ends the caller's turn later than a short one.
    await tl.getByText('Replay with other settings').click();
    await tl.getByLabel('Silence (ms)').first().fill('200');
    await tl.getByLabel('Silence (ms)').nth(1).fill('1500');
    await tl.getByRole('button', { name: 'Replay' }).click();
    const tables = tl.locator('.replay-table');
    await tables.nth(1).waitFor({ timeout: 15_000 });
    expect(await tables.nth(0).locator('caption').textContent()).toContain('silence 200 ms');
    expect(await tables.nth(1).locator('caption').textContent()).toContain('silence 1500 ms');
    const firstEnd = async (i: number) => Number((await tables.nth(i).locator('tbody tr').first().locator('td').nth(1).textContent())!.replace(/\D/g, ''));
    expect(await tables.nth(0).locator('tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await firstEnd(1)).toBeGreaterThan(await firstEnd(0));
    await tables.nth(1).scrollIntoViewIfNeeded();
    await shot(page, 'history-replay');
    expect(rig.pageErrors).toEqual([]);
  });
});
