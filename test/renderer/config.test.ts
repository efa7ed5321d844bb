/**
 * The GUI's configuration views against a real headless core: a plugin folder copied into the plugins folder
 * appears by itself; a model it offers downloads with a live progress bar (from a local HTTP server standing in
 * for the model host), then verifies; bad settings are refused with the core's message next to the field;
 * secrets cannot be saved in headless mode, and the status bar explains what is not ready.
 */
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsFilePath } from '../../main/core/config.ts';
import { FakeHub, randomBody, serveBytes, sha256 } from '../core/models/http-fixture.ts';
import { TEST_PLUGINS } from '../helpers/core.ts';
import { openView, shot, startGui, type GuiRig } from './helpers.ts';

const MODEL_BYTES = 3 * 1024 * 1024;

describe('Plugins, Models and Settings views', () => {
  let rig: GuiRig;
  let hub: FakeHub;
  const body = randomBody(MODEL_BYTES);

  beforeAll(async () => {
    hub = await new FakeHub().start();
    // Slow enough (~2.5 s) that progress is seen moving.
    hub.route('/voice.bin', (req, res) => serveBytes(req, res, body, { chunkSize: 64 * 1024, delayMs: 50 }));
    rig = await startGui();
  });
  afterAll(async () => {
    await rig?.close();
    await hub?.stop();
  });

  it('shows a plugin folder copied into the plugins folder, without a restart', async () => {
    const { page } = rig;
    await openView(page, 'Plugins');
    await page.locator('.plugin-card[data-plugin="test-tts"]').waitFor();
    expect(await page.locator('.plugin-card[data-plugin="fake-voice"]').count()).toBe(0);

    // A third party's TTS plugin that offers one downloadable model, staged then moved in as one folder.
    const staging = mkdtempSync(join(tmpdir(), 'parley-plugin-'));
    const dir = join(staging, 'fake-voice');
    cpSync(join(TEST_PLUGINS, 'test-tts'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    Object.assign(manifest, {
      name: 'fake-voice',
      description: 'A voice from a third party, for the GUI test.',
      models: [{ id: 'fake-voice-model', description: 'Three megabytes of noise', size: MODEL_BYTES, files: [{ path: 'voice.bin', url: `${hub.url}/voice.bin`, size: MODEL_BYTES, sha256: sha256(body) }] }],
    });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    renameSync(dir, join(rig.core.config.userPluginsDir, 'fake-voice'));
    rmSync(staging, { recursive: true, force: true });

    const card = page.locator('.plugin-card[data-plugin="fake-voice"]');
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain('your folder');
    await page.getByRole('button', { name: 'Open plugins folder' }).click();
    // This machine has no file manager to open: the GUI says where the folder is instead.
    await page.locator('.note', { hasText: rig.core.config.userPluginsDir }).waitFor();
    expect(rig.folderOpened).toEqual([rig.core.config.userPluginsDir]);
    await shot(page, 'plugins');
  });

  it('downloads a model with a progress bar, then verifies it', async () => {
    const { page } = rig;
    await openView(page, 'Models');
    const row = page.locator('tr[data-model="fake-voice-model"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('Not downloaded');
    expect(await row.textContent()).toContain('3.0 MB');
    await row.getByRole('button', { name: 'Download' }).click();

    const bar = row.locator('progress');
    await bar.waitFor({ timeout: 5000 });
    // The bar moves: two different readings while downloading.
    const first = Number(await bar.getAttribute('value'));
    await page.waitForTimeout(600);
    const second = Number(await bar.getAttribute('value'));
    expect(await bar.getAttribute('max')).toBe(String(MODEL_BYTES));
    expect(second).toBeGreaterThan(first);
    expect(await row.textContent()).toMatch(/of 3\.0 MB/);
    await shot(page, 'models-downloading');

    await row.locator('.mstate', { hasText: 'Installed' }).waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: 'Verify' }).click();
    await page.locator('.toast', { hasText: 'fake-voice-model is intact.' }).waitFor({ timeout: 10_000 });
    await row.locator('.mstate', { hasText: 'Installed, verified' }).waitFor({ timeout: 5000 });
    await shot(page, 'models');
  });

  it('refuses bad settings with the core’s message next to the field, and saves good ones', async () => {
    const { page } = rig;
    await openView(page, 'Settings');
    const silence = page.getByLabel('End-of-turn silence (ms)');
    await silence.fill('50');
    await page.getByLabel('Public URL').fill('not a url');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const silenceField = page.locator('.field', { has: page.locator('input[name="silenceMs"]') });
    await expect(silenceField.locator('.error-text').textContent()).resolves.toMatch(/between 100 and 10000/);
    const urlField = page.locator('.field', { has: page.locator('input[name="publicUrl"]') });
    await expect(urlField.locator('.error-text').textContent()).resolves.toMatch(/absolute URL/);
    await expect(page.locator('form > .error-box').textContent()).resolves.toMatch(/Not saved: 2 settings need fixing/);
    // Nothing was applied: validation is all or nothing.
    expect(rig.core.config.silenceMs).toBe(600);
    await shot(page, 'settings-errors');

    // Secrets typed in headless mode are refused with what to do instead, and never stored.
    await silence.fill('800');
    await page.getByLabel('Public URL').fill('');
    await page.getByLabel('Auth token').fill('s3cr3t-auth-token');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const tokenField = page.locator('.field', { has: page.locator('input[name="twilioAuthToken"]') });
    await expect(tokenField.locator('.error-text').textContent()).resolves.toMatch(/environment or \.env/);
    expect(rig.core.config.twilioAuthToken).toBe('');

    await page.getByLabel('Auth token').fill('');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('.toast', { hasText: 'Settings saved.' }).waitFor({ timeout: 5000 });
    expect(rig.core.config.silenceMs).toBe(800);
    expect(rig.core.conversationSettings().silenceMs).toBe(800);
    const saved = JSON.parse(readFileSync(settingsFilePath(rig.dataDir), 'utf8'));
    expect(saved.silenceMs).toBe(800);
    expect(JSON.stringify(saved)).not.toContain('s3cr3t');
    await page.getByLabel('Control token').waitFor();
    expect(await page.getByLabel('Control token').inputValue()).toBe(rig.core.config.controlToken);
    await page.evaluate(() => document.querySelector('main')!.scrollTo(0, 0));
    await shot(page, 'settings');
  });

  it('is usable by keyboard: skip link, navigation, labelled fields, visible focus', async () => {
    const { page } = rig;
    await page.goto('about:blank');
    await page.goto(rig.guiUrl);
    await page.getByText('Connected', { exact: true }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const links = ['Calls', 'Dial', 'History', 'Inbox', 'Plugins', 'Models', 'Personas', 'Settings'];
    for (const name of links) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe(name);
    }
    // The focused link shows it: an outline, not the browser's default nothing.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
    await page.keyboard.press('Enter');
    await page.locator('main[data-view="settings"]').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement;
      return { name: el.name, label: el.labels?.[0]?.textContent };
    });
    expect(first).toEqual({ name: 'twilioAccountSid', label: 'Account SID' });
    // Every form control in Settings has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('main input, main select, main textarea')].filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label')).map((el) => el.outerHTML));
    expect(unlabelled).toEqual([]);
  });

  it('the status bar says what is not ready and what to do, and Check setup lists the doctor’s checks', async () => {
    const { page } = rig;
    await page.locator('.status-item[data-component="twilio"]', { hasText: 'not ready' }).waitFor();
    await page.getByRole('button', { name: /Details & check setup/ }).click();
    const panel = page.getByRole('region', { name: 'Setup status' });
    await panel.locator('li[data-component="twilio"] .todo').waitFor();
    await panel.getByRole('button', { name: 'Check setup' }).click();
    await panel.locator('.doctor li').first().waitFor({ timeout: 20_000 });
    expect(await panel.locator('.doctor li.fail').count()).toBeGreaterThan(0);
    await shot(page, 'status');
    expect(rig.pageErrors).toEqual([]);
  });

  it('each plugin card shows its folder, and the view says a plugin runs with the user’s full rights', async () => {
    const { page } = rig;
    const toggle = page.locator('.status-toggle');
    if ((await toggle.getAttribute('aria-expanded')) === 'true') await toggle.click(); // the status panel covers the view
    await openView(page, 'Plugins');
    const card = page.locator('.plugin-card[data-plugin="test-tts"]');
    await card.waitFor();
    expect(await card.locator('.plugin-dir code').textContent()).toBe(join(TEST_PLUGINS, 'test-tts'));
    expect(await page.locator('.plugin-trust').textContent()).toMatch(/runs with your full rights.*only runs the built-in plugins and the ones you put in your plugins folder/s);
    await shot(page, 'plugins-folders');
  });

  it('the status bar shows failing call-record writes (a full disk) and what to do, and clears when they work again', async () => {
    const { page } = rig;
    const detail = '4 call-record writes failed (last: database or disk is full); calls go on but are not fully recorded.';
    rig.core.events.emit({ type: 'server.status', component: 'records', ok: false, detail, failedWrites: 4, at: Date.now() });
    const item = page.locator('.status-item[data-component="records"]');
    await item.filter({ hasText: 'Records: 4 writes failed' }).waitFor();
    const toggle = page.locator('.status-toggle');
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    const panel = page.getByRole('region', { name: 'Setup status' });
    await panel.locator('li[data-component="records"]', { hasText: detail }).waitFor();
    expect(await panel.locator('li[data-component="records"] .todo').textContent()).toMatch(/free disk space/);
    await shot(page, 'status-records');
    rig.core.events.emit({ type: 'server.status', component: 'records', ok: true, detail: 'writing call records again', failedWrites: 4, at: Date.now() });
    await item.filter({ hasText: 'Records: 4 failed earlier' }).waitFor();
    expect(rig.pageErrors).toEqual([]);
  });

  it('the status bar shows the lines in use against capacity, refreshed as calls start and end', async () => {
    const { page, core } = rig;
    // The GUI's side of issue 17: what the core reports as `calls` in its status is shown and followed.
    const real = core.status.bind(core);
    let inUse = 1;
    core.status = () => ({ ...real(), calls: { inUse, capacity: 2 } }) as ReturnType<typeof real>;
    try {
      const callSid = 'CA' + 'e'.repeat(32);
      core.events.emit({ type: 'call.started', callSid, streamSid: 'MZ' + 'e'.repeat(32), direction: 'inbound', from: '+15550001111', to: '+15559998888', startedAt: Date.now(), customParameters: {}, plugins: { stt: 'test-stt', llm: 'test-llm', tts: 'test-tts' } });
      const lines = page.locator('.status-item[data-component="calls"]');
      await lines.filter({ hasText: 'Lines: 1 of 2 in use' }).waitFor();
      inUse = 0;
      core.events.emit({ type: 'call.ended', callSid, reason: 'hung up', endedAt: Date.now(), durationMs: 1_000 });
      await lines.filter({ hasText: 'Lines: 0 of 2 in use' }).waitFor();
      expect(rig.pageErrors).toEqual([]);
    } finally {
      core.status = real;
    }
  });
});
