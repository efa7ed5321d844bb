// llama-llm: a local GGUF model through node-llama-cpp, run in a child process (child.js) so a malformed model or
// a native crash costs one turn, not the app. The child is started in create(), and restarted on demand at the
// next chat() after it dies. Per-call state (a sequence and KV cache per callSid: chat, prepare, endCall) lives in
// the child (sequences.js); a restarted child starts with none. Reaches the host only through ctx (ctx.resolve
// gives the runtime's entry file; ctx.import('parley:kit') the errors).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkGgufHeader, resolveModelFile } from './model-file.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const LOAD_TIMEOUT_MS = 300_000;
const STDERR_TAIL = 20;

/** A stream of text deltas fed by IPC messages; `next()` rejects as soon as the stream fails (e.g. on abort). */
class DeltaStream {
  #items = [];
  #waiter = null;
  #ended = false;
  #error = null;
  get finished() {
    return this.#ended || this.#error !== null;
  }
  push(text) {
    if (this.finished) return;
    if (this.#waiter) {
      const { resolve } = this.#waiter;
      this.#waiter = null;
      resolve({ value: text, done: false });
    } else this.#items.push(text);
  }
  end() {
    if (this.finished) return;
    this.#ended = true;
    this.#settle();
  }
  fail(err) {
    if (this.finished) return;
    this.#error = err;
    this.#items = [];
    this.#settle();
  }
  #settle() {
    if (!this.#waiter) return;
    const { resolve, reject } = this.#waiter;
    this.#waiter = null;
    if (this.#error) reject(this.#error);
    else resolve({ value: undefined, done: true });
  }
  next() {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift(), done: false });
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }
}

class LlamaLlm {
  #ctx;
  #kit;
  #settings;
  #runtime;
  #child = null;
  #nextId = 1;
  #disposed = false;

  constructor(ctx, kit) {
    this.#ctx = ctx;
    this.#kit = kit;
    const s = ctx.settings;
    this.#settings = {
      threads: Number.isInteger(s.threads) && s.threads > 0 ? s.threads : 0,
      contextSize: Number.isInteger(s.contextSize) ? s.contextSize : 2048,
      maxCalls: Number.isInteger(s.maxCalls) && s.maxCalls > 0 ? s.maxCalls : 3,
      maxTokens: Number.isInteger(s.maxTokens) && s.maxTokens > 0 ? s.maxTokens : 200,
      temperature: typeof s.temperature === 'number' ? s.temperature : 0.7,
      toolChoice: s.toolChoice === 'required' ? 'required' : 'auto',
      gpu: s.gpu === undefined || s.gpu === 'auto' ? 'auto' : s.gpu === 'false' ? false : s.gpu,
    };
    if (typeof ctx.resolve !== 'function') {
      throw this.#kit.pluginError('PLUGIN_FAILED', 'llama-llm needs ctx.resolve("node-llama-cpp") to start its child process; this Parley host does not provide it.');
    }
    this.#runtime = ctx.resolve('node-llama-cpp');
  }

  /** Start the child and load the model; resolves with what llama.cpp reported. */
  async start() {
    const child = this.#spawn();
    return child.ready;
  }

  #spawn() {
    const model = resolveModelFile(this.#ctx.settings, this.#ctx.modelDir, this.#kit);
    checkGgufHeader(model.path, model.id, this.#kit);
    if (model.others.length > 0) this.#ctx.log.warn('several .gguf files in the model folder; using the first', { using: model.path, ignored: model.others });

    const proc = fork(CHILD, [], { execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    const child = { proc, streams: new Map(), requests: new Map(), stderr: [], exited: false, failed: false, info: null, model: model.path, ready: null };
    this.#child = child;
    const log = this.#ctx.log;
    const keepTail = (line) => {
      child.stderr.push(line);
      if (child.stderr.length > STDERR_TAIL) child.stderr.shift();
    };
    for (const stream of [proc.stdout, proc.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        for (const line of chunk.split('\n')) if (line.trim()) (keepTail(line), log.debug(`llama child: ${line}`));
      });
    }

    child.ready = new Promise((resolve, reject) => {
      // A failed load retires this child at once, so the next chat starts a fresh one even before it has exited.
      const failLoad = (err) => {
        child.failed = true;
        if (this.#child === child) this.#child = null;
        reject(err);
      };
      const timer = setTimeout(() => {
        failLoad(this.#kit.pluginError('PLUGIN_FAILED', `llama.cpp did not finish loading ${model.path} within ${LOAD_TIMEOUT_MS / 1000} s.`, { details: { file: model.path } }));
        proc.kill('SIGKILL');
      }, LOAD_TIMEOUT_MS);
      timer.unref();
      proc.on('message', (msg) => {
        if (msg.t === 'ready') {
          clearTimeout(timer);
          child.info = msg.info;
          log.info('llama model loaded', { model: model.path, ...msg.info });
          resolve(msg.info);
        } else if (msg.t === 'load-error') {
          clearTimeout(timer);
          failLoad(this.#kit.pluginError(msg.code, msg.message, { details: { file: model.path } }));
          proc.kill('SIGKILL');
        } else this.#onMessage(child, msg);
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        child.exited = true;
        if (this.#child === child) this.#child = null;
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const tail = child.stderr.length ? ` Last output: ${child.stderr.slice(-3).join(' | ')}` : '';
        if (this.#disposed) reject(this.#kit.pluginError('PLUGIN_FAILED', 'llama-llm was disposed while its model was loading'));
        else if (!child.info) {
          // Dying before "ready" means llama.cpp fell over on this file.
          reject(this.#kit.pluginError('MODEL_CORRUPT', `llama.cpp crashed (${how}) while loading ${model.path}; the file is damaged or not supported.${tail}`, { details: { file: model.path } }));
        }
        if (child.streams.size > 0) {
          const err = this.#kit.pluginError('PLUGIN_FAILED', `llama.cpp stopped unexpectedly (${how}) while answering with ${model.path}; the next turn restarts it.${tail}`, { details: { file: model.path } });
          for (const s of child.streams.values()) s.fail(err);
          child.streams.clear();
        }
        // prepare/endCall in flight: the child's state is gone with it, so there is nothing left to prepare or free.
        for (const r of child.requests.values()) r.resolve(undefined);
        child.requests.clear();
        if (!this.#disposed && child.info) log.warn('llama child exited; it restarts at the next turn', { how });
      });
      proc.on('error', (err) => log.warn('llama child process error', { error: err.message }));
    });
    // Avoid an unhandled rejection when nobody is waiting on a failed (re)start.
    child.ready.catch(() => {});
    proc.send({ t: 'load', runtime: this.#runtime, model: model.path, gpu: this.#settings.gpu, threads: this.#settings.threads, contextSize: this.#settings.contextSize, maxCalls: this.#settings.maxCalls });
    return child;
  }

  #onMessage(child, msg) {
    if (msg.t === 'log') {
      const at = this.#ctx.log[msg.level] ?? this.#ctx.log.debug;
      at(msg.msg, msg.fields);
      return;
    }
    const request = child.requests.get(msg.id);
    if (request) {
      child.requests.delete(msg.id);
      if (msg.t === 'error') request.reject(this.#kit.pluginError(msg.code, msg.message, { details: { file: child.model } }));
      else {
        if (msg.stats) this.#ctx.log.debug(msg.t === 'prepared' ? 'llama prepare' : 'llama end call', msg.stats);
        request.resolve(msg);
      }
      return;
    }
    const stream = child.streams.get(msg.id);
    if (!stream) return;
    if (msg.t === 'delta') stream.push(msg.text);
    else if (msg.t === 'tool_call') stream.push({ type: 'tool_call', id: msg.call.id, name: msg.call.name, arguments: msg.call.arguments });
    else if (msg.t === 'done') {
      child.streams.delete(msg.id);
      if (msg.stats) this.#ctx.log.debug('llama turn', msg.stats);
      stream.end();
    } else if (msg.t === 'error') {
      child.streams.delete(msg.id);
      stream.fail(this.#kit.pluginError(msg.code, msg.message, { details: { file: child.model } }));
    }
  }

  /** The running child, restarting it when it died; abortable while waiting for a (re)load. */
  async #liveChild(signal) {
    let child = this.#child;
    if (!child || child.exited || child.failed) child = this.#spawn();
    if (child.info) return child;
    let onAbort;
    const aborted = new Promise((_, reject) => {
      onAbort = () => reject(this.#kit.abortError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([child.ready, aborted]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return child;
  }

  /** Text deltas; with `tools` (extension to v1) also `{ type: 'tool_call', id, name, arguments }` items. */
  chat(messages, { signal, callSid, tools } = {}) {
    return this.#chat(messages, signal, callSid, tools);
  }

  async *#chat(messages, signal, callSid, tools) {
    if (this.#disposed) throw this.#kit.pluginError('PLUGIN_FAILED', 'llama-llm was disposed');
    if (signal?.aborted) throw this.#kit.abortError(signal);
    if (!Array.isArray(messages) || messages.length === 0) throw this.#kit.pluginError('PLUGIN_FAILED', 'chat() needs at least one message');
    const child = await this.#liveChild(signal);
    const id = this.#nextId++;
    const stream = new DeltaStream();
    child.streams.set(id, stream);
    const onAbort = () => {
      // Reject at once; the child stops generating in the background and stays up for the next turn.
      stream.fail(this.#kit.abortError(signal));
      child.streams.delete(id);
      if (!child.exited) child.proc.send({ t: 'abort', id });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.proc.send({
      t: 'chat',
      id,
      callSid: typeof callSid === 'string' ? callSid : undefined,
      messages: plain(messages),
      maxTokens: this.#settings.maxTokens,
      temperature: this.#settings.temperature,
      ...(Array.isArray(tools) && tools.length > 0 ? { tools: plainTools(tools), toolChoice: this.#settings.toolChoice } : {}),
    });
    try {
      while (true) {
        const { value, done } = await stream.next();
        if (done) return;
        yield value;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (child.streams.has(id)) {
        // The consumer stopped early (break/return): stop the generation too.
        child.streams.delete(id);
        if (!child.exited) child.proc.send({ t: 'abort', id });
      }
    }
  }

  /**
   * Evaluate the call's opening (system prompt, greeting) into the sequence it will keep, so its first turn
   * evaluates only the caller's words. Without a callSid there is no call to keep it for: nothing to do.
   */
  async prepare(messages, { signal, callSid } = {}) {
    if (this.#disposed) throw this.#kit.pluginError('PLUGIN_FAILED', 'llama-llm was disposed');
    if (signal?.aborted) throw this.#kit.abortError(signal);
    if (typeof callSid !== 'string' || !Array.isArray(messages) || messages.length === 0) return;
    const child = await this.#liveChild(signal);
    await this.#request(child, { t: 'prepare', callSid, messages: plain(messages), maxTokens: this.#settings.maxTokens }, signal);
  }

  /** The call ended: stop its turns and clear its sequence for the next call. */
  async endCall(callSid) {
    const child = this.#child;
    if (typeof callSid !== 'string' || !child || child.exited || !child.info) return;
    await this.#request(child, { t: 'end-call', callSid });
  }

  /** One request/answer exchange with the child; an abort rejects at once and tells the child to stop. */
  async #request(child, msg, signal) {
    const id = this.#nextId++;
    let onAbort;
    const answer = new Promise((resolve, reject) => {
      child.requests.set(id, { resolve, reject });
      onAbort = () => {
        child.requests.delete(id);
        if (!child.exited) child.proc.send({ t: 'abort', id });
        reject(this.#kit.abortError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    child.proc.send({ ...msg, id });
    try {
      await answer;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async dispose() {
    this.#disposed = true;
    const child = this.#child;
    this.#child = null;
    if (!child || child.exited) return;
    for (const s of child.streams.values()) s.fail(this.#kit.abortError());
    child.streams.clear();
    for (const r of child.requests.values()) r.resolve(undefined);
    child.requests.clear();
    const exited = new Promise((resolve) => child.proc.once('exit', resolve));
    child.proc.kill('SIGTERM');
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

function plain(messages) {
  return messages.map((m) => {
    if (m.role === 'tool') return { role: 'tool', toolCallId: String(m.toolCallId ?? ''), name: String(m.name ?? ''), content: String(m.content ?? '') };
    const out = { role: m.role, content: String(m.content ?? '') };
    if (m.role === 'assistant' && Array.isArray(m.toolCalls) && m.toolCalls.length > 0) {
      out.toolCalls = m.toolCalls.map((c) => ({ id: String(c.id ?? ''), name: String(c.name ?? ''), arguments: c.arguments && typeof c.arguments === 'object' ? c.arguments : {} }));
    }
    return out;
  });
}

function plainTools(tools) {
  return tools.map((t) => ({ name: String(t.name), description: String(t.description ?? ''), parameters: t.parameters ?? { type: 'object', properties: {} } }));
}

export default {
  async create(ctx) {
    const llm = new LlamaLlm(ctx, await ctx.import('parley:kit'));
    await llm.start();
    return llm;
  },
};
