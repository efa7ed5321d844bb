/**
 * What a plugin can reach through its ctx: `ctx.import(name)` hands it a host runtime (HOST_RUNTIMES) or the
 * plugin kit (PLUGIN_KIT); `ctx.resolve(name)` the entry file of a runtime, for a child process of its own.
 * Anything else is refused with a message that says what is handed out. Used by the plugin host (plugin-host.ts)
 * and by the contexts tests build.
 */
import { fileURLToPath } from 'node:url';
import { HOST_RUNTIMES, PLUGIN_KIT } from './api.ts';

function isHostRuntime(name: string): boolean {
  return (HOST_RUNTIMES as readonly string[]).includes(name);
}

function refused(call: 'import' | 'resolve', name: string, hint: string): Error & { code: string } {
  const err = new Error(`ctx.${call}("${name}"): ${hint}`) as Error & { code: string };
  err.code = 'PLUGIN_FAILED';
  return err;
}

/** `ctx.import(name)`: the kit, or a host runtime. */
export async function importForPlugin(name: string): Promise<unknown> {
  if (name === PLUGIN_KIT) return import('./kit/index.js');
  if (!isHostRuntime(name)) throw refused('import', name, `Parley hands plugins only ${HOST_RUNTIMES.join(', ')} and its plugin kit (${PLUGIN_KIT}). Bundle anything else inside your plugin folder.`);
  return import(name);
}

/** `ctx.resolve(name)`: the absolute path of a host runtime's entry. */
export function resolveForPlugin(name: string): string {
  if (name === PLUGIN_KIT) throw refused('resolve', name, `the plugin kit is handed out only through ctx.import("${PLUGIN_KIT}").`);
  if (!isHostRuntime(name)) throw refused('resolve', name, `Parley resolves only ${HOST_RUNTIMES.join(', ')}.`);
  return fileURLToPath(import.meta.resolve(name));
}
