/**
 * The app's side of a plugin instance that lives in a worker process of its own (the plugin host,
 * plugin-host.ts, forked through workers.ts). It implements the plugin contract (transcribe / chat / synthesize /
 * predict, and the LLM's optional prepare / endCall),
 * so the engine cannot tell it from an in-process instance — but a plugin that blocks, leaks or crashes can only
 * hurt its own process. A crashed or stuck worker is restarted on demand.
 */
import type { ChildProcess } from 'node:child_process';
import { ParleyError, abortError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { forkWorker } from '../workers.ts';
import type { AudioChunk, ChatMessage, ChatOptions, CallOptions, PluginKind, ToolCallItem, ToolCallOptions, ToolSpec } from './api.ts';
import { deserializeError, MAX_PLUGIN_MESSAGE_BYTES, type CallExtras, type FromPluginHost, type PluginMethod, type ToPluginHost } from './plugin-host-protocol.ts';
import { LogRateLimit, MAX_PLUGIN_LINE_BYTES, PLUGIN_LOG_LINES_PER_SECOND, readLines, type OutputLines } from './plugin-output.ts';

export interface PluginProxySpec {
  name: string;
  kind: PluginKind;
  dir: string;
  main: string;
  settings: Record<string, unknown>;
  modelDir: string;
}

export interface PluginProxyOptions {
  /** How long create(ctx) may take (loading a model can be slow). */
  loadTimeoutMs?: number;
  /** After an abort, how long the plugin's process may stay silent before it is considered stuck and restarted. */
  stuckAfterMs?: number;
  /** After a failed create(), how long before a call tries again. */
  retryAfterMs?: number;
  /** Largest IPC message the plugin's process may send; a bigger one fails its request (PLUGIN_FAILED). */
  maxMessageBytes?: number;
  /** Longest line of the plugin's stdout/stderr kept in the log; the rest is dropped. */
  maxLineBytes?: number;
  /** Log lines a second from this plugin (output and ctx.log); more are counted and reported as suppressed. */
  logLinesPerSecond?: number;
}

type Waiter = { resolve: (msg: FromPluginHost) => void; reject: (err: Error) => void };

export type PluginProxyState = 'idle' | 'starting' | 'ready' | 'failed' | 'disposed';

/** One plugin's log: rate-limited, whatever the line came through (stdout, stderr, ctx.log). */
function limitedLog(log: Logger, perSecond?: number): { log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void } {
  const limit = new LogRateLimit((n, max) => log.warn(`… ${n} more log lines from this plugin suppressed (more than ${max} a second)`, { suppressed: n }), perSecond);
  return { log: (level, msg, fields) => limit.allow() && log[level](msg, fields) };
}

/**
 * Forward the plugin process's own stdout/stderr lines to the log (plugins may print): line length capped as
 * the bytes arrive, never buffered whole (see plugin-output.ts).
 */
function pipeOutput(child: ChildProcess, out: ReturnType<typeof limitedLog>, maxLineBytes = MAX_PLUGIN_LINE_BYTES): OutputLines[] {
  const lines: OutputLines[] = [];
  if (child.stdout) lines.push(readLines(child.stdout, (line) => out.log('debug', line), maxLineBytes));
  if (child.stderr) lines.push(readLines(child.stderr, (line) => out.log('warn', line), maxLineBytes));
  return lines;
}

export class PluginProxy {
  readonly spec: PluginProxySpec;
  readonly #log: Logger;
  readonly #opts: Required<PluginProxyOptions>;
  readonly #out: ReturnType<typeof limitedLog>;
  #lines: OutputLines[] = [];
  #outputHighWater = 0;
  #child: ChildProcess | null = null;
  #starting: Promise<void> | null = null;
  #state: PluginProxyState = 'idle';
  #lastError: Error | null = null;
  #failedAt = 0;
  #nextId = 1;
  #tools: ToolSpec[] = [];
  readonly #waiters = new Map<number, Waiter>();

  constructor(spec: PluginProxySpec, log: Logger, options: PluginProxyOptions = {}) {
    this.spec = spec;
    this.#log = log.child({ plugin: spec.name });
    this.#opts = {
      loadTimeoutMs: options.loadTimeoutMs ?? 180_000,
      stuckAfterMs: options.stuckAfterMs ?? 2_000,
      retryAfterMs: options.retryAfterMs ?? 10_000,
      maxMessageBytes: options.maxMessageBytes ?? MAX_PLUGIN_MESSAGE_BYTES,
      maxLineBytes: options.maxLineBytes ?? MAX_PLUGIN_LINE_BYTES,
      logLinesPerSecond: options.logLinesPerSecond ?? PLUGIN_LOG_LINES_PER_SECOND,
    };
    this.#out = limitedLog(this.#log, this.#opts.logLinesPerSecond);
  }

  /** The most bytes of the plugin's output ever held in this process for one unfinished line (bounded by maxLineBytes). */
  get outputHighWaterBytes(): number {
    return Math.max(this.#outputHighWater, ...this.#lines.map((l) => l.highWaterBytes));
  }

  get state(): PluginProxyState {
    return this.#state;
  }

  get lastError(): Error | null {
    return this.#lastError;
  }

  /** A tool plugin's tools, as its instance declared them (empty until it has started). */
  get tools(): ToolSpec[] {
    return this.#tools;
  }

  /** Start (or restart) the plugin's process and create the instance. Resolves when ready. */
  start(): Promise<void> {
    if (this.#state === 'disposed') return Promise.reject(new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`));
    if (this.#state === 'ready' && this.#child) return Promise.resolve();
    if (this.#starting) return this.#starting;
    if (this.#state === 'failed' && this.#lastError && Date.now() - this.#failedAt < this.#opts.retryAfterMs) {
      return Promise.reject(this.#lastError);
    }
    this.#state = 'starting';
    const started = Date.now();
    this.#starting = new Promise<void>((resolve, reject) => {
      const child = forkWorker('plugin-host');
      this.#child = child;
      this.#outputHighWater = this.outputHighWaterBytes;
      this.#lines = pipeOutput(child, this.#out, this.#opts.maxLineBytes);
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
          if (this.#child === child) this.#child = null;
          child.kill('SIGKILL');
          reject(err);
        } else {
          this.#state = 'ready';
          this.#lastError = null;
          this.#log.info('plugin ready', { ms: Date.now() - started });
          resolve();
        }
      };
      const timer = setTimeout(() => finish(new ParleyError('PLUGIN_TIMEOUT', `plugin ${this.spec.name}: create() did not finish within ${this.#opts.loadTimeoutMs / 1000} s`)), this.#opts.loadTimeoutMs);
      child.on('message', (msg: FromPluginHost) => {
        if (msg.t === 'ready') {
          this.#tools = Array.isArray(msg.tools) ? msg.tools : [];
          finish(null);
        }
        else if (msg.t === 'init-error') finish(this.#pluginError(deserializeError(msg.error), 'could not start'));
        else this.#dispatch(msg);
      });
      child.on('error', (err) => {
        this.#log.error('plugin worker failed', { error: err.message });
        const e = new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name}'s worker failed: ${err.message}`, { cause: err });
        this.#crashed(child, e);
        finish(e);
      });
      child.on('exit', (code, signal) => {
        const how = signal ? `was killed (${signal})` : `exited (code ${code})`;
        const err = new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name}'s worker ${how}`);
        if (this.#child === child && this.#state !== 'disposed') this.#log.warn(`plugin worker ${how}; it restarts at the next call`);
        this.#crashed(child, err);
        finish(err);
      });
      this.#post({ t: 'init', ...this.spec, maxMessageBytes: this.#opts.maxMessageBytes }, child);
    });
    return this.#starting;
  }

  #pluginError(err: Error & { code?: string }, what: string): Error {
    const code = err.code && /^[A-Z_]+$/.test(err.code) ? err.code : 'PLUGIN_FAILED';
    return new ParleyError(code as 'PLUGIN_FAILED', `plugin ${this.spec.name} ${what}: ${err.message}`, { cause: err });
  }

  #crashed(child: ChildProcess, err: Error): void {
    if (this.#child !== child) return;
    this.#child = null;
    if (this.#state !== 'disposed') this.#state = 'idle';
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
  }

  #dispatch(msg: FromPluginHost): void {
    if (msg.t === 'log') {
      const text = msg.msg.length > this.#opts.maxLineBytes ? `${msg.msg.slice(0, this.#opts.maxLineBytes)} … [cut at ${Math.round(this.#opts.maxLineBytes / 1024)} KB]` : msg.msg;
      this.#out.log(msg.level, text, msg.fields);
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

  #post(msg: ToPluginHost, child = this.#child): void {
    if (child?.connected) child.send(msg);
  }

  #wait(id: number, signal: AbortSignal | undefined): Promise<FromPluginHost> {
    return new Promise<FromPluginHost>((resolve, reject) => {
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

  /** A plugin that ignores an abort may be blocking its process: if it does not answer a ping, restart it. */
  #checkStuck(): void {
    const child = this.#child;
    if (!child) return;
    const id = this.#nextId++;
    const timer = setTimeout(() => {
      if (this.#child !== child) return;
      this.#waiters.delete(id);
      this.#log.warn('plugin is not responding after an abort; restarting its worker');
      this.#crashed(child, new ParleyError('PLUGIN_TIMEOUT', `plugin ${this.spec.name} stopped responding and was restarted`));
      child.kill('SIGKILL');
    }, this.#opts.stuckAfterMs);
    timer.unref();
    this.#waiters.set(id, { resolve: () => clearTimeout(timer), reject: () => clearTimeout(timer) });
    this.#post({ t: 'ping', id });
  }

  #check(msg: FromPluginHost, what: string): FromPluginHost {
    if (msg.t === 'error') throw this.#pluginError(deserializeError(msg.error), `${what} failed`);
    return msg;
  }

  transcribe(audio: { samples: Float32Array; sampleRate: 16000 }, options: CallOptions): Promise<{ text: string }> {
    return this.#single<{ text: string }>('transcribe', [{ samples: audio.samples, sampleRate: audio.sampleRate }], options);
  }

  /** A turn plugin's answer, checked: `complete` must be a probability, else PLUGIN_GARBAGE (the engine falls back). */
  async predict(audio: { samples: Float32Array; sampleRate: 16000 }, options: CallOptions): Promise<{ complete: number }> {
    const value = await this.#single<unknown>('predict', [{ samples: audio.samples, sampleRate: audio.sampleRate }], options);
    const complete = (value as { complete?: unknown } | null)?.complete;
    if (typeof complete !== 'number' || !(complete >= 0 && complete <= 1)) {
      const shown = JSON.stringify(value)?.slice(0, 80) ?? String(value);
      throw new ParleyError('PLUGIN_GARBAGE', `plugin ${this.spec.name}: predict() must resolve to { complete: a number from 0 to 1 } (got ${shown})`);
    }
    return { complete };
  }

  /** LLM extension: evaluate messages ahead of time. Resolves at once (a no-op) when the plugin has no prepare(). */
  async prepare(messages: ChatMessage[], options: CallOptions): Promise<void> {
    await this.#single<void>('prepare', [messages], options);
  }

  /** LLM extension: the call ended, free what was kept for it. A no-op when the plugin has no endCall(). */
  async endCall(callSid: string): Promise<void> {
    await this.#single<void>('endCall', [callSid], {});
  }

  chat(messages: ChatMessage[], options: CallOptions & { tools?: undefined }): AsyncIterable<string>;
  chat(messages: ChatMessage[], options: ChatOptions): AsyncIterable<string | ToolCallItem>;
  chat(messages: ChatMessage[], options: ChatOptions): AsyncIterable<string | ToolCallItem> {
    return this.#stream<string | ToolCallItem>('chat', [messages], options);
  }

  /** A tool plugin's `call(name, args, { signal, call })`: what it resolved with, unchecked (the tool loop checks it). */
  call(name: string, args: Record<string, unknown>, options: ToolCallOptions): Promise<unknown> {
    return this.#single<unknown>('call', [name, args], options);
  }

  synthesize(text: string, options: CallOptions): AsyncIterable<AudioChunk> {
    return this.#stream<AudioChunk>('synthesize', [text], options);
  }

  /** The `call` message: the extensions (callSid, tools, call) ride along only when set, so older plugins see the same message. */
  #call(id: number, method: PluginMethod, args: unknown[], options: { callSid?: string | undefined; tools?: ToolSpec[] | undefined; call?: ToolCallOptions['call'] | undefined }): ToPluginHost {
    const extras: CallExtras = {
      ...(typeof options.callSid === 'string' ? { callSid: options.callSid } : {}),
      ...(Array.isArray(options.tools) && options.tools.length > 0 ? { tools: options.tools } : {}),
      ...(options.call ? { call: options.call } : {}),
    };
    return { t: 'call', id, method, args, ...(Object.keys(extras).length > 0 ? { options: extras } : {}) };
  }

  async #single<T>(method: PluginMethod, args: unknown[], options: Partial<CallOptions> & { call?: ToolCallOptions['call'] }): Promise<T> {
    await this.start();
    const id = this.#nextId++;
    const reply = this.#wait(id, options.signal);
    this.#post(this.#call(id, method, args, options));
    const msg = this.#check(await reply, `${method}()`);
    return (msg as { value: T }).value;
  }

  #stream<T>(method: 'chat' | 'synthesize', args: unknown[], options: ChatOptions): AsyncIterable<T> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        await self.start();
        const id = self.#nextId++;
        let finished = false;
        let reply: Promise<FromPluginHost> | null = null;
        try {
          reply = self.#wait(id, options.signal);
          self.#post(self.#call(id, method, args, options));
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

  /** Let the plugin dispose() itself, then end its process (killed after `graceMs`). */
  async dispose(graceMs = 3_000): Promise<void> {
    const child = this.#child;
    this.#state = 'disposed';
    this.#child = null;
    for (const w of this.#waiters.values()) w.reject(new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`));
    this.#waiters.clear();
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (child.connected) child.send({ t: 'dispose' } satisfies ToPluginHost);
      else child.kill('SIGKILL');
    });
  }
}

/**
 * Import plugin modules in a throwaway plugin host (a worker process) to check that each loads and exports
 * create(). One process serves a whole scan; one that a plugin crashes is replaced for the rest.
 */
export async function inspectPlugins(list: { dir: string; main: string }[], log: Logger, timeoutMs = 30_000): Promise<(Error | null)[]> {
  const results: (Error | null)[] = [];
  let child: ChildProcess | null = null;
  try {
    for (const { dir, main } of list) {
      if (!child || child.exitCode !== null || child.signalCode !== null || !child.connected) {
        child = forkWorker('plugin-host');
        pipeOutput(child, limitedLog(log.child({ plugin: 'inspect' })));
      }
      const c: ChildProcess = child;
      results.push(
        await new Promise<Error | null>((resolve) => {
          const done = (err: Error | null) => {
            clearTimeout(timer);
            c.off('message', onMessage);
            c.off('exit', onExit);
            resolve(err);
          };
          const onMessage = (m: FromPluginHost) => {
            if (m.t === 'inspected') done(m.error ? deserializeError(m.error) : null);
          };
          const onExit = (code: number | null, signal: string | null) => done(new Error(`importing ${main} crashed its worker (${signal ?? `exit code ${code}`})`));
          const timer = setTimeout(() => {
            c.kill('SIGKILL');
            done(new ParleyError('PLUGIN_TIMEOUT', `importing ${main} took longer than ${timeoutMs / 1000} s`));
          }, timeoutMs);
          c.on('message', onMessage);
          c.once('exit', onExit);
          c.send({ t: 'inspect', dir, main } satisfies ToPluginHost);
        }),
      );
    }
  } finally {
    child?.kill('SIGKILL');
  }
  return results;
}
