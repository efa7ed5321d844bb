/**
 * The Electron main process: one instance, one core (server, plugins in worker processes, records), one window.
 * Thin on purpose — the contract's handlers (main/ipc) do the work, this file only wires Electron to them.
 *
 * Data: the user-data folder (PARLEY_DATA_DIR / PARLEY_MODELS_DIR still win). Secrets: safeStorage (secrets.ts).
 * Quitting hangs up live calls when the core can, then stops the core, which ends every media stream cleanly.
 */
import { app, BrowserWindow, dialog, ipcMain, Notification, protocol, safeStorage, session, shell } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore, type Core } from '../core/app.ts';
import { loadConfig } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import { createHandlers, type Handlers } from '../ipc/handlers.ts';
import { RENDERER_DIR } from '../web/static-files.ts';
import { registerIpc, sendEventsTo } from './ipc.ts';
import { notifyOnEvents } from './notify.ts';
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, registerAppProtocol } from './protocol.ts';
import { SafeStorageSecrets } from './secrets.ts';
import { createMainWindow, denyPermissions, lockDownContents } from './window.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: APP_SCHEME_PRIVILEGES }]);

let win: BrowserWindow | null = null;
let core: Core | null = null;
let stopped = false;

if (!app.requestSingleInstanceLock()) {
  // Another Parley owns the port, the records and the plugins folder: hand over to it.
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents, shell));
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', (event) => {
    if (stopped || !core) return;
    event.preventDefault();
    void shutdown().finally(() => {
      stopped = true;
      app.quit();
    });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());
  app.whenReady().then(start, (err) => fatal(err));
}

async function start(): Promise<void> {
  const userData = app.getPath('userData');
  const secrets = new SafeStorageSecrets(join(userData, 'secrets.json'), safeStorage);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PARLEY_DATA_DIR: process.env.PARLEY_DATA_DIR || userData,
    PARLEY_MODELS_DIR: process.env.PARLEY_MODELS_DIR || join(userData, 'models'),
  };
  if (app.isPackaged && !process.env.PARLEY_BUILTIN_PLUGINS_DIR) env.PARLEY_BUILTIN_PLUGINS_DIR = join(process.resourcesPath, 'plugins');
  const problems: string[] = [];
  const saved = secrets.load((key) => problems.push(`The saved ${key} could not be decrypted (OS keychain changed?); enter it again in Settings.`));
  const config = loadConfig({ env, dotenv: true, overrides: saved });
  // The same keychain store serves the GUI's Settings and the control API's PUT /settings.
  core = createCore(config, { secrets });
  for (const p of problems) core.log.warn(p);

  const handlers: Handlers = createHandlers(core, {
    mode: 'electron',
    version: app.getVersion(),
    secrets,
    openFolder: async (path) => (await shell.openPath(path)) === '',
    recordingUrl: (sid) => `parley://app/recordings/${encodeURIComponent(sid)}.wav`,
  });
  let startError: string | null = null;
  const baseStatus = handlers['status.get'];
  handlers['status.get'] = async (request) => {
    const status = await baseStatus(request);
    return startError ? { ...status, server: { ok: false, detail: startError, url: null } } : status;
  };

  denyPermissions(session.defaultSession);
  const live = core;
  registerAppProtocol(protocol, { rendererDir: RENDERER_DIR, recordingFile: (sid) => live.records?.recordingFile(sid) ?? null });
  registerIpc({
    ipcMain,
    handlers,
    trustedContents: () => (win && !win.isDestroyed() ? win.webContents : null),
    onRefused: (channel, reason) => live.log.warn('IPC message refused', { channel, reason }),
  });
  sendEventsTo(core, () => (win && !win.isDestroyed() ? win.webContents : null));
  // An incoming call or a new message: an OS notification; clicking it brings the window forward.
  notifyOnEvents(core, Notification, () => {
    if (!win || win.isDestroyed()) return;
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  });
  win = createMainWindow(BrowserWindow, shell, join(here, 'preload.cjs'));
  win.on('closed', () => (win = null));

  try {
    const addr = await core.start();
    core.log.info(`Parley is running; Twilio webhooks reach ${addr.url} (through your tunnel or PUBLIC_URL)`);
  } catch (err) {
    startError = `The server could not start: ${errorMessage(err)}`;
    core.log.error(startError);
    dialog.showErrorBox('Parley could not start its server', `${errorMessage(err)}\n\nCalls cannot come in until this is fixed. Call history and settings still work.`);
  }
}

/** Hang up live calls (when the core can), then stop the core — never longer than ~10 s in all. */
async function shutdown(): Promise<void> {
  const c = core;
  if (!c) return;
  const hangup = (c as unknown as { hangup?: (sid: string) => Promise<void> }).hangup;
  const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
  if (typeof hangup === 'function') {
    await within(Promise.allSettled(c.calls().map((call) => hangup.call(c, call.callSid))), 3000);
  }
  await within(c.stop().catch((err) => c.log.error('stopping the core failed', { error: errorMessage(err) })), 7000);
}

function fatal(err: unknown): void {
  dialog.showErrorBox('Parley could not start', errorMessage(err));
  app.exit(1);
}
