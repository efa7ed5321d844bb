/**
 * What the GUI's host can do when Parley runs headless (no Electron): secrets come only from the environment
 * or `.env` and are never written by the GUI (there is no OS keychain to put them in, and a plain-text file is
 * exactly what we promise not to make); folders open with the desktop's opener when there is one.
 */
import { spawn } from 'node:child_process';
import { environmentOnlySecrets } from '../core/settings.ts';
import type { HostServices } from '../ipc/handlers.ts';

// The core's own default store (main/core/settings.ts): the control API's PUT /settings says the same.
export { environmentOnlySecrets, HEADLESS_SECRETS_DETAIL } from '../core/settings.ts';

/** xdg-open / open / explorer; false when none could be started (a server with no desktop). */
export function openWithDesktop(path: string): Promise<boolean> {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [path]] : process.platform === 'win32' ? ['explorer', [path]] : ['xdg-open', [path]];
  return new Promise((resolve) => {
    try {
      const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

export function headlessHost(version: string): Omit<HostServices, 'recordingUrl'> {
  return { mode: 'headless', version, secrets: environmentOnlySecrets, openFolder: openWithDesktop };
}
