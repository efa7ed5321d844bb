/**
 * The Personas view and the Dial view's persona chooser against a real headless core (and the local fake
 * api.twilio.com for the dial): edit a persona, duplicate it into a second one, save, reload and find both kept;
 * an invalid number is refused with the core's error shown inline and nothing saved; the Dial view lists the
 * personas and its dial request carries the chosen one, which the placed call then has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../helpers/fake-twilio.ts';
import { randomBytes } from 'node:crypto';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { until } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

const PUBLIC = 'https://parley.example.com';

describe('Personas view', () => {
  let rig: GuiRig;
  let fake: FakeTwilio;

  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    rig = await startGui(
      { greeting: 'Hello, this is the app.', recordCalls: false, twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, publicUrl: PUBLIC },
      { twilioApiUrl: fake.url },
    );
  }, 90_000);
  afterAll(async () => {
    await rig?.close();
    await fake?.stop();
  });

  const form = () => rig.page.locator('main[data-view="personas"] form.persona-form');
  const fieldOf = (name: string) => form().locator(`[name="${name}"]`);

  it('edits, duplicates and saves personas; they are kept after a reload', async () => {
    const { page } = rig;
    await openView(page, 'Personas');
    const items = page.locator('.persona-item');
    await items.first().waitFor({ timeout: 10_000 });
    // An app without personas has one: Default, from its settings.
    await expect(items.locator('.persona-name').allTextContents()).resolves.toEqual(['Default']);
    await expect(fieldOf('greeting').inputValue()).resolves.toBe('Hello, this is the app.');

    await fieldOf('greeting').fill('Front desk, good morning.');
    await page.getByRole('button', { name: 'Duplicate' }).click();
    await expect(items.locator('.persona-name').allTextContents()).resolves.toEqual(['Default', 'Default copy']);
    await fieldOf('name').fill('Sales');
    await fieldOf('numbers').fill('+1 555 777 0200, +15557770201');
    await fieldOf('ownerNumber').fill('+15557770999');
    await fieldOf('voiceSettings').fill('{"msPerChar": 60}');
    await form().locator('[name="smsToAnyNumber"]').selectOption('yes');
    await page.getByRole('button', { name: 'Save personas' }).click();
    await page.locator('.toast', { hasText: 'Personas saved.' }).waitFor({ timeout: 10_000 });
    await shot(page, 'personas');

    // Saved in the core: what new calls get.
    const saved = rig.core.personas.list();
    expect(saved.map((p) => p.name)).toEqual(['Default', 'Sales']);
    expect(saved[0]!.greeting).toBe('Front desk, good morning.');
    expect(saved[1]).toMatchObject({ greeting: 'Front desk, good morning.', numbers: ['+15557770200', '+15557770201'], ownerNumber: '+15557770999', smsToAnyNumber: true, voice: { settings: { msPerChar: 60 } } });

    await page.reload();
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 10_000 });
    await page.locator('main[data-view="personas"]').waitFor();
    await items.nth(1).waitFor({ timeout: 10_000 });
    await expect(items.locator('.persona-name').allTextContents()).resolves.toEqual(['Default', 'Sales']);
    await items.nth(1).click();
    await expect(fieldOf('numbers').inputValue()).resolves.toBe('+15557770200, +15557770201');
    await expect(fieldOf('voiceSettings').inputValue()).resolves.toBe('{"msPerChar":60}');
    // The last one can't be deleted; others can (until saved, only here).
    await expect(page.getByRole('button', { name: 'Delete' }).isDisabled()).resolves.toBe(false);
    expect(rig.pageErrors).toEqual([]);
  });

  it('an invalid number shows the core’s error inline and saves nothing', async () => {
    const { page } = rig;
    await openView(page, 'Personas');
    await page.locator('.persona-item').nth(1).click();
    await fieldOf('numbers').fill('555-1234');
    await page.getByRole('button', { name: 'Save personas' }).click();
    // At the field it is about, with the core's words.
    const error = form().locator('.field.invalid .error-text');
    await error.waitFor({ timeout: 10_000 });
    await expect(error.textContent()).resolves.toContain('persona "Sales": "555-1234" is not an E.164 number (write it like +15551234567)');
    await expect(fieldOf('numbers').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).resolves.toBe('numbers');
    await shot(page, 'personas-error');
    expect(rig.core.personas.list()[1]!.numbers).toEqual(['+15557770200', '+15557770201']);
    await page.getByRole('button', { name: 'Undo changes' }).click();
    await expect(fieldOf('numbers').inputValue()).resolves.toBe('+15557770200, +15557770201');
    await expect(error.count()).resolves.toBe(0);

    // An error the form can see by itself (voice settings that are not JSON) is caught before anything is sent.
    await fieldOf('voiceSettings').fill('{speed: fast}');
    await page.getByRole('button', { name: 'Save personas' }).click();
    await expect(error.textContent()).resolves.toContain('the voice settings are not JSON');
    await page.getByRole('button', { name: 'Undo changes' }).click();
  });

  it('the Dial view lists the personas and dials as the chosen one', async () => {
    const { page } = rig;
    const sent: string[] = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => void (typeof f.payload === 'string' && sent.push(f.payload))));
    // A fresh bridge socket, so its frames are seen.
    await page.reload();
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 10_000 });
    await openView(page, 'Dial');
    const chooser = page.getByLabel('Persona');
    await chooser.waitFor({ timeout: 10_000 });
    await expect(chooser.locator('option').allTextContents()).resolves.toEqual(['Default (default)', 'Sales']);
    await expect(chooser.inputValue()).resolves.toBe('Default');
    await chooser.selectOption('Sales');
    await page.getByLabel('Number to call').fill('+15551112222');
    await shot(page, 'dial-persona');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await until(() => fake.calls.size === 1, 'the call to be placed');
    const dial = sent.map((s) => JSON.parse(s) as { channel?: string; request?: unknown }).find((f) => f.channel === 'calls.dial');
    expect(dial?.request).toEqual({ to: '+15551112222', persona: 'Sales' });
    const [placed] = [...fake.calls.keys()];
    expect(rig.core.personas.of(placed!).name).toBe('Sales');
    expect(rig.pageErrors).toEqual([]);
  });

  it("History shows the persona that took a call, in the list and the call's record", async () => {
    const { page } = rig;
    // A signed inbound call to the Sales number, as Twilio brings it.
    const callSid = 'CA' + randomBytes(16).toString('hex');
    const hook = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: '+15551112222', To: '+15557770201', Direction: 'inbound', CallStatus: 'in-progress' };
    const res = await fetch(`${rig.url}/voice/incoming`, { method: 'POST', body: new URLSearchParams(hook), headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}/voice/incoming`, hook) } });
    expect(res.status).toBe(200);
    const caller = await TwilioCaller.connect({
      url: rig.wsUrl,
      callSid,
      direction: 'inbound',
      from: hook.From,
      to: hook.To,
      headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC.replace('https', 'wss')}/media`, {}) },
    });
    await until(() => rig.core.records?.get(callSid)?.persona === 'Sales', 'the persona in the records');
    await caller.hangup();

    await openView(page, 'History');
    const row = page.locator(`main[data-view="history"] tr[data-sid="${callSid}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect(row.locator('.persona-tag').textContent()).resolves.toBe('Sales');
    await row.getByRole('button').first().click();
    await expect(page.locator(`main[data-view="history"] .record[data-sid="${callSid}"] .record-persona`).textContent()).resolves.toBe('Sales');
    await shot(page, 'history-persona');
    expect(rig.pageErrors).toEqual([]);
  });
});
