/**
 * Plugin code runs in child processes ("worker processes"), never in the app's own process or threads: a
 * plugin that blocks, leaks or crashes natively — onnxruntime aborting on a corrupt model, say — takes down only
 * its own process, which can always be killed safely (terminating a *thread* inside a native call can abort the
 * whole app).
 *
 * Started from source (tsx: development and tests) and from the esbuild bundle (the app) alike: source entries
 * are `*.ts` run with tsx's loader; bundled ones are `dist/workers/<name>.mjs`. Inside Electron, `fork` runs
 * the Electron binary as plain Node (it sets ELECTRON_RUN_AS_NODE itself).
 */
import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const fromSource = import.meta.url.endsWith('.ts');

/** Worker entries by name → their source file, relative to main/core/. */
const SOURCES = {
  'plugin-host': './plugins/plugin-host.ts',
} as const;

export type WorkerName = keyof typeof SOURCES;

let tsxLoader: string | null = null;

export function forkWorker(name: WorkerName, options: ForkOptions = {}): ChildProcess {
  const execArgv = [...(options.execArgv ?? [])];
  let entry: string;
  if (fromSource) {
    tsxLoader ??= pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    execArgv.unshift('--import', tsxLoader);
    entry = fileURLToPath(new URL(SOURCES[name], import.meta.url));
  } else entry = fileURLToPath(new URL(`./workers/${name}.mjs`, import.meta.url));
  return fork(entry, [], {
    ...options,
    execArgv,
    // Typed arrays (audio) cross the boundary intact.
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}
