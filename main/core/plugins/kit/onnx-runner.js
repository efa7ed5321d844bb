// One onnxruntime-node session for a plugin, run in a child process (onnx-child.mjs) when the host can say where
// its onnxruntime-node lives (`ctx.resolve`), in-process otherwise. onnxruntime-node's run() blocks the thread it
// runs on for the whole inference, and terminating a thread inside it aborts the whole process; in a child the
// host's event loop never waits, an abort returns at once (the run in flight finishes there and is dropped), and
// a crash or kill costs one run.
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { abortable, abortError, pluginError } from './plugin-errors.js';

// Beside this file in the source tree, and beside the bundled plugin host in the app (scripts/build.mjs).
const CHILD = fileURLToPath(new URL('./onnx-child.mjs', import.meta.url));

function loadFailure(modelPath, message) {
  return pluginError('MODEL_CORRUPT', `${modelPath} is not a model onnxruntime can load (${message.split('\n')[0]})`);
}

class ChildSession {
  constructor(ortEntry, modelPath, sessionOptions, log) {
    this.ortEntry = ortEntry;
    this.modelPath = modelPath;
    this.sessionOptions = sessionOptions;
    this.log = log;
    this.pending = new Map();
    this.nextId = 1;
    this.mode = 'child-process';
  }

  /** Start the child and wait until the model is loaded. */
  start() {
    this.ready = new Promise((resolve, reject) => {
      // execArgv: [] so the child does not inherit the host's loader flags; 'advanced' IPC carries typed arrays.
      const child = fork(CHILD, [this.ortEntry, this.modelPath, JSON.stringify(this.sessionOptions)], {
        execArgv: [],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
      this.child = child;
      let stderr = '';
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
      let loaded = false;
      child.on('message', (msg) => {
        if (msg.type === 'ready') {
          loaded = true;
          Object.assign(this, { inputNames: msg.inputNames, outputNames: msg.outputNames, inputMetadata: msg.inputMetadata });
          this.idle();
          resolve();
        } else if (msg.type === 'fatal') {
          const err = msg.stage === 'load' ? loadFailure(this.modelPath, msg.message) : pluginError('PLUGIN_FAILED', `onnxruntime-node could not start in a child process: ${msg.message}`);
          err.stage = msg.stage;
          reject(err);
        } else if (msg.type === 'result' || msg.type === 'error') {
          const p = this.pending.get(msg.id);
          if (!p) return; // aborted: nobody is waiting any more
          this.pending.delete(msg.id);
          if (this.pending.size === 0) this.idle();
          if (msg.type === 'result') p.resolve({ data: msg.data, dims: msg.dims });
          else p.reject(pluginError('PLUGIN_FAILED', `model run failed: ${msg.message}`));
        }
      });
      child.on('error', (err) => {
        if (!loaded) reject(pluginError('PLUGIN_FAILED', `the model process failed to start: ${err.message}`, { cause: err }));
      });
      child.on('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        const how = signal ? `signal ${signal}` : `code ${code}`;
        const detail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
        if (!loaded) reject(pluginError('PLUGIN_FAILED', `the model process exited (${how}) before loading the model${detail}`));
        else if (!this.closing) {
          this.log.warn('the model process stopped; it restarts at the next run', { exit: how });
          this.failAll(pluginError('PLUGIN_FAILED', `the model process stopped unexpectedly (${how})${detail}; it restarts at the next run`));
        }
      });
    });
    return this.ready;
  }

  /** The model process's id, for logs. */
  get pid() {
    return this.child?.pid;
  }

  /** An idle child must not keep the host's process alive; a busy one must. */
  idle() {
    this.child?.unref();
    this.child?.channel?.unref?.();
  }

  busy() {
    this.child?.ref();
    this.child?.channel?.ref?.();
  }

  failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async run(feeds, signal) {
    if (signal?.aborted) throw abortError(signal);
    if (this.closing) throw pluginError('PLUGIN_FAILED', 'the ONNX session was disposed');
    if (!this.child) await abortable(this.start(), signal);
    const id = this.nextId++;
    const result = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.busy();
    this.child.send({ type: 'run', id, feeds });
    try {
      return await abortable(result, signal);
    } catch (err) {
      if (this.pending.delete(id) && this.pending.size === 0) this.idle();
      throw err;
    }
  }

  /** Ask the child to release the session and exit (after a run in flight); kill it if it takes too long. */
  async dispose(graceMs = 2000) {
    this.closing = true;
    this.failAll(pluginError('PLUGIN_FAILED', 'the ONNX session was disposed'));
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.busy();
    if (child.connected) child.send({ type: 'close' });
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL'); // safe: it is a separate process
      await exited;
    }
    clearTimeout(timer);
    this.child = undefined;
  }
}

class InProcessSession {
  constructor(ort, session) {
    this.ort = ort;
    this.session = session;
    this.mode = 'in-process';
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
    this.inputMetadata = session.inputMetadata ?? [];
  }

  async run(feeds, signal) {
    if (signal?.aborted) throw abortError(signal);
    if (!this.session) throw pluginError('PLUGIN_FAILED', 'the ONNX session was disposed');
    const tensors = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = new this.ort.Tensor(f.type, f.data, f.dims);
    const outputs = await abortable(this.session.run(tensors), signal);
    const out = outputs[this.outputNames[0]];
    return { data: Float32Array.from(out.data), dims: [...out.dims] };
  }

  async dispose() {
    const s = this.session;
    this.session = undefined;
    await s?.release();
  }
}

/**
 * Open `modelPath`. Throws MODEL_CORRUPT when onnxruntime cannot load it. The returned session has
 * inputNames, outputNames, inputMetadata, mode ('child-process' | 'in-process'), run(feeds, signal) and dispose().
 * feeds: { [name]: { type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[] } }.
 */
export async function openOnnxSession({ ctx, modelPath, sessionOptions }) {
  let ortEntry;
  try {
    ortEntry = typeof ctx.resolve === 'function' ? ctx.resolve('onnxruntime-node') : undefined;
  } catch (err) {
    ctx.log.warn('the host could not locate onnxruntime-node for a child process; running in-process', { error: err?.message });
  }
  if (ortEntry) {
    const session = new ChildSession(ortEntry, modelPath, sessionOptions, ctx.log);
    try {
      await session.start();
      return session;
    } catch (err) {
      await session.dispose().catch(() => {});
      if (err.code === 'MODEL_CORRUPT') throw err;
      ctx.log.warn('onnxruntime-node could not run in a child process; running in-process (long runs will block the event loop)', { error: err.message });
    }
  } else {
    ctx.log.warn('the host gives no ctx.resolve; onnxruntime runs in-process, so long runs block the event loop');
  }
  const ort = await ctx.import('onnxruntime-node');
  const api = ort.InferenceSession ? ort : ort.default;
  let session;
  try {
    session = await api.InferenceSession.create(modelPath, sessionOptions);
  } catch (err) {
    throw loadFailure(modelPath, err?.message ?? String(err));
  }
  return new InProcessSession(api, session);
}

/** onnxruntime's intra-op threads: the plugin's `threads` setting when it is a positive integer, else half the cores (1-4). */
export function threadCount(setting) {
  const n = Number(setting);
  if (Number.isInteger(n) && n > 0) return n;
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}
