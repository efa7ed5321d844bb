/**
 * The plugin host: the entry of a plugin's child process (forked by plugin-proxy.ts through workers.ts). It
 * imports one plugin, creates its instance with a `ctx`, and serves the app's calls over IPC. A plugin that
 * blocks, leaks or crashes (even natively) takes down only this process, never the media server.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import type { PluginContext, PluginKind, ToolSpec } from './api.ts';
import { importForPlugin, resolveForPlugin } from './plugin-imports.ts';
import { MAX_PLUGIN_MESSAGE_BYTES, OPTIONAL_METHODS, SINGLE_RESULT_METHODS, serializeError, type FromPluginHost, type PluginMethod, type ToPluginHost } from './plugin-host-protocol.ts';

if (!process.send) throw new Error('plugin-host must run as a forked child process (with an IPC channel)');
// The app went away (crashed, killed): nothing left to serve.
process.on('disconnect', () => process.exit(0));

let maxMessageBytes = MAX_PLUGIN_MESSAGE_BYTES;

/**
 * Sends one message to the app — unless it is bigger than the app accepts: then the request it answers fails
 * with PLUGIN_FAILED naming the limit (the call goes on), and an oversized log line is cut.
 */
function send(msg: FromPluginHost): void {
  if (!process.connected) return;
  if (msg.t === 'item' || msg.t === 'result' || msg.t === 'log') {
    // The same encoding the IPC channel uses ('advanced' serialisation): its size is what the app would hold.
    const size = serialize(msg).length;
    if (size > maxMessageBytes) {
      const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
      if (msg.t === 'log') {
        send({ t: 'log', level: msg.level, msg: `${msg.msg.slice(0, 1024)} … [log message of ${mb(size)} cut: the limit for one message from a plugin is ${mb(maxMessageBytes)}]` });
        return;
      }
      const err = new Error(
        `sent a message of ${mb(size)}; the limit for one message from a plugin is ${mb(maxMessageBytes)} — return smaller results (yield audio in shorter chunks)`,
      ) as Error & { code: string };
      err.code = 'PLUGIN_FAILED';
      if (msg.t === 'item') {
        iterators.get(msg.id)?.return?.()?.catch(() => {});
        iterators.delete(msg.id);
        aborts.delete(msg.id);
      }
      process.send!({ t: 'error', id: msg.id, error: serializeError(err) } satisfies FromPluginHost);
      return;
    }
  }
  process.send!(msg);
}

/**
 * A plugin's `.js` files are ES modules by contract, wherever the folder sits — even with no package.json
 * saying `"type": "module"` above it (a user's plugins folder has none). Node 20 would read them as CommonJS,
 * so a loader hook marks every `.js` file inside this plugin's folder as a module.
 */
const ESM_HOOKS = `
let roots = [];
export async function initialize(data) { roots = data.roots; }
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.js') && roots.some((r) => url.startsWith(r))) {
    const result = await next(url, { ...context, format: 'module' });
    return { ...result, format: 'module' };
  }
  return next(url, context);
}`;

function treatAsModules(dir: string): void {
  const root = pathToFileURL(dir).href.replace(/\/?$/, '/');
  register(`data:text/javascript,${encodeURIComponent(ESM_HOOKS)}`, { data: { roots: [root] } });
}

const METHODS: Record<PluginKind, PluginMethod> = { stt: 'transcribe', llm: 'chat', tts: 'synthesize', turn: 'predict', tool: 'call' };

async function importPlugin(dir: string, main: string): Promise<{ create: (ctx: PluginContext) => Promise<unknown> }> {
  treatAsModules(dir);
  const mod = await import(pathToFileURL(join(dir, main)).href);
  const plugin = mod.default ?? mod;
  if (!plugin || typeof plugin.create !== 'function') {
    const err = new Error(`${join(dir, main)} must \`export default { async create(ctx) { ... } }\` (no create() function found)`) as Error & { code: string };
    err.code = 'PLUGIN_LOAD_FAILED';
    throw err;
  }
  return plugin;
}

function makeContext(msg: Extract<ToPluginHost, { t: 'init' }>): PluginContext {
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (m: string, fields?: Record<string, unknown>) =>
    send({ t: 'log', level, msg: String(m), ...(fields ? { fields: JSON.parse(JSON.stringify(fields)) } : {}) });
  return {
    settings: structuredClone(msg.settings),
    modelDir: msg.modelDir,
    pluginDir: msg.dir,
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    import: importForPlugin,
    resolve: resolveForPlugin,
  };
}

/** A tool plugin's `tools`, checked so a bad one fails create() with a clear error instead of confusing the LLM. */
function checkTools(value: unknown): ToolSpec[] {
  const bad = (what: string) => Object.assign(new Error(`a tool plugin's instance must have tools: [{ name, description, parameters }] — ${what}`), { code: 'PLUGIN_LOAD_FAILED' });
  if (!Array.isArray(value)) throw bad(`got ${value === undefined ? 'no tools' : typeof value}`);
  return value.map((t: unknown, i) => {
    const x = t as Partial<ToolSpec> | null;
    if (!x || typeof x.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(x.name)) throw bad(`tools[${i}].name must be 1-64 letters, digits, _ or -`);
    if (typeof x.description !== 'string') throw bad(`tools[${i}].description must be a string`);
    const parameters = x.parameters ?? { type: 'object', properties: {} };
    if (typeof parameters !== 'object' || Array.isArray(parameters) || (parameters as { type?: unknown }).type !== 'object') throw bad(`tools[${i}].parameters must be a JSON Schema with "type": "object"`);
    if (x.askFirst !== undefined && typeof x.askFirst !== 'boolean') throw bad(`tools[${i}].askFirst must be true or false`);
    return JSON.parse(JSON.stringify({ name: x.name, description: x.description, parameters, ...(x.askFirst ? { askFirst: true } : {}) })) as ToolSpec;
  });
}

let instance: Record<string, unknown> | null = null;
let kind: PluginKind | null = null;
const aborts = new Map<number, AbortController>();
const iterators = new Map<number, AsyncIterator<unknown>>();

/** Compact audio views before they are sent: a view's whole underlying buffer would be serialised otherwise. */
function prepare(value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { samples?: unknown }).samples instanceof Float32Array) {
    const v = value as { samples: Float32Array; sampleRate: unknown };
    return { samples: v.samples.byteLength === v.samples.buffer.byteLength ? v.samples : v.samples.slice(), sampleRate: v.sampleRate };
  }
  return value;
}

async function handleCall(msg: Extract<ToPluginHost, { t: 'call' }>): Promise<void> {
  const controller = new AbortController();
  aborts.set(msg.id, controller);
  try {
    if (!instance || !kind) throw new Error('plugin instance is not ready');
    const fn = instance[msg.method];
    if (typeof fn !== 'function') {
      if (!OPTIONAL_METHODS.includes(msg.method)) throw new Error(`plugin has no ${msg.method}() method`);
      // An optional extension the plugin does not implement: nothing to do, and that is fine.
      aborts.delete(msg.id);
      send({ t: 'result', id: msg.id, value: undefined });
      return;
    }
    // The options a plugin receives: `{ signal }`, plus the extensions only when the app sent them.
    const o = msg.options;
    const options = {
      signal: controller.signal,
      ...(typeof o?.callSid === 'string' ? { callSid: o.callSid } : {}),
      ...(Array.isArray(o?.tools) ? { tools: o.tools } : {}),
      ...(o?.call ? { call: o.call } : {}),
    };
    const result = msg.method === 'endCall' ? fn.call(instance, ...msg.args) : fn.call(instance, ...msg.args, options);
    if (SINGLE_RESULT_METHODS.includes(msg.method)) {
      const value = await result;
      // prepare() and endCall() resolve with nothing; whatever a plugin returned there is not sent back.
      send({ t: 'result', id: msg.id, value: OPTIONAL_METHODS.includes(msg.method) ? undefined : value });
      aborts.delete(msg.id);
      return;
    }
    if (!result || typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
      const err = new Error(`${msg.method}() must return an async iterable (got ${typeof result})`) as Error & { code: string };
      err.code = 'PLUGIN_GARBAGE';
      throw err;
    }
    iterators.set(msg.id, (result as AsyncIterable<unknown>)[Symbol.asyncIterator]());
    await pull(msg.id);
  } catch (err) {
    aborts.delete(msg.id);
    iterators.delete(msg.id);
    send({ t: 'error', id: msg.id, error: serializeError(err) });
  }
}

async function pull(id: number): Promise<void> {
  const it = iterators.get(id);
  if (!it) return;
  try {
    const r = await it.next();
    if (r.done) {
      iterators.delete(id);
      aborts.delete(id);
      send({ t: 'done', id });
    } else {
      send({ t: 'item', id, value: prepare(r.value) });
    }
  } catch (err) {
    iterators.delete(id);
    aborts.delete(id);
    send({ t: 'error', id, error: serializeError(err) });
  }
}

process.on('message', (msg: ToPluginHost) => {
  switch (msg.t) {
    case 'inspect':
      importPlugin(msg.dir, msg.main).then(
        () => send({ t: 'inspected', error: null }),
        (err) => send({ t: 'inspected', error: serializeError(err) }),
      );
      break;
    case 'init':
      if (typeof msg.maxMessageBytes === 'number' && msg.maxMessageBytes > 0) maxMessageBytes = msg.maxMessageBytes;
      (async () => {
        const plugin = await importPlugin(msg.dir, msg.main);
        const created = await plugin.create(makeContext(msg));
        const method = METHODS[msg.kind];
        if (!created || typeof (created as Record<string, unknown>)[method] !== 'function') {
          const err = new Error(`create() of a ${msg.kind} plugin must return an object with ${method}()`) as Error & { code: string };
          err.code = 'PLUGIN_LOAD_FAILED';
          throw err;
        }
        instance = created as Record<string, unknown>;
        kind = msg.kind;
        send(msg.kind === 'tool' ? { t: 'ready', tools: checkTools(instance.tools) } : { t: 'ready' });
      })().catch((err) => send({ t: 'init-error', error: serializeError(err) }));
      break;
    case 'call':
      void handleCall(msg);
      break;
    case 'next':
      void pull(msg.id);
      break;
    case 'abort': {
      const c = aborts.get(msg.id);
      if (c) {
        const reason = new Error(msg.reason);
        reason.name = 'AbortError';
        c.abort(reason);
      }
      break;
    }
    case 'return': {
      const it = iterators.get(msg.id);
      iterators.delete(msg.id);
      aborts.get(msg.id)?.abort();
      aborts.delete(msg.id);
      void it?.return?.().catch(() => {});
      break;
    }
    case 'ping':
      send({ t: 'pong', id: msg.id });
      break;
    case 'dispose':
      (async () => {
        for (const c of aborts.values()) c.abort();
        const dispose = instance?.dispose;
        if (typeof dispose === 'function') await dispose.call(instance);
      })()
        .catch((err) => send({ t: 'log', level: 'warn', msg: `dispose() failed: ${serializeError(err).message}` }))
        .finally(() => {
          send({ t: 'disposed' });
          process.disconnect?.();
        });
      break;
  }
});
