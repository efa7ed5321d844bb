// Work one step ahead of the consumer, so streamed output has no gaps: a TTS plugin synthesizes the next piece
// while the caller is still consuming the previous one.
import { abortable, abortError } from './plugin-errors.js';

/**
 * Yields `await work(item, signal)` for each item, in order (results that are `undefined` are skipped); item
 * i + 1 is started as soon as item i's result is handed over. When `signal` aborts it rejects at once with an
 * AbortError; aborting or stopping early also aborts the signal the work in flight was given.
 */
export async function* runAhead(items, work, signal) {
  const inner = new AbortController();
  const onAbort = () => inner.abort(signal.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const start = (i) => {
    const p = work(items[i], inner.signal);
    p.catch(() => {}); // consumed below, or abandoned
    return p;
  };
  try {
    let next = items.length > 0 ? start(0) : undefined;
    for (let i = 0; i < items.length; i++) {
      const result = await abortable(next, signal);
      next = i + 1 < items.length ? start(i + 1) : undefined;
      if (signal?.aborted) throw abortError(signal);
      if (result !== undefined) yield result;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    inner.abort();
  }
}
