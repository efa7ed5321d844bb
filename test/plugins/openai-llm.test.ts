/**
 * openai-llm against a local stand-in for an OpenAI-compatible server (Ollama's /v1) that speaks the protocol
 * exactly: SSE `data:` chunks cut at awkward places (inside a UTF-8 character, inside a line, between CR and LF),
 * `data: [DONE]`, Ollama's and OpenAI's error bodies. The plugin runs in a real host worker process, as the app
 * runs it (PluginProxy), and everything it logs — ctx.log, stdout, stderr — is captured to check the API key
 * never shows up.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink, type LogRecord } from '../../main/core/log.ts';
import type { ChatMessage } from '../../main/core/plugins/api.ts';
import { effectiveSettings, readManifest } from '../../main/core/plugins/manifest.ts';
import { PluginProxy } from '../../main/core/plugins/plugin-proxy.ts';
// @ts-expect-error -- the plugin's own module, plain JS
import { SseParser } from '../../plugins/openai-llm/sse.js';
import { closeServer, listenOnLoopback } from '../helpers/local-server.ts';
import { until } from '../helpers/core.ts';
import { foreignImports, importPlugin, makePluginContext, pluginFolder, rejection } from '../helpers/plugin-context.ts';
import { closedPort } from '../core/models/http-fixture.ts';

const DIR = pluginFolder('openai-llm');
const KEY = 'sk-parley-test-9c1e5b7a2d4f6081';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a phone assistant.' },
  { role: 'user', content: 'Hi, are you open?' },
];

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  closed: boolean;
}
type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void | Promise<void>;

let server: Server;
let base = '';
let handler: Handler = (_req, res) => void res.writeHead(500).end();
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), closed: false };
      seen.push(s);
      // The client going away (abort) closes the response before it ended.
      res.on('close', () => (s.closed = true));
      res.socket?.setNoDelay(true);
      void handler(req, res, s);
    });
  });
  base = await listenOnLoopback(server);
});
afterAll(async () => {
  await closeServer(server);
});

const workers: PluginProxy[] = [];
afterEach(async () => {
  seen.length = 0;
  await Promise.all(workers.splice(0).map((w) => w.dispose()));
});

/** The plugin in a host worker, as the app runs it; `logs` gets every line it produced. */
async function start(settings: Record<string, unknown> = {}) {
  const manifest = await readManifest(DIR);
  const records: LogRecord[] = [];
  const worker = new PluginProxy(
    { name: manifest.name, kind: manifest.kind, dir: DIR, main: manifest.main, settings: effectiveSettings(manifest, { baseUrl: `${base}/v1`, model: 'qwen2.5:0.5b', ...settings }), modelDir: '/nonexistent' },
    createLogger({ sinks: [memorySink(records)], level: 'debug' }),
  );
  workers.push(worker);
  await worker.start();
  return { worker, records };
}

async function collect(worker: PluginProxy, signal = new AbortController().signal): Promise<string[]> {
  const out: string[] = [];
  for await (const d of worker.chat(MESSAGES, { signal })) out.push(d);
  return out;
}

const sse = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;
const delta = (content: string) => sse({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'qwen2.5:0.5b', choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }] });

/** Write `body` in pieces of `sizes` bytes (cycled), each its own TCP write with a pause, so they arrive apart. */
async function writeInPieces(res: ServerResponse, body: Buffer, sizes: number[]) {
  let at = 0;
  for (let i = 0; at < body.length; i++) {
    const n = sizes[i % sizes.length]!;
    res.write(body.subarray(at, at + n));
    at += n;
    await sleep(3);
  }
}

const REPLY = ['Yes', ', we’re open', ' — café ☕ till 9', ' 日本語 👋🏽', '.'];

describe('the SSE reader', () => {
  it('gives the same events whatever the chunk boundaries: inside a UTF-8 character, a line, a CRLF', () => {
    const text = `: keep-alive\r\n${REPLY.map((r) => delta(r).replace(/\n/g, '\r\n')).join('')}data:${JSON.stringify({ x: 'é' })}\n\ndata: [DONE]\r\n\r\n`;
    const bytes = Buffer.from(text, 'utf8');
    const whole = new SseParser().push(bytes);
    expect(whole.map((e: { data: string }) => e.data).at(-1)).toBe('[DONE]');
    expect(whole).toHaveLength(REPLY.length + 2);
    for (let cut = 1; cut < bytes.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut)), ...p.end()];
      expect(events).toEqual(whole);
    }
    const byByte = new SseParser();
    const events = [];
    for (const b of bytes) events.push(...byByte.push(Uint8Array.of(b)));
    expect(events).toEqual(whole);
  });
});

describe('openai-llm through the plugin host', () => {
  it('is a valid, self-contained plugin folder with a README', async () => {
    const manifest = await readManifest(DIR);
    expect(manifest.kind).toBe('llm');
    expect(manifest.settings.baseUrl?.default).toBe('http://127.0.0.1:11434/v1');
    expect(manifest.settings.apiKey?.type).toBe('secret');
    expect(manifest.models).toEqual([]);
    expect(existsSync(join(DIR, 'README.md'))).toBe(true);
    expect(foreignImports(DIR)).toEqual([]);
  });

  it('streams POST /v1/chat/completions deltas, split mid-character and mid-line, with the key as a Bearer token', async () => {
    handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const body = `: ping\n\n${sse({ choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }] })}${REPLY.map(delta).join('')}${sse({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}data: [DONE]\n\n`;
      // 7-byte pieces cut the 3- and 4-byte characters (’ ☕ 日 👋) and every line, over and over.
      await writeInPieces(res, Buffer.from(body, 'utf8'), [7, 1, 2, 5, 11]);
      res.end();
    };
    const { worker, records } = await start({ apiKey: KEY, temperature: 0.2, maxTokens: 64 });
    const deltas = await collect(worker);
    expect(deltas.join('')).toBe(REPLY.join(''));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).not.toContain('\ufffd');

    const req = seen.find((s) => s.url === '/v1/chat/completions')!;
    expect(req.method).toBe('POST');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(JSON.parse(req.body)).toEqual({ model: 'qwen2.5:0.5b', messages: MESSAGES, stream: true, temperature: 0.2, max_tokens: 64 });
    expect(JSON.stringify(records)).not.toContain(KEY);
  });

  it('sends no Authorization header without a key', async () => {
    handler = (_req, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`${delta('ok')}data: [DONE]\n\n`);
    const { worker } = await start();
    expect((await collect(worker)).join('')).toBe('ok');
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it('ends at data: [DONE] even while the server keeps the response open', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${delta('Hello')}${delta(' there')}data: [DONE]\n\n`); // and never res.end()
    };
    const { worker } = await start();
    expect((await collect(worker)).join('')).toBe('Hello there');
    await until(() => seen[0]?.closed === true, 'the request closed after [DONE]');
  });

  it('a stream cut off before [DONE] is an error, not a silently short reply', async () => {
    handler = (_req, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(delta('Half a sen'));
    const { worker } = await start();
    const err = await rejection(collect(worker));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/ended the reply without `data: \[DONE\]`/);
  });

  it('the signal aborts the HTTP request at once: AbortError, and the server sees the connection close', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(delta('First'));
      // ...and then nothing more: a slow model, or a reply nobody will hear.
    };
    const { worker } = await start();
    const controller = new AbortController();
    const got: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const d of worker.chat(MESSAGES, { signal: controller.signal })) {
          got.push(d);
          controller.abort();
        }
      })(),
    );
    expect(got).toEqual(['First']);
    expect(err.name).toBe('AbortError');
    await until(() => seen[0]?.closed === true, 'the server to see the request closed');
  });

  it('an abort before the server even answers closes the request too', async () => {
    handler = () => {}; // never answers
    const { worker } = await start();
    const controller = new AbortController();
    const pending = rejection(collect(worker, controller.signal));
    await until(() => seen.length === 1, 'the request to arrive');
    controller.abort();
    expect((await pending).name).toBe('AbortError');
    await until(() => seen[0]!.closed, 'the server to see the request closed');
  });

  it('connection refused: "is Ollama running? `ollama serve`"', async () => {
    const { worker } = await start({ baseUrl: `http://127.0.0.1:${await closedPort()}/v1` });
    const err = await rejection(collect(worker));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/connection refused\): is Ollama running\? Start it with `ollama serve`/);
  });

  it.each([
    ['Ollama', { error: { message: 'model "llama9:70b" not found, try pulling it first', type: 'not_found_error', param: null, code: null } }],
    ['OpenAI', { error: { message: 'The model `llama9:70b` does not exist or you do not have access to it.', type: 'invalid_request_error', param: null, code: 'model_not_found' } }],
  ])('model not found (%s error shape): MODEL_MISSING with `ollama pull NAME`, the server\'s message and its models', async (_shape, body) => {
    handler = (req, res) => {
      if (req.url === '/v1/models') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'qwen2.5:0.5b', object: 'model' }, { id: 'llama3.2:1b', object: 'model' }] }));
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const { worker } = await start({ model: 'llama9:70b' });
    const err = await rejection(collect(worker));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('`ollama pull llama9:70b`');
    expect(err.message).toContain(body.error.message);
    expect(err.message).toContain('The server has: qwen2.5:0.5b, llama3.2:1b.');
  });

  it('other HTTP errors carry the server\'s message; one that echoes the key has it blanked out', async () => {
    handler = (_req, res) => void res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'CUDA error: out of memory', type: 'api_error' } }));
    const { worker, records } = await start({ apiKey: KEY });
    const err = await rejection(collect(worker));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/answered HTTP 500.*CUDA error: out of memory/);

    handler = (_req, res) => void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}.`, code: 'invalid_api_key' } }));
    const denied = await rejection(collect(worker));
    expect(denied.message).toMatch(/refused the request \(HTTP 401.*Incorrect API key provided: \[apiKey\].*set openai-llm\.apiKey/);
    expect(JSON.stringify({ m: denied.message, s: denied.stack, c: String((denied as { cause?: unknown }).cause) })).not.toContain(KEY);
    expect(JSON.stringify(records)).not.toContain(KEY);
  });

  it('a non-SSE answer (a whole JSON completion, an HTML page) is a clear error', async () => {
    handler = (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'Hi' } }] }));
    const { worker } = await start();
    const err = await rejection(collect(worker));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toMatch(/answered with "application\/json", not an SSE stream \(text\/event-stream\)/);

    handler = (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Router login</body></html>');
    expect((await rejection(collect(worker))).message).toMatch(/"text\/html", not an SSE stream.*Router login/);
  });

  it('an error event in the middle of a stream says what the server reported', async () => {
    handler = (_req, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`${delta('Sure')}${sse({ error: { message: 'context window exceeded' } })}`);
    const { worker } = await start();
    const err = await rejection(collect(worker));
    expect(err.message).toMatch(/reported an error in the middle of a reply: context window exceeded/);
  });
});

describe('tools and tool_calls, in the OpenAI format (issue 14\'s contract)', () => {
  // Most of these drive the plugin in process; the last one runs it in a host worker, as the app does.
  async function direct() {
    const ctx = await makePluginContext({ pluginDir: DIR, settings: { baseUrl: `${base}/v1`, model: 'qwen2.5:0.5b' } });
    return (await importPlugin(DIR)).create(ctx) as Promise<{ chat(m: unknown[], o: { signal: AbortSignal; tools?: unknown[] }): AsyncIterable<unknown> }>;
  }
  const TAKE_MESSAGE = { name: 'take_message', description: 'Take a message for the owner', parameters: { type: 'object', properties: { name: { type: 'string' }, text: { type: 'string' } }, required: ['text'] } };

  it('sends tools as functions and the history\'s tool calls and results as OpenAI messages; reassembles streamed calls', async () => {
    const toolDelta = (tool_calls: unknown[], finish: string | null = null) => sse({ choices: [{ index: 0, delta: { tool_calls }, finish_reason: finish }] });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        delta('One moment.') +
          toolDelta([{ index: 0, id: 'call_abc', type: 'function', function: { name: 'take_message', arguments: '' } }]) +
          toolDelta([{ index: 0, function: { arguments: '{"name":"Ana",' } }]) +
          toolDelta([{ index: 0, function: { arguments: '"text":"call back ☎"}' } }]) +
          sse({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }) +
          'data: [DONE]\n\n',
      );
    };
    const llm = await direct();
    const history = [
      ...MESSAGES,
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_0', name: 'take_message', arguments: { text: 'hi' } }] },
      { role: 'tool', toolCallId: 'call_0', name: 'take_message', content: 'saved' },
    ];
    const out: unknown[] = [];
    for await (const item of llm.chat(history, { signal: new AbortController().signal, tools: [TAKE_MESSAGE] })) out.push(item);
    expect(out).toEqual(['One moment.', { type: 'tool_call', id: 'call_abc', name: 'take_message', arguments: { name: 'Ana', text: 'call back ☎' } }]);

    const body = JSON.parse(seen[0]!.body);
    expect(body.tools).toEqual([{ type: 'function', function: TAKE_MESSAGE }]);
    expect(body.messages.slice(2)).toEqual([
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'take_message', arguments: '{"text":"hi"}' } }] },
      { role: 'tool', tool_call_id: 'call_0', content: 'saved' },
    ]);
  });

  it('without tools the request has no "tools" field; a call whose arguments are not JSON is a clear error', async () => {
    handler = (_req, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`${sse({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c', function: { name: 'x', arguments: '{"a":' } }] }, finish_reason: 'tool_calls' }] })}data: [DONE]\n\n`);
    const llm = await direct();
    const err = await rejection((async () => {
      for await (const _ of llm.chat(MESSAGES, { signal: new AbortController().signal })) void _;
    })());
    expect(err.message).toMatch(/a tool call \(x\) whose arguments are not JSON/);
    expect('tools' in JSON.parse(seen[0]!.body)).toBe(false);
  });

  it('through the plugin host: tools reach the server, and two interleaved calls (index-keyed, arguments cut anywhere) come back whole, in order', async () => {
    const END_CALL = { name: 'end_call', description: 'Hang up', parameters: { type: 'object', properties: { reason: { type: 'string' } } } };
    const toolDelta = (tool_calls: unknown[], finish: string | null = null) => sse({ choices: [{ index: 0, delta: { tool_calls }, finish_reason: finish }] });
    handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const body =
        toolDelta([{ index: 0, id: 'call_m', type: 'function', function: { name: 'take_', arguments: '' } }]) +
        toolDelta([{ index: 0, function: { name: 'message', arguments: '{"te' } }]) +
        toolDelta([{ index: 1, id: 'call_e', type: 'function', function: { name: 'end_call', arguments: '{"reason":' } }]) +
        toolDelta([{ index: 0, function: { arguments: 'xt":"café ☕' } }]) +
        toolDelta([{ index: 1, function: { arguments: '"done"}' } }]) +
        toolDelta([{ index: 0, function: { arguments: '"}' } }], 'tool_calls') +
        'data: [DONE]\n\n';
      // Cut into TCP writes of awkward sizes: inside JSON strings, inside the UTF-8 of "é" and "☕".
      await writeInPieces(res, Buffer.from(body, 'utf8'), [7, 13, 3, 29]);
      res.end();
    };
    const { worker } = await start();
    const history: ChatMessage[] = [
      ...MESSAGES,
      { role: 'assistant', content: 'Let me see.', toolCalls: [{ id: 'c1', name: 'take_message', arguments: { text: 'a' } }, { id: 'c2', name: 'end_call', arguments: {} }] },
      { role: 'tool', toolCallId: 'c1', name: 'take_message', content: 'saved' },
      { role: 'tool', toolCallId: 'c2', name: 'end_call', content: 'Error: not run' },
      { role: 'assistant', content: 'Done.' },
      { role: 'user', content: 'Bye then.' },
    ];
    const out: unknown[] = [];
    for await (const item of worker.chat(history, { signal: new AbortController().signal, tools: [TAKE_MESSAGE, END_CALL] })) out.push(item);
    expect(out).toEqual([
      { type: 'tool_call', id: 'call_m', name: 'take_message', arguments: { text: 'café ☕' } },
      { type: 'tool_call', id: 'call_e', name: 'end_call', arguments: { reason: 'done' } },
    ]);
    const body = JSON.parse(seen[0]!.body);
    expect(body.tools).toEqual([
      { type: 'function', function: TAKE_MESSAGE },
      { type: 'function', function: END_CALL },
    ]);
    expect(body.messages.slice(2)).toEqual([
      {
        role: 'assistant',
        content: 'Let me see.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'take_message', arguments: '{"text":"a"}' } },
          { id: 'c2', type: 'function', function: { name: 'end_call', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'saved' },
      { role: 'tool', tool_call_id: 'c2', content: 'Error: not run' },
      { role: 'assistant', content: 'Done.' },
      { role: 'user', content: 'Bye then.' },
    ]);
  });
});
