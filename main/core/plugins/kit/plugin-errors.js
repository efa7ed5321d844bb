// Errors and abort handling every plugin needs: an Error with the `code` the host turns into a user-facing
// message, and the AbortError the contract asks for when a call's signal aborts.

/**
 * An Error with a `code` the host understands (MODEL_MISSING, MODEL_CORRUPT, PLUGIN_FAILED, ...).
 * `details` is machine-readable context (e.g. `{ file }`); `cause` the error behind it.
 */
export function pluginError(code, message, { details, cause } = {}) {
  const err = new Error(message, cause === undefined ? undefined : { cause });
  err.name = 'PluginError';
  err.code = code;
  if (details) err.details = details;
  return err;
}

/** The AbortError the contract asks for (`err.name === 'AbortError'`), carrying the signal's reason as its cause. */
export function abortError(signal) {
  const reason = signal?.reason;
  const err = new Error('The operation was aborted', reason === undefined ? undefined : { cause: reason });
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/**
 * Settles like `promise`, or rejects with an AbortError as soon as `signal` aborts (calling `onAbort` first, e.g.
 * to tell the work to stop). An ONNX run cannot be interrupted: this is how a call rejects at once anyway.
 */
export function abortable(promise, signal, onAbort) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(abortError(signal));
    };
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}

/** Wait `ms`, or reject with an AbortError as soon as `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
