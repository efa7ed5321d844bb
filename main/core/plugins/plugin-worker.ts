/**
 * The main-thread side of a plugin instance living in its own worker thread. It implements the plugin
 * contract (transcribe / chat / synthesize), so the engine cannot tell it from an in-process instance — but a
 * plugin that blocks, leaks or crashes can only hurt its own thread. Crashed workers restart on demand.
 */
import type { Worker } from 'node:worker_threads';
import { ParleyError, abortError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { startWorker } from '../workers.ts';
import type { AudioChunk, ChatMessage, CallOptions, PluginKind } from './api.ts';
import { deserializeError, type FromWorker, type ToWorker } from './host-protocol.ts';

export interface PluginWorkerSpec {
  name: string;
  kind: PluginKind;
  dir: string;
  main: string;
  settings: Record<string, unknown>;
  modelDir: string;
}

export interface PluginWorkerOptions {
  /** How long create(ctx) may take (loading a model can be slow). */
  loadTimeoutMs?: number;
  /** After an abort, how long the worker may stay silent before it is considered stuck and restarted. */
  stuckAfterMs?: number;
  /** After a failed create(), how long before a call tries again. */
  retryAfterMs?: number;
}

type Waiter = { resolve: (msg: FromWorker) => void; reject: (err: Error) => void };

export type PluginWorkerState = 'idle' | 'starting' | 'ready' | 'failed' | 'disposed';

export class PluginWorker {
  readonly spec: PluginWorkerSpec;
  readonly #log: Logger;
  readonly #opts: Required<PluginWorkerOptions>;
  #worker: Worker | null = null;
  #starting: Promise<void> | null = null;
  #state: PluginWorkerState = 'idle';
  #lastError: Error | null = null;
  #failedAt = 0;
  #nextId = 1;
  readonly #waiters = new Map<number, Waiter>();

  constructor(spec: PluginWorkerSpec, log: Logger, options: PluginWorkerOptions = {}) {
    this.spec = spec;
    this.#log = log.child({ plugin: spec.name });
    this.#opts = { loadTimeoutMs: options.loadTimeoutMs ?? 180_000, stuckAfterMs: options.stuckAfterMs ?? 2_000, retryAfterMs: options.retryAfterMs ?? 10_000 };
  }

  get state(): PluginWorkerState {
    return this.#state;
  }

  get lastError(): Error | null {
    return this.#lastError;
  }

  /** Start (or restart) the worker and create the instance. Resolves when ready. */
  start(): Promise<void> {
    if (this.#state === 'disposed') return Promise.reject(new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`));
    if (this.#state === 'ready' && this.#worker) return Promise.resolve();
    if (this.#starting) return this.#starting;
    if (this.#state === 'failed' && this.#lastError && Date.now() - this.#failedAt < this.#opts.retryAfterMs) {
      return Promise.reject(this.#lastError);
    }
    this.#state = 'starting';
    const started = Date.now();
    this.#starting = new Promise<void>((resolve, reject) => {
      const worker = startWorker('plugin-host', { name: `plugin:${this.spec.name}` });
      this.#worker = worker;
      let settled = false;
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#starting = null;
        if (err) {
          this.#state = 'failed';
          this.#lastError = err;
          this.#failedAt = Date.now();
          this.#worker = null;
          void worker.terminate();
          reject(err);
        } else {
          this.#state = 'ready';
          this.#lastError = null;
          this.#log.info('plugin ready', { ms: Date.now() - started });
          resolve();
        }
      };
      const timer = setTimeout(() => finish(new ParleyError('PLUGIN_TIMEOUT', `plugin ${this.spec.name}: create() did not finish within ${this.#opts.loadTimeoutMs / 1000} s`)), this.#opts.loadTimeoutMs);
      worker.on('message', (msg: FromWorker) => {
        if (msg.t === 'ready') finish(null);
        else if (msg.t === 'init-error') finish(this.#pluginError(deserializeError(msg.error), 'could not start'));
        else this.#dispatch(msg);
      });
      worker.on('error', (err) => {
        this.#log.error('plugin worker crashed', { error: err.message });
        this.#crashed(worker, new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} crashed: ${err.message}`, { cause: err }));
        finish(this.#lastError ?? err);
      });
      worker.on('exit', (code) => {
        const err = new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name}'s worker exited (code ${code})`);
        this.#crashed(worker, err);
        finish(err);
      });
      worker.postMessage({ t: 'init', ...this.spec } satisfies ToWorker);
    });
    return this.#starting;
  }

  #pluginError(err: Error & { code?: string }, what: string): Error {
    const code = err.code && /^[A-Z_]+$/.test(err.code) ? err.code : 'PLUGIN_FAILED';
    return new ParleyError(code as 'PLUGIN_FAILED', `plugin ${this.spec.name} ${what}: ${err.message}`, { cause: err });
  }

  #crashed(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    if (this.#state !== 'disposed') this.#state = 'idle';
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
  }

  #dispatch(msg: FromWorker): void {
    if (msg.t === 'log') {
      this.#log[msg.level](msg.msg, msg.fields);
      return;
    }
    if ('id' in msg) {
      const w = this.#waiters.get(msg.id);
      if (w) {
        this.#waiters.delete(msg.id);
        w.resolve(msg);
      }
    }
  }

  #post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.#worker?.postMessage(msg, transfer);
  }

  #wait(id: number, signal: AbortSignal | undefined): Promise<FromWorker> {
    return new Promise<FromWorker>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      const onAbort = () => {
        this.#waiters.delete(id);
        this.#post({ t: 'abort', id, reason: 'aborted by the engine' });
        this.#checkStuck();
        reject(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.set(id, {
        resolve: (m) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(m);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
    });
  }

  /** A plugin that ignores an abort may be blocking its thread: if it does not answer a ping, restart it. */
  #checkStuck(): void {
    const worker = this.#worker;
    if (!worker) return;
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      if (this.#worker !== worker) return;
      this.#waiters.delete(id);
      this.#log.warn('plugin is not responding after an abort; restarting its worker');
      this.#crashed(worker, new ParleyError('PLUGIN_TIMEOUT', `plugin ${this.spec.name} stopped responding and was restarted`));
      void worker.terminate();
    }, this.#opts.stuckAfterMs);
    timer.unref();
    this.#waiters.set(id, { resolve: () => clearTimeout(timer), reject: () => clearTimeout(timer) });
    this.#post({ t: 'ping', id });
  }

  #check(msg: FromWorker, what: string): FromWorker {
    if (msg.t === 'error') throw this.#pluginError(deserializeError(msg.error), `${what} failed`);
    return msg;
  }

  async transcribe(audio: { samples: Float32Array; sampleRate: 16000 }, options: CallOptions): Promise<{ text: string }> {
    await this.start();
    const id = this.#nextId++;
    const samples = audio.samples.slice();
    const reply = this.#wait(id, options.signal);
    this.#post({ t: 'call', id, method: 'transcribe', args: [{ samples, sampleRate: audio.sampleRate }] }, [samples.buffer]);
    const msg = this.#check(await reply, 'transcribe()');
    return (msg as { value: { text: string } }).value;
  }

  chat(messages: ChatMessage[], options: CallOptions): AsyncIterable<string> {
    return this.#stream<string>('chat', [messages], options);
  }

  synthesize(text: string, options: CallOptions): AsyncIterable<AudioChunk> {
    return this.#stream<AudioChunk>('synthesize', [text], options);
  }

  #stream<T>(method: 'chat' | 'synthesize', args: unknown[], options: CallOptions): AsyncIterable<T> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        await self.start();
        const id = self.#nextId++;
        let finished = false;
        let reply: Promise<FromWorker> | null = null;
        try {
          reply = self.#wait(id, options.signal);
          self.#post({ t: 'call', id, method, args });
          for (;;) {
            const msg = self.#check(await reply!, `${method}()`);
            if (msg.t === 'done') {
              finished = true;
              return;
            }
            if (msg.t !== 'item') throw new ParleyError('PLUGIN_GARBAGE', `plugin ${self.spec.name} sent an unexpected ${msg.t}`);
            reply = self.#wait(id, options.signal);
            self.#post({ t: 'next', id });
            yield msg.value as T;
          }
        } finally {
          if (!finished) {
            // The consumer stopped early: the request for the next item will never be awaited.
            reply?.catch(() => {});
            self.#waiters.delete(id);
            self.#post({ t: 'return', id });
          }
        }
      },
    };
  }

  /** Let the plugin dispose() itself, then end the worker (forcefully after `graceMs`). */
  async dispose(graceMs = 3_000): Promise<void> {
    const worker = this.#worker;
    this.#state = 'disposed';
    this.#worker = null;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'disposed') {
          clearTimeout(timer);
          resolve();
        }
      });
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ t: 'dispose' } satisfies ToWorker);
    });
    for (const w of this.#waiters.values()) w.reject(new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`));
    this.#waiters.clear();
    await worker.terminate();
  }
}

/** Import a plugin module in a throwaway worker to check that it loads and exports create(). */
export function inspectPlugin(dir: string, main: string, timeoutMs = 30_000): Promise<Error | null> {
  return new Promise((resolve) => {
    const worker = startWorker('plugin-host', { name: 'plugin:inspect' });
    const done = (err: Error | null) => {
      clearTimeout(timer);
      worker.removeAllListeners();
      void worker.terminate();
      resolve(err);
    };
    const timer = setTimeout(() => done(new ParleyError('PLUGIN_TIMEOUT', `importing ${main} took longer than ${timeoutMs / 1000} s`)), timeoutMs);
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'inspected') done(m.error ? deserializeError(m.error) : null);
    });
    worker.on('error', (err) => done(err));
    worker.on('exit', (code) => done(new Error(`import crashed the worker (exit code ${code})`)));
    worker.postMessage({ t: 'inspect', dir, main } satisfies ToWorker);
  });
}
