// Development only: runs a TypeScript worker entry through tsx. (Node 20 does not apply `--import` loaders to
// worker threads, so the loader is registered here, inside the worker, before the entry is imported.)
// The packaged app uses the esbuild bundles in dist/workers/ and never loads this file.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.__parleyEntry);
