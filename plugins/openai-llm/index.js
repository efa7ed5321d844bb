// openai-llm: the reply comes from an OpenAI-compatible chat server (Ollama, LM Studio, llama.cpp's llama-server,
// vLLM). Streams `POST {baseUrl}/chat/completions` with `stream: true` and yields each SSE chunk's
// `choices[0].delta.content`. create() never contacts the server, so Parley starts while it is down; the first
// chat() says what to do. The API key goes into the Authorization header and nowhere else: it is never logged, and
// anything the server sends back is searched for it before it reaches an error message.
// Reaches the host only through ctx (ctx.import('parley:kit') for the errors).
import { SseParser } from './sse.js';

const DEFAULT_BASE_URL = 'http://127.0.0.1:11434/v1';
/** How much of an error body is read: enough for any server's message, never a runaway download. */
const ERROR_BODY_BYTES = 16 * 1024;
/** How long the model-not-found message waits for the server's list of models. */
const LIST_MODELS_MS = 2000;

function readSettings(raw, kit) {
  const bad = (setting, message) => kit.pluginError('PLUGIN_FAILED', `openai-llm: setting "${setting}" ${message}`);
  const baseText = typeof raw.baseUrl === 'string' && raw.baseUrl.trim() ? raw.baseUrl.trim() : DEFAULT_BASE_URL;
  let url;
  try {
    url = new URL(baseText);
  } catch {
    throw bad('baseUrl', `must be an http(s) URL like ${DEFAULT_BASE_URL} (got "${baseText.slice(0, 100)}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('baseUrl', `must start with http:// or https:// (got ${url.protocol})`);
  if (url.username || url.password) throw bad('baseUrl', 'must not carry a user name or password: put the key in openai-llm.apiKey instead');
  if (url.search || url.hash) throw bad('baseUrl', `must not have a query or fragment: use the server's API root, like ${DEFAULT_BASE_URL}`);
  const model = typeof raw.model === 'string' ? raw.model.trim() : '';
  if (!model) throw bad('model', 'is empty: set it to a model the server has, e.g. --set openai-llm.model=qwen2.5:0.5b (`ollama list` shows yours)');
  const temperature = typeof raw.temperature === 'number' && Number.isFinite(raw.temperature) ? raw.temperature : 0.7;
  const maxTokens = Number.isInteger(raw.maxTokens) && raw.maxTokens > 0 ? raw.maxTokens : 200;
  const apiKey = typeof raw.apiKey === 'string' ? raw.apiKey.trim() : '';
  return { baseUrl: url.href.replace(/\/+$/, ''), model, temperature, maxTokens, apiKey };
}

/** The error code of a failed fetch: undici puts it on `cause` (or on each of `cause.errors` for happy eyeballs). */
function networkCode(err) {
  const cause = err?.cause;
  return cause?.code ?? cause?.errors?.find((e) => e?.code)?.code ?? err?.code ?? null;
}

/** Parley's message (issue 14's shape) as the OpenAI API takes it. */
function toWireMessage(m) {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content) };
  if (m.role === 'assistant' && Array.isArray(m.toolCalls) && m.toolCalls.length > 0) {
    return {
      role: 'assistant',
      content: m.content ?? '',
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) } })),
    };
  }
  return { role: m.role, content: m.content };
}

/**
 * Streamed `delta.tool_calls`, put together: OpenAI sends a call's id and name first and its arguments (a JSON
 * text) in fragments, keyed by `index`; Ollama sends each call whole. A call is handed on once complete (the
 * choice's finish_reason, or `[DONE]`) as `{ type: 'tool_call', id, name, arguments }`.
 */
class ToolCalls {
  #byIndex = new Map();
  #fail;

  constructor(fail) {
    this.#fail = fail;
  }

  add(deltas) {
    if (!Array.isArray(deltas)) return;
    for (const [i, d] of deltas.entries()) {
      const key = Number.isInteger(d?.index) ? d.index : i;
      const call = this.#byIndex.get(key) ?? { id: '', name: '', args: '' };
      if (typeof d?.id === 'string' && d.id) call.id = d.id;
      if (typeof d?.function?.name === 'string') call.name += d.function.name;
      const args = d?.function?.arguments;
      if (typeof args === 'string') call.args += args;
      else if (args && typeof args === 'object') call.args = JSON.stringify(args);
      this.#byIndex.set(key, call);
    }
  }

  finish() {
    const done = [...this.#byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([key, c]) => {
      let parsed;
      try {
        parsed = c.args.trim() === '' ? {} : JSON.parse(c.args);
      } catch {
        throw this.#fail(`a tool call (${c.name || 'no name'}) whose arguments are not JSON: ${c.args.slice(0, 200)}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw this.#fail(`a tool call (${c.name || 'no name'}) whose arguments are not a JSON object`);
      if (!c.name) throw this.#fail('a tool call without a function name');
      return { type: 'tool_call', id: c.id || `call_${key}`, name: c.name, arguments: parsed };
    });
    this.#byIndex.clear();
    return done;
  }
}

class OpenAiLlm {
  #kit;
  #s;

  constructor(kit, settings) {
    this.#kit = kit;
    this.#s = settings;
  }

  /** `tools` (optional, issue 14's extension): `[{ name, description, parameters }]`, passed on as OpenAI functions. */
  chat(messages, { signal, tools } = {}) {
    return this.#chat(messages, signal, Array.isArray(tools) ? tools : []);
  }

  async *#chat(messages, signal, tools) {
    const kit = this.#kit;
    if (signal?.aborted) throw kit.abortError(signal);
    // One controller per request: the call's signal aborts it at once, and so does leaving the loop early.
    const http = new AbortController();
    const onAbort = () => http.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const aborted = () => signal?.aborted === true;
    let reader = null;
    let finished = false;
    try {
      const res = await this.#post(messages, tools, http.signal).catch((err) => {
        throw aborted() ? kit.abortError(signal) : this.#unreachable(err);
      });
      if (!res.ok) throw await this.#httpError(res, http.signal).catch((err) => (aborted() ? kit.abortError(signal) : err));
      const type = res.headers.get('content-type') ?? '';
      if (!/^text\/event-stream\b/i.test(type)) throw await this.#notSse(res, type).catch((err) => (aborted() ? kit.abortError(signal) : err));
      reader = res.body.getReader();
      const parser = new SseParser();
      const calls = new ToolCalls((message) => this.#fail(`${this.#s.baseUrl} sent ${message}`));
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (aborted()) throw kit.abortError(signal);
          throw this.#fail(`the connection to ${this.#s.baseUrl} broke in the middle of a reply (${err?.cause?.message ?? err?.message ?? err}). Is the server still running?`, err);
        }
        let events;
        try {
          events = chunk.done ? parser.end() : parser.push(chunk.value);
        } catch (err) {
          throw this.#fail(`${this.#s.baseUrl} sent ${err.message}: that is not an OpenAI-compatible stream. Check openai-llm.baseUrl.`);
        }
        for (const event of events) {
          const delta = this.#delta(event);
          if (delta === null) {
            for (const call of calls.finish()) yield call;
            finished = true;
            return;
          }
          if (delta.text) {
            yield delta.text;
            if (aborted()) throw kit.abortError(signal);
          }
          calls.add(delta.toolCalls);
          if (delta.finished) for (const call of calls.finish()) yield call;
        }
        if (chunk.done) throw this.#fail(`${this.#s.baseUrl} ended the reply without \`data: [DONE]\`: the server stopped or crashed mid-reply. Check its log.`);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // After [DONE] the body is (nearly always) complete and the connection goes back to the pool; otherwise this
      // closes it, so the server stops generating for a reply nobody will hear.
      if (finished && reader) reader.cancel().catch(() => {});
      else http.abort();
    }
  }

  #post(messages, tools, signal) {
    const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };
    if (this.#s.apiKey) headers.authorization = `Bearer ${this.#s.apiKey}`;
    const body = {
      model: this.#s.model,
      messages: messages.map(toWireMessage),
      stream: true,
      temperature: this.#s.temperature,
      max_tokens: this.#s.maxTokens,
    };
    if (tools.length > 0) body.tools = tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.parameters ?? { type: 'object', properties: {} } } }));
    return fetch(`${this.#s.baseUrl}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body), signal });
  }

  /** One SSE event: `{ text, toolCalls, finished }` ('' for no text), or null at `[DONE]`. */
  #delta(event) {
    const data = event.data.trim();
    if (data === '[DONE]') return null;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw this.#fail(`${this.#s.baseUrl} sent an SSE event that is not JSON (${this.#quote(data)}): that is not an OpenAI-compatible stream. Check openai-llm.baseUrl.`);
    }
    if (event.event === 'error' || chunk?.error) {
      throw this.#fail(`the server reported an error in the middle of a reply: ${this.#quote(this.#messageOf(chunk) ?? data)}`);
    }
    // Reasoning models also stream `reasoning` / `reasoning_content`: thinking is not for the caller's ears.
    const choice = chunk?.choices?.[0];
    const content = choice?.delta?.content;
    return { text: typeof content === 'string' ? content : '', toolCalls: choice?.delta?.tool_calls, finished: choice?.finish_reason != null };
  }

  #unreachable(err) {
    const code = networkCode(err);
    const where = this.#s.baseUrl;
    const hint = 'or set openai-llm.baseUrl to your server (LM Studio: http://127.0.0.1:1234/v1, llama-server: http://127.0.0.1:8080/v1)';
    if (code === 'ECONNREFUSED') return this.#fail(`cannot reach ${where} (connection refused): is Ollama running? Start it with \`ollama serve\`, ${hint}.`, err, { network: code });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return this.#fail(`cannot reach ${where}: the host name ${new URL(where).hostname} does not resolve. Check openai-llm.baseUrl.`, err, { network: code });
    const why = err?.cause?.message ?? err?.message ?? String(err);
    return this.#fail(`cannot reach ${where} (${this.#redact(why)}${code ? `, ${code}` : ''}): is the server running and is openai-llm.baseUrl right?`, err, { network: code });
  }

  async #httpError(res, signal) {
    const text = await this.#readSome(res);
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the text itself is the message
    }
    const message = this.#messageOf(json) ?? text.trim();
    const said = message ? `: ${this.#quote(message)}` : '';
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    const details = { status: res.status };
    const modelMissing = json?.error?.code === 'model_not_found' || ((res.status === 404 || res.status === 400) && /model/i.test(message) && /not found|does not exist|no such|not available|try pulling/i.test(message));
    if (modelMissing) {
      const known = await this.#listModels(signal);
      const list = known ? ` The server has: ${known}.` : '';
      return this.#kit.pluginError(
        'MODEL_MISSING',
        `openai-llm: the server at ${this.#s.baseUrl} has no model "${this.#s.model}" (${status}${said}). With Ollama: \`ollama pull ${this.#s.model}\`; otherwise set openai-llm.model to one the server serves.${list}`,
        { details: { ...details, model: this.#s.model } },
      );
    }
    if (res.status === 401 || res.status === 403) {
      return this.#fail(`${this.#s.baseUrl} refused the request (${status}${said}): set openai-llm.apiKey to a key this server accepts${this.#s.apiKey ? ' (the one set was refused)' : ' (none is set)'}.`, undefined, details);
    }
    if (res.status === 404) {
      return this.#fail(`${this.#s.baseUrl}/chat/completions does not exist (${status}${said}): openai-llm.baseUrl should be the server's OpenAI API root, which usually ends in /v1 (Ollama: ${DEFAULT_BASE_URL}).`, undefined, details);
    }
    return this.#fail(`${this.#s.baseUrl} answered ${status}${said}`, undefined, details);
  }

  async #notSse(res, type) {
    const text = (await this.#readSome(res)).trim();
    const shown = text ? ` It sent: ${this.#quote(text)}.` : '';
    return this.#fail(
      `${this.#s.baseUrl}/chat/completions answered with ${type ? `"${type.split(';')[0]}"` : 'no content type'}, not an SSE stream (text/event-stream).${shown} Is openai-llm.baseUrl an OpenAI-compatible server's API root (usually ending in /v1)?`,
      undefined,
      { status: res.status, contentType: type },
    );
  }

  /** `GET {baseUrl}/models`, for the model-not-found message: up to 12 ids, or null. */
  async #listModels(signal) {
    try {
      const headers = this.#s.apiKey ? { authorization: `Bearer ${this.#s.apiKey}` } : {};
      // Only to enrich the message: a server slow to list its models must not hold the error back.
      const res = await fetch(`${this.#s.baseUrl}/models`, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(LIST_MODELS_MS)]) });
      if (!res.ok) {
        await res.body?.cancel();
        return null;
      }
      const ids = (JSON.parse(await this.#readSome(res))?.data ?? []).map((m) => m?.id).filter((id) => typeof id === 'string');
      if (ids.length === 0) return null;
      return this.#redact(ids.slice(0, 12).join(', ') + (ids.length > 12 ? `, … (${ids.length} in all)` : ''));
    } catch {
      return null;
    }
  }

  /** The start of a body, at most ERROR_BODY_BYTES; the rest is not downloaded. */
  async #readSome(res) {
    if (!res.body) return '';
    const reader = res.body.getReader();
    const parts = [];
    let size = 0;
    try {
      while (size < ERROR_BODY_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        size += value.byteLength;
      }
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      // A body cut short still says what it said so far.
    } finally {
      reader.cancel().catch(() => {});
    }
    return new TextDecoder().decode(Buffer.concat(parts).subarray(0, ERROR_BODY_BYTES));
  }

  /** The message in an OpenAI / Ollama / vLLM / llama-server error body. */
  #messageOf(json) {
    if (!json || typeof json !== 'object') return null;
    const e = json.error;
    if (typeof e === 'string') return e;
    if (e && typeof e.message === 'string') return e.message;
    if (typeof json.message === 'string') return json.message;
    if (typeof json.detail === 'string') return json.detail;
    return null;
  }

  #quote(text) {
    const one = this.#redact(String(text)).replace(/\s+/g, ' ').trim();
    return one.length > 300 ? `${one.slice(0, 300)}…` : one;
  }

  /** A server may echo the key back ("Incorrect API key provided: sk-…"): never pass it on. */
  #redact(text) {
    const key = this.#s.apiKey;
    return key ? String(text).split(key).join('[apiKey]') : String(text);
  }

  #fail(message, cause, details) {
    return this.#kit.pluginError('PLUGIN_FAILED', message.startsWith('openai-llm') ? message : `openai-llm: ${message}`, {
      details: { baseUrl: this.#s.baseUrl, ...details },
      cause: cause === undefined ? undefined : new Error(this.#redact(cause?.message ?? String(cause))),
    });
  }

  async dispose() {
    // Nothing is held between requests: each chat() owns its HTTP request and closes it when it ends.
  }
}

export default {
  async create(ctx) {
    const kit = await ctx.import('parley:kit');
    const settings = readSettings(ctx.settings ?? {}, kit);
    // The server is not contacted here: Parley starts (and passes its checks) while it is down.
    ctx.log.info('openai-llm: replies come from an OpenAI-compatible server', { baseUrl: settings.baseUrl, model: settings.model, auth: settings.apiKey ? 'bearer' : 'none' });
    return new OpenAiLlm(kit, settings);
  },
};
