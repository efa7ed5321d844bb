/**
 * Get started against a real headless core on a fresh data folder: it opens by itself on first launch, each
 * step shows the setup doctor's real state (models missing, no Twilio, not reachable, no call yet), the model
 * step downloads the default model from a local stand-in for the model host with a moving progress bar, and
 * the status bar's `Get started` button brings the view back.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub, randomBody, serveBytes, sha256 } from '../core/models/http-fixture.ts';
import { TEST_PLUGINS } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

const MODEL_BYTES = 3 * 1024 * 1024;

describe('Get started', () => {
  let rig: GuiRig;
  let hub: FakeHub;
  let userPlugins: string;
  const body = randomBody(MODEL_BYTES);

  beforeAll(async () => {
    hub = await new FakeHub().start();
    // Slow enough (~2.5 s) that the bar is seen moving.
    hub.route('/voice.bin', (req, res) => serveBytes(req, res, body, { chunkSize: 64 * 1024, delayMs: 50 }));
    // The voice in use is a plugin whose default model is not downloaded yet.
    userPlugins = mkdtempSync(join(tmpdir(), 'parley-gs-plugins-'));
    const dir = join(userPlugins, 'fake-voice');
    cpSync(join(TEST_PLUGINS, 'test-tts'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    Object.assign(manifest, {
      name: 'fake-voice',
      description: 'A voice whose model must be downloaded first.',
      models: [{ id: 'fake-voice-model', default: true, description: 'Three megabytes of noise', size: MODEL_BYTES, files: [{ path: 'voice.bin', url: `${hub.url}/voice.bin`, size: MODEL_BYTES, sha256: sha256(body) }] }],
    });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    rig = await startGui({ userPluginsDir: userPlugins, tts: 'fake-voice' } as never);
  });
  afterAll(async () => {
    await rig?.close();
    await hub?.stop();
    if (userPlugins) rmSync(userPlugins, { recursive: true, force: true });
  });

  it('opens by itself on a fresh data folder and shows the real state of each step', async () => {
    const { page } = rig;
    await page.locator('main[data-view="get-started"]').waitFor({ timeout: 10_000 });
    const step = (id: string) => page.locator(`.gs-step[data-step="${id}"]`);
    // The doctor's answer has come: no step is still "checking".
    await step('twilio').and(page.locator('[data-state="todo"]')).waitFor({ timeout: 15_000 });
    await step('models').and(page.locator('[data-state="todo"]')).waitFor({ timeout: 10_000 });
    expect(await step('models').textContent()).toContain('fake-voice-model');
    expect(await step('models').locator('.gs-size').textContent()).toBe('3.0 MB');
    expect(await step('reachable').getAttribute('data-state')).toBe('todo');
    await step('call').and(page.locator('[data-state="todo"]')).waitFor();
    // The fixes are the doctor's own words.
    expect(await step('twilio').textContent()).toMatch(/Fix: /);
    // Step 2 is the real Test call button.
    await step('test-call').getByRole('button', { name: 'Test call' }).waitFor();
    await shot(page, 'get-started');
  });

  it('downloads the default models with progress, then marks the step done', async () => {
    const { page } = rig;
    const step = page.locator('.gs-step[data-step="models"]');
    await step.getByRole('button', { name: 'Download default models' }).click();
    const bar = step.locator('progress');
    await bar.waitFor({ timeout: 5000 });
    const first = Number(await bar.getAttribute('value'));
    // The bar moves while the fake host is still sending.
    await page.waitForFunction((v) => Number(document.querySelector('.gs-step[data-step="models"] progress')?.getAttribute('value') ?? -1) > v, first, { timeout: 10_000 });
    expect(await bar.getAttribute('max')).toBe(String(MODEL_BYTES));
    expect(await step.getByRole('button', { name: 'Cancel' }).count()).toBe(1);
    await shot(page, 'get-started-downloading');
    await step.and(page.locator('[data-state="done"]')).waitFor({ timeout: 20_000 });
    expect(await step.textContent()).toContain('All default models are here');
    expect(rig.pageErrors).toEqual([]);
  });

  it('stays reachable from the status bar', async () => {
    const { page } = rig;
    await openView(page, 'Calls');
    await page.locator('.status-bar').getByRole('button', { name: 'Get started' }).click();
    await page.locator('main[data-view="get-started"]').waitFor();
    // It opened by itself once; a reload lands where the link points, not on Get started again.
    await page.goto('about:blank');
    await page.goto(rig.guiUrl);
    await page.getByText('Connected', { exact: true }).waitFor();
    await page.locator('main[data-view="calls"]').waitFor();
    // Give the first-run check time to (wrongly) redirect: it asks the core once; wait for its answers.
    await page.waitForLoadState('networkidle');
    expect(await page.locator('main').getAttribute('data-view')).toBe('calls');
  });

  it('asks for notification permission on a click, not on load, then notifies a new message', async () => {
    const { page } = rig;
    // A stand-in for the browser's Notification API that records what it is asked; the page is not in front.
    await page.addInitScript(() => {
      const w = window as unknown as { __asked: number; __shown: { title: string; body: string }[] };
      w.__asked = 0;
      w.__shown = [];
      class FakeNotification {
        static permission: NotificationPermission = 'default';
        static async requestPermission() {
          w.__asked++;
          FakeNotification.permission = 'granted';
          return 'granted' as const;
        }
        onclick: (() => void) | null = null;
        constructor(title: string, o: { body: string }) {
          w.__shown.push({ title, body: o.body });
        }
        close() {}
      }
      Object.defineProperty(window, 'Notification', { value: FakeNotification, configurable: true });
      document.hasFocus = () => false;
    });
    await page.goto('about:blank');
    await page.goto(rig.guiUrl);
    await page.getByText('Connected', { exact: true }).waitFor();
    const button = page.locator('.status-bar').getByRole('button', { name: 'Turn on notifications' });
    await button.waitFor();
    expect(await page.evaluate(() => (window as unknown as { __asked: number }).__asked)).toBe(0);
    await button.click();
    await button.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => (window as unknown as { __asked: number }).__asked)).toBe(1);
    rig.core.events.emit({ type: 'call.message', callSid: 'CA-gs-1', name: 'Ada', callback: '+15550001111', message: 'Please call back about Tuesday.', at: Date.now() });
    await page.waitForFunction(() => (window as unknown as { __shown: unknown[] }).__shown.length > 0, null, { timeout: 5000 });
    expect(await page.evaluate(() => (window as unknown as { __shown: unknown[] }).__shown)).toEqual([{ title: 'New message from Ada', body: 'Please call back about Tuesday.' }]);
  });
});
