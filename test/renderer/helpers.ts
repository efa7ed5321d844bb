/**
 * The browser suite's rig: a real core (real HTTP/WebSocket server, plugin workers, records) with the headless
 * GUI attached, the renderer freshly built by Vite into a temp folder, and Debian's Chromium driven by
 * playwright-core with a fresh profile. Screenshots go to test-results/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Config } from '../../main/core/config.ts';
import type { CoreOptions } from '../../main/core/app.ts';
import { attachWebGui, type WebGui } from '../../main/web/gui-server.ts';
import { environmentOnlySecrets } from '../../main/web/headless-host.ts';
import { startTestCore, type TestCore } from '../helpers/core.ts';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const SCREENSHOTS = join(root, 'test-results', 'screenshots');

/** Build the GUI into a temp folder (about a second): tests never depend on a stale dist/. */
export async function buildRendererInto(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'parley-renderer-'));
  const { build } = await import('vite');
  await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'error', build: { outDir: out, emptyOutDir: true, sourcemap: false } });
  return out;
}

export interface GuiRig extends TestCore {
  gui: WebGui;
  guiUrl: string;
  folderOpened: string[];
  context: BrowserContext;
  page: Page;
  /** Everything the page logged as an error, and uncaught exceptions: a test can assert there were none. */
  pageErrors: string[];
  close(): Promise<void>;
}

export function chromiumPath(): string {
  return process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
}

/** Options of the browser itself (the defaults suit every view; a test adds, e.g., a fake microphone). */
export interface BrowserOptions {
  /** Extra Chromium switches, after the defaults (e.g. --use-fake-device-for-media-stream). */
  chromiumArgs?: string[];
}

export async function startGui(overrides: Partial<Config> = {}, options: CoreOptions = {}, browser: BrowserOptions = {}): Promise<GuiRig> {
  const rendererDir = await buildRendererInto();
  const t = await startTestCore(overrides, { watchPlugins: true, ...options });
  const folderOpened: string[] = [];
  const gui = attachWebGui(t.core, {
    token: () => t.core.config.controlToken,
    rendererDir,
    host: {
      mode: 'headless',
      version: 'test',
      secrets: environmentOnlySecrets,
      openFolder: async (p) => (folderOpened.push(p), false),
    },
  });
  const profile = mkdtempSync(join(tmpdir(), 'parley-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 1280, height: 820 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic', ...(browser.chromiumArgs ?? [])],
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  const guiUrl = gui.url();
  await page.goto(guiUrl);
  await page.getByText('Connected', { exact: true }).waitFor({ timeout: 10_000 });
  return {
    ...t,
    gui,
    guiUrl,
    folderOpened,
    context,
    page,
    pageErrors,
    async close() {
      await context.close().catch(() => {});
      gui.close();
      await t.stop();
      rmSync(profile, { recursive: true, force: true });
      rmSync(rendererDir, { recursive: true, force: true });
    },
  };
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

export async function openView(page: Page, label: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: label, exact: false }).click();
  await page.locator(`main[data-view="${label.toLowerCase()}"]`).waitFor();
}
