/**
 * Starting worker threads from source (tsx, development and tests) and from the esbuild bundle (the app) alike.
 * Source entries are `*.ts`, started through worker-boot.mjs; bundled workers are `dist/workers/<name>.mjs`.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

const fromSource = import.meta.url.endsWith('.ts');

/** Worker scripts by name → their source file, relative to main/core/. */
const SOURCES = {
  'plugin-host': './plugins/host-worker.ts',
} as const;

export type WorkerName = keyof typeof SOURCES;

export function startWorker(name: WorkerName, options: WorkerOptions = {}): Worker {
  if (!fromSource) return new Worker(new URL(`./workers/${name}.mjs`, import.meta.url), options);
  const entry = new URL(SOURCES[name], import.meta.url).href;
  const workerData = { ...(options.workerData ?? {}), __parleyEntry: entry };
  return new Worker(new URL('./worker-boot.mjs', import.meta.url), { ...options, workerData });
}
