/**
 * The GUI against a real headless core and a simulated Twilio caller: a call shows up live with its
 * transcript; Interrupt reaches the caller as a Twilio `clear` and the cut sentence is shown struck through;
 * Hang up ends the call; History then lists it with its transcript; Dial refuses a bad number and shows the
 * core's answer for a good one.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { AUDIO, until } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

// Long enough (test-tts: 40 ms of audio per character) that the agent is still talking when we click.
const GREETING =
  'Hello and welcome to Parley, the friendly phone agent that runs on your own computer. I can take messages, answer questions about opening hours, and book appointments for you.';

describe('Calls, History and Dial views', () => {
  let rig: GuiRig;
  let caller: TwilioCaller;

  beforeAll(async () => {
    rig = await startGui({ greeting: GREETING, recordCalls: true });
  });
  afterAll(async () => {
    caller?.drop();
    await rig?.close();
  });

  it('shows a live call with its state, and Interrupt sends the caller a clear and cuts the sentence', async () => {
    const { page } = rig;
    caller = await TwilioCaller.connect({ url: rig.wsUrl, from: '+15550001111', to: '+15559998888' });
    const item = page.locator(`.call-item[data-sid="${caller.callSid}"]`);
    await item.waitFor({ timeout: 10_000 });
    await expect(item.textContent()).resolves.toContain('+15550001111');
    const detail = page.locator(`.call-detail[data-sid="${caller.callSid}"]`);
    await detail.locator('.badge.state-speaking').waitFor({ timeout: 10_000 });
    // Some of the greeting has been heard (Twilio echoed marks) before we cut it off.
    await until(() => caller.marksEchoed.length >= 1, 'the first clause of the greeting to be heard', 10_000);
    await shot(page, 'calls-speaking');

    expect(caller.clears.length).toBe(0);
    await detail.getByRole('button', { name: 'Interrupt the agent' }).click();
    await until(() => caller.clears.length > 0, 'the simulated caller to receive clear', 5000);
    // The greeting's unheard rest is struck through, after the part the caller heard.
    const cut = detail.locator('.line.agent del.unheard').first();
    await cut.waitFor({ timeout: 5000 });
    const heard = await detail.locator('.line.agent .heard').first().textContent();
    const unheard = await cut.textContent();
    expect(heard!.length).toBeGreaterThan(0);
    expect(unheard).toContain('appointments');
    expect(GREETING.startsWith(heard!.trim())).toBe(true);
    await expect(detail.locator('.cut-label').first().textContent()).resolves.toBe('interrupted');
  });

  it('fills in the transcript and the latency of each turn as the caller speaks', async () => {
    const { page } = rig;
    const detail = page.locator(`.call-detail[data-sid="${caller.callSid}"]`);
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(300);
    // test-stt reports how much audio it got; test-llm echoes it back.
    const callerLine = detail.locator('.line.caller', { hasText: 'caller spoke for' });
    await callerLine.waitFor({ timeout: 15_000 });
    await detail.locator('.line.agent', { hasText: 'Is there anything else I can help you with today?' }).waitFor({ timeout: 15_000 });
    const row = detail.locator('.latency-table tbody tr').first();
    await row.waitFor({ timeout: 15_000 });
    expect(await row.locator('td').first().textContent()).toMatch(/^\d+ ms$/);
    await shot(page, 'calls');
  });

  it('Hang up ends the call', async () => {
    const { page } = rig;
    const detail = page.locator(`.call-detail[data-sid="${caller.callSid}"]`);
    const closed = new Promise<void>((resolve) => caller.once('close', () => resolve()));
    await detail.getByRole('button', { name: 'Hang up' }).click();
    await closed;
    await detail.locator('.badge.ended').waitFor({ timeout: 5000 });
    await until(() => rig.core.calls().length === 0, 'the core to have no live call', 5000);
    expect(rig.events.some((e) => e.type === 'call.ended' && e.callSid === caller.callSid)).toBe(true);
  });

  it('History lists the finished call, and opening it shows its transcript with the cut sentence', async () => {
    const { page } = rig;
    await openView(page, 'History');
    const row = page.locator(`.calls-table tr[data-sid="${caller.callSid}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('+15550001111');
    await row.getByRole('button').click();
    const record = page.locator(`.record[data-sid="${caller.callSid}"]`);
    await record.locator('.line.caller', { hasText: 'caller spoke for' }).waitFor();
    await record.locator('.line.agent del.unheard').first().waitFor();
    // Search filters on what was said.
    await page.getByRole('searchbox').fill('nothing anybody said');
    await row.waitFor({ state: 'detached', timeout: 5000 });
    await page.getByRole('searchbox').fill('spoke');
    await row.waitFor({ timeout: 5000 });
    // The recording plays from the GUI's own origin, with the token.
    const audio = record.locator('audio');
    await audio.waitFor({ timeout: 10_000 });
    const src = await audio.evaluate((el: HTMLAudioElement) => el.src);
    const wav = await page.evaluate(async (u) => {
      const r = await fetch(u);
      return { status: r.status, type: r.headers.get('content-type'), bytes: (await r.arrayBuffer()).byteLength };
    }, src);
    expect(wav).toMatchObject({ status: 200, type: 'audio/wav' });
    expect(wav.bytes).toBeGreaterThan(8000 * 4 * 3); // stereo 16-bit 8 kHz, several seconds
    await expect.poll(() => audio.evaluate((el: HTMLAudioElement) => el.duration), { timeout: 5000 }).toBeGreaterThan(3);
    await shot(page, 'history');

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^parley-calls-.*\.csv$/);
  });

  it('History deletes a call with its recording, after asking', async () => {
    const { page } = rig;
    const file = rig.core.records!.recordingFile(caller.callSid)!;
    expect(existsSync(file)).toBe(true);
    const record = page.locator(`.record[data-sid="${caller.callSid}"]`);
    await record.getByRole('button', { name: 'Delete…' }).click();
    await record.getByRole('group', { name: 'Confirm deletion' }).getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator(`.calls-table tr[data-sid="${caller.callSid}"]`).waitFor({ state: 'detached', timeout: 5000 });
    expect(rig.core.records!.get(caller.callSid)).toBeNull();
    expect(existsSync(file)).toBe(false);
  });

  it('Dial refuses a number that is not E.164, and shows the core’s answer for one that is', async () => {
    const { page } = rig;
    await openView(page, 'Dial');
    const field = page.getByLabel('Number to call');
    await field.fill('555 1234');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await expect(page.locator('.field.invalid .error-text').textContent()).resolves.toMatch(/\+ and the country code/);
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true');
    await shot(page, 'dial-invalid');

    await field.fill('');
    for (const key of ['Plus', '1', '5', '5', '5', '1', '2', '3', '4', '5', '6', '7']) await page.getByRole('group', { name: 'Dial pad' }).getByRole('button', { name: key, exact: true }).click();
    await expect(field.inputValue()).resolves.toBe('+15551234567');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    // No Twilio account in this test: the core says what is missing, and the GUI shows exactly that.
    const alert = page.locator('.error-box[role="alert"]');
    await alert.waitFor({ timeout: 10_000 });
    expect(await alert.textContent()).toMatch(/Could not call:.*(Twilio|TWILIO|Settings)/s);
    await shot(page, 'dial');
    expect(rig.pageErrors).toEqual([]);
  });
});
