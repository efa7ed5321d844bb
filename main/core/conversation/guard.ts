/**
 * Wrapping plugin calls so a plugin that hangs, throws or returns garbage ends one turn with a clear error
 * instead of stalling the call. Timeouts abort the plugin's signal, then surface as PLUGIN_TIMEOUT.
 */
import { ParleyError, abortError, isAbortError, isParleyError } from '../errors.ts';
import type { AudioChunk } from '../plugins/api.ts';

export function timeoutError(plugin: string, what: string, ms: number): ParleyError {
  return new ParleyError('PLUGIN_TIMEOUT', `${plugin} did not ${what} within ${ms} ms. It may be overloaded or stuck; check its settings or pick another plugin.`);
}

/** Await a promise, rejecting with PLUGIN_TIMEOUT after `ms` (and aborting `controller`), or AbortError on abort. */
export function guardPromise<T>(promise: Promise<T>, opts: { ms: number; controller: AbortController; plugin: string; what: string }): Promise<T> {
  const { signal } = opts.controller;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      promise.catch(() => {});
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      const err = timeoutError(opts.plugin, opts.what, opts.ms);
      cleanup();
      opts.controller.abort(err);
      reject(err);
    }, opts.ms);
    const onAbort = () => {
      cleanup();
      reject(signal.reason instanceof ParleyError ? signal.reason : abortError());
    };
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e) => {
        cleanup();
        reject(e);
      },
    );
  });
}

/** Iterate with a per-item timeout; stops the source iterator on exit. */
export async function* guardIterable<T>(source: AsyncIterable<T>, opts: { ms: number; controller: AbortController; plugin: string; what: string }): AsyncGenerator<T> {
  let it: AsyncIterator<T>;
  try {
    it = source[Symbol.asyncIterator]();
  } catch (err) {
    throw new ParleyError('PLUGIN_GARBAGE', `${opts.plugin} did not return an async iterable: ${(err as Error).message}`);
  }
  let done = false;
  try {
    for (;;) {
      const r = await guardPromise(Promise.resolve(it.next()), opts);
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) void Promise.resolve(it.return?.()).catch(() => {});
  }
}

export function checkText(plugin: string, value: unknown): string {
  if (typeof value !== 'string') throw new ParleyError('PLUGIN_GARBAGE', `${plugin} yielded ${value === null ? 'null' : typeof value} instead of a text delta (string)`);
  return value;
}

export function checkAudio(plugin: string, value: unknown): AudioChunk {
  const chunk = value as Partial<AudioChunk> | null;
  if (!chunk || !(chunk.samples instanceof Float32Array)) throw new ParleyError('PLUGIN_GARBAGE', `${plugin} yielded something other than { samples: Float32Array, sampleRate }`);
  if (!Number.isInteger(chunk.sampleRate) || chunk.sampleRate! < 8000 || chunk.sampleRate! > 192000) {
    throw new ParleyError('PLUGIN_GARBAGE', `${plugin} yielded audio with sampleRate ${String(chunk.sampleRate)}; expected an integer between 8000 and 192000`);
  }
  return chunk as AudioChunk;
}

/** An error that is just our own cancellation (not a plugin failure). */
export function isCancellation(err: unknown): boolean {
  return isAbortError(err) && !isParleyError(err);
}

/** Abort `controller` when `parent` aborts (the call ended), without leaking a listener once it is done. */
export function linkAbort(parent: AbortSignal, controller: AbortController): AbortController {
  if (parent.aborted) controller.abort();
  else parent.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
  return controller;
}
