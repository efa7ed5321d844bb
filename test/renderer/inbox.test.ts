/**
 * The Inbox against a real headless core and a simulated Twilio caller: a foreign tool plugin (in the user's
 * plugins folder) takes a message during the call through the take_message host action; the live transcript
 * shows the tool call and the message as action rows; the Inbox shows the message with a badge in the
 * navigation; "Mark as done" clears the badge. The Plugins view lists the tool plugin with its tool.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { AUDIO, until } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

const FIXTURES = resolve(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/plugins-inbox');
const MESSAGE = 'Please call back about the X-files, before Friday.';

describe('Inbox view', () => {
  let rig: GuiRig;
  let caller: TwilioCaller;

  beforeAll(async () => {
    rig = await startGui({ greeting: 'Hi.', recordCalls: false, userPluginsDir: FIXTURES, llm: 'inbox-llm', toolFiller: '' });
  }, 90_000);
  afterAll(async () => {
    caller?.drop();
    await rig?.close();
  });

  it('shows a message taken during a call in the transcript and the inbox, with a badge that Mark as done clears', async () => {
    const { page } = rig;
    const nav = page.getByRole('navigation', { name: 'Views' });
    await expect(nav.locator('.inbox-badge').count()).resolves.toBe(0);

    caller = await TwilioCaller.connect({ url: rig.wsUrl, from: '+15550001111', to: '+15559998888' });
    const detail = page.locator(`.call-detail[data-sid="${caller.callSid}"]`);
    await detail.waitFor({ timeout: 10_000 });
    await caller.sayWav(AUDIO('hello.wav'));
    await caller.silence(300);

    // The live transcript: the tool call with its result, and the message taken, between the turns.
    const toolRow = detail.locator('.line.action[data-tool="save_note"]');
    await toolRow.locator('.cut-label', { hasText: 'done' }).waitFor({ timeout: 20_000 });
    await expect(toolRow.textContent()).resolves.toContain('saved');
    const messageRow = detail.locator('.line.action.message-taken');
    await messageRow.waitFor({ timeout: 10_000 });
    await expect(messageRow.textContent()).resolves.toContain(MESSAGE);
    await detail.locator('.line.agent', { hasText: 'I have taken your message.' }).waitFor({ timeout: 15_000 });
    await shot(page, 'transcript-actions');

    // The badge counts the undone message, live (no reload).
    const badge = nav.locator('.inbox-badge');
    await badge.waitFor({ timeout: 10_000 });
    await expect(badge.textContent()).resolves.toBe('1');

    await openView(page, 'Inbox');
    const item = page.locator('.inbox-item').first();
    await item.waitFor({ timeout: 5000 });
    await expect(item.locator('.inbox-name').textContent()).resolves.toBe('Dana Scully');
    await expect(item.locator('.inbox-message').textContent()).resolves.toContain(MESSAGE);
    await expect(item.locator('.inbox-callback').getAttribute('href')).resolves.toBe('tel:+15550001111');
    await expect(item.getByRole('link', { name: 'Open call' }).getAttribute('href')).resolves.toContain(caller.callSid);
    await shot(page, 'inbox');

    // It is in the records too.
    const stored = rig.core.records!.messages();
    expect(stored.undone).toBe(1);
    expect(stored.messages[0]).toMatchObject({ callSid: caller.callSid, name: 'Dana Scully', callback: '+15550001111', message: MESSAGE, done: false });

    await item.getByRole('button', { name: 'Mark as done' }).click();
    await item.getByRole('button', { name: 'Mark as new' }).waitFor({ timeout: 5000 });
    await until(() => rig.core.records!.messages().undone === 0, 'the message to be marked done in the records', 5000);
    await badge.waitFor({ state: 'detached', timeout: 5000 });
    await shot(page, 'inbox-done');

    // "Open call" shows the call in History, whose transcript has the same action rows (from the records).
    await page.locator('.inbox-item').first().getByRole('link', { name: 'Open call' }).click();
    await page.locator('main[data-view="history"]').waitFor();
    await page.locator('main[data-view="history"] .line.action[data-tool="save_note"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('main[data-view="history"] .line.action.message-taken').textContent()).resolves.toContain(MESSAGE);
    // The tool call, then the message it took, then the agent's reply.
    const rows = await page.locator('main[data-view="history"] .turn .line').evaluateAll((els) => els.map((el) => el.getAttribute('data-action') ?? el.classList[1]));
    expect(rows.slice(-4)).toEqual(['caller', 'tool', 'message', 'agent']);
    await shot(page, 'history-actions');
    expect(rig.pageErrors).toEqual([]);
  });

  it('lists the tool plugin with its tools in the Plugins view', async () => {
    const { page } = rig;
    await openView(page, 'Plugins');
    const card = page.locator('.plugin-card[data-plugin="inbox-notes"]');
    await card.waitFor({ timeout: 10_000 });
    const tool = card.locator('.tool-list li[data-tool="save_note"]');
    await tool.waitFor({ timeout: 10_000 });
    await expect(tool.textContent()).resolves.toContain('Save a message for the owner');
    await card.scrollIntoViewIfNeeded();
    await shot(page, 'plugins-tools');
  });
});
