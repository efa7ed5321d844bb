/**
 * llama-llm with the real node-llama-cpp runtime in its child process: a tiny random chat GGUF written by
 * test/helpers/gguf-writer.ts (chat template from the file) and the real stories260K model. The plugin runs from a
 * copy of its folder in a temp dir, so it is proven to reach the host only through ctx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, LlmInstance, PluginModule, ToolCallItem, ToolSpec } from '../../main/core/plugins/api.ts';
import { checkArguments } from '../../main/core/tools/schema.ts';
import { readManifest } from '../../main/core/plugins/manifest.ts';
import { foreignImports, importPlugin, makePluginContext, pluginFolder, rejection, type TestPluginContext } from '../helpers/plugin-context.ts';
import { writeTinyLlamaGguf } from '../helpers/gguf-writer.ts';

const STORIES = fileURLToPath(new URL('../fixtures/models/stories260K.gguf', import.meta.url));

let work: string;
let pluginDir: string;
let plugin: PluginModule;
let tinyModel: string;
let tinyVocab: string[];
const live: LlmInstance[] = [];

/** Child processes of this test process running llama-llm's child.js (Linux /proc). */
function llamaChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (state === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('child.js')) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

async function create(settings: Record<string, unknown>, modelDir?: string): Promise<{ llm: LlmInstance; ctx: TestPluginContext }> {
  const ctx = await makePluginContext({ pluginDir, settings: { threads: 1, gpu: false, ...settings }, modelDir: modelDir ?? join(work, 'models') });
  const llm = (await plugin.create(ctx)) as LlmInstance;
  live.push(llm);
  return { llm, ctx };
}

async function collect(llm: LlmInstance, messages: Parameters<LlmInstance['chat']>[0], signal = new AbortController().signal) {
  const deltas: { text: string; at: number }[] = [];
  const started = performance.now();
  for await (const text of llm.chat(messages, { signal })) deltas.push({ text, at: performance.now() - started });
  return { text: deltas.map((d) => d.text).join(''), deltas, totalMs: performance.now() - started };
}

/** The first `n` deltas of a reply, then stop (which must also stop the child's generation). */
async function firstDeltas(llm: LlmInstance, messages: Parameters<LlmInstance['chat']>[0], n: number) {
  const started = performance.now();
  let text = '';
  let count = 0;
  let firstMs = -1;
  for await (const delta of llm.chat(messages, { signal: AbortSignal.timeout(20_000) })) {
    if (count === 0) firstMs = performance.now() - started;
    text += delta;
    if (++count >= n) break;
  }
  return { text, count, firstMs };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'parley-llama-'));
  // A built-in plugin folder copied anywhere must still work: run it from a copy.
  pluginDir = join(work, 'plugins', 'llama-llm');
  cpSync(pluginFolder('llama-llm'), pluginDir, { recursive: true });
  plugin = await importPlugin(pluginDir);
  tinyModel = join(work, 'tiny-chat.gguf');
  tinyVocab = writeTinyLlamaGguf(tinyModel);
});

afterAll(async () => {
  await Promise.all(live.map((llm) => llm.dispose?.()));
  rmSync(work, { recursive: true, force: true });
});

describe('llama-llm manifest and folder', () => {
  it('has a valid manifest with the settings and a default catalogue model', async () => {
    const manifest = await readManifest(pluginFolder('llama-llm'));
    expect(manifest.kind).toBe('llm');
    expect(Object.keys(manifest.settings).sort()).toEqual(['contextSize', 'gpu', 'maxCalls', 'maxTokens', 'model', 'temperature', 'threads', 'toolChoice']);
    expect(manifest.settings.model!.type).toBe('path');
    const defaults = manifest.models.filter((m) => m.default);
    expect(defaults).toHaveLength(1);
    for (const model of manifest.models) {
      for (const file of model.files) expect(file.url).toMatch(/^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\/.+\.gguf$/);
    }
  });

  it('imports nothing but node built-ins and its own files', () => {
    expect(foreignImports(pluginFolder('llama-llm'))).toEqual([]);
  });
});

describe('llama-llm on a generated GGUF (tiny random llama with a ChatML template)', () => {
  let llm: LlmInstance;
  let ctx: TestPluginContext;

  beforeAll(async () => {
    // gpu left at its default ("auto"): on a machine without a GPU it must still come up on the CPU build.
    ({ llm, ctx } = await create({ model: tinyModel, gpu: 'auto', temperature: 0, maxTokens: 40 }));
  });

  it('loads in a child process and takes the chat template from the GGUF', () => {
    const loaded = ctx.logs.find((l) => l.msg === 'llama model loaded');
    expect(loaded?.fields).toMatchObject({ chatWrapper: 'ChatML', threads: 1, model: tinyModel });
    expect(llamaChildren().length).toBeGreaterThanOrEqual(1);
  });

  it('streams a reply as several deltas made of the model vocabulary', async () => {
    const { text, deltas } = await collect(llm, [
      { role: 'system', content: 'You answer the phone for a bakery.' },
      { role: 'user', content: 'hello what time are you open' },
    ]);
    expect(deltas.length).toBeGreaterThan(5);
    expect(text.trim().length).toBeGreaterThan(0);
    // Deltas arrive while generation goes on, not all at the end.
    expect(deltas[0]!.at).toBeLessThan(deltas.at(-1)!.at);
    const pieces = new Set(tinyVocab.map((t) => t.replaceAll('▁', ' ')));
    for (const d of deltas) expect([...d.text].every((c) => [...pieces].some((p) => p.includes(c)))).toBe(true);
    const turn = ctx.logs.filter((l) => l.msg === 'llama turn').at(-1);
    expect(turn?.fields).toMatchObject({ outputTokens: 40, stopReason: 'maxTokens' });
  });

  it('keeps the KV cache when the next prompt extends the previous one', async () => {
    const history = [
      { role: 'system' as const, content: 'You answer the phone for a bakery. Keep answers short and friendly.' },
      { role: 'user' as const, content: 'hi can you help me' },
    ];
    const first = await collect(llm, history);
    const next = [...history, { role: 'assistant' as const, content: first.text }, { role: 'user' as const, content: 'thanks what is your name' }];
    await collect(llm, next);
    const turn = ctx.logs.filter((l) => l.msg === 'llama turn').at(-1)!.fields as { promptTokens: number; evaluatedPromptTokens: number };
    // Only the new turn is evaluated; the shared prefix comes from the cache.
    expect(turn.evaluatedPromptTokens).toBeLessThan(turn.promptTokens / 2);
  });
});

describe('llama-llm tool calls on the real runtime (tiny random GGUF, call forced by grammar)', () => {
  // What is forced, honestly: a random-weight model never chooses to call a function by itself. With
  // toolChoice "required" node-llama-cpp enters its function-calling mode at the first token of the caller's turn,
  // so llama.cpp must generate a function call — but the name (one of the offered tools) and the arguments (JSON
  // for its parameters) are still sampled token by token from this model, under the grammar node-llama-cpp builds
  // from the schemas. What is proven: the call is generated and parsed on the real runtime and handed back as a
  // tool_call item instead of being run inside node-llama-cpp, and a history holding the call and its result
  // is rendered by the chat template and answered.
  const TOOLS: ToolSpec[] = [
    {
      name: 'lookup_order',
      description: 'Look up when an order ships.',
      parameters: { type: 'object', properties: { order: { type: 'string', minLength: 3, maxLength: 12, description: 'The order number' } }, required: ['order'], additionalProperties: false },
    },
    {
      name: 'end_call',
      description: 'Hang up the phone call.',
      parameters: { type: 'object', properties: { reason: { type: 'string', maxLength: 30 } }, additionalProperties: false },
    },
  ];
  const opening: ChatMessage[] = [
    { role: 'system', content: 'You answer the phone for a shop.' },
    { role: 'user', content: 'where is my order A-123' },
  ];
  let llm: LlmInstance;
  let ctx: TestPluginContext;

  async function items(messages: ChatMessage[], tools?: ToolSpec[]) {
    const out: (string | ToolCallItem)[] = [];
    for await (const item of llm.chat(messages, { signal: AbortSignal.timeout(60_000), ...(tools ? { tools } : {}) })) out.push(item);
    return out;
  }
  const turnLog = () => ctx.logs.filter((l) => l.msg === 'llama turn').at(-1)!.fields as { stopReason: string; toolCalls?: number; promptTokens: number };

  beforeAll(async () => {
    ({ llm, ctx } = await create({ model: tinyModel, temperature: 0, maxTokens: 60, toolChoice: 'required' }));
  });

  it('yields a tool_call with an offered name and arguments that pass the tool schema, not run by node-llama-cpp', async () => {
    const out = await items(opening, TOOLS);
    const calls = out.filter((i): i is ToolCallItem => typeof i !== 'string');
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const call of calls) {
      expect(call.type).toBe('tool_call');
      expect(call.id).toMatch(/^call_/);
      const spec = TOOLS.find((t) => t.name === call.name);
      expect(spec, `"${call.name}" is not an offered tool`).toBeDefined();
      expect(checkArguments(spec!.parameters, call.arguments)).toEqual([]);
    }
    expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
    expect(turnLog()).toMatchObject({ stopReason: 'functionCalls', toolCalls: calls.length });

    // The next step: the assistant's call and the tool's result in the history, rendered and answered (no longer
    // forced: the caller's turn already started with a call).
    const first = turnLog().promptTokens;
    const next: ChatMessage[] = [
      ...opening,
      { role: 'assistant', content: '', toolCalls: calls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })) },
      ...calls.map((c) => ({ role: 'tool' as const, toolCallId: c.id, name: c.name, content: 'Order A-123 ships on Tuesday.' })),
    ];
    const after = await items(next, TOOLS);
    expect(after.length).toBeGreaterThan(0);
    for (const item of after) if (typeof item !== 'string') expect(TOOLS.map((t) => t.name)).toContain(item.name);
    expect(turnLog().promptTokens).toBeGreaterThan(first);
    expect(['maxTokens', 'eogToken', 'stopGenerationTrigger', 'functionCalls']).toContain(turnLog().stopReason);

    // The same history asked without tools (the tool loop's last step): text only.
    const plainAfter = await items(next);
    expect(plainAfter.every((i) => typeof i === 'string')).toBe(true);
    expect(plainAfter.join('').length).toBeGreaterThan(0);
  });

  it('prepare evaluates the opening with the tools documented, so a first turn with tools evaluates only what is new', async () => {
    // A chat offered TOOLS (as every call of a running app is): prepare renders the opening with them, as the
    // turn's prompt will.
    await items(opening, TOOLS);
    const callSid = 'CA0000000000000000000000000000prep';
    const start: ChatMessage[] = [opening[0]!, { role: 'assistant', content: 'Hello, this is the shop.' }];
    await llm.prepare!(start, { signal: AbortSignal.timeout(60_000), callSid });
    for await (const _ of llm.chat([...start, { role: 'user', content: 'hi' }], { signal: AbortSignal.timeout(60_000), callSid, tools: TOOLS })) void _;
    const turn = ctx.logs.filter((l) => l.msg === 'llama turn').at(-1)!.fields as { promptTokens: number; evaluatedPromptTokens: number; cachedTokens: number };
    expect(turn.cachedTokens).toBeGreaterThan(turn.promptTokens / 2);
    expect(turn.evaluatedPromptTokens).toBeLessThan(turn.promptTokens / 4);
    await llm.endCall!(callSid);
  });

  it('tools whose documentation leaves no room for a reply in contextSize: the turn is answered without them', async () => {
    const { llm: small, ctx: smallCtx } = await create({ model: tinyModel, temperature: 0, maxTokens: 20, contextSize: 256, toolChoice: 'required' });
    const wordy: ToolSpec[] = [{ ...TOOLS[0]!, description: 'Look up when an order ships. '.repeat(40) }];
    const out: (string | ToolCallItem)[] = [];
    for await (const item of small.chat(opening, { signal: AbortSignal.timeout(60_000), tools: wordy })) out.push(item);
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((i) => typeof i === 'string')).toBe(true);
    expect(smallCtx.logs.some((l) => l.msg === 'the tools do not fit llama-llm.contextSize; this turn is answered without them')).toBe(true);
    await small.dispose?.();
  });

  it('without tools the same instance streams text only, as before tools existed', async () => {
    const out = await items(opening);
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((i) => typeof i === 'string')).toBe(true);
    expect(turnLog().toolCalls).toBeUndefined();
  });
});

describe('llama-llm on the real stories260K model', () => {
  let llm: LlmInstance;
  let pid: number | undefined;

  beforeAll(async () => {
    const before = new Set(llamaChildren());
    ({ llm } = await create({ model: STORIES, temperature: 0, maxTokens: 4000 }));
    [pid] = llamaChildren().filter((p) => !before.has(p));
  });

  it('streams English text', async () => {
    const ac = new AbortController();
    let text = '';
    for await (const delta of llm.chat([{ role: 'user', content: 'Once upon a time' }], { signal: ac.signal })) {
      text += delta;
      if (text.length > 120) break; // stopping early must also stop the child's generation
    }
    expect(text).toMatch(/\b[a-z]+ [a-z]+ [a-z]+\b/i);
  });

  it('aborts within 100 ms, rejecting with AbortError, and the child survives for the next turn', async () => {
    expect(pid).toBeDefined();
    const ac = new AbortController();
    let deltas = 0;
    let abortedAt = 0;
    const err = await rejection(
      (async () => {
        for await (const _ of llm.chat([{ role: 'user', content: 'Tell me a long story about a cat' }], { signal: ac.signal })) {
          if (++deltas === 3) {
            abortedAt = performance.now();
            ac.abort();
          }
        }
      })(),
    );
    const latency = performance.now() - abortedAt;
    expect(err.name).toBe('AbortError');
    expect(latency).toBeLessThan(100);
    // Same child, answering the next turn at once (it did not finish the aborted story first).
    const next = await firstDeltas(llm, [{ role: 'user', content: 'The dog' }], 1);
    expect(next.count).toBe(1);
    expect(next.firstMs).toBeLessThan(3000); // finishing the aborted 4000-token story first would take far longer
    expect(llamaChildren()).toContain(pid);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const started = performance.now();
    const err = await rejection(collect(llm, [{ role: 'user', content: 'Hi' }], ac.signal));
    expect(err.name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('drops the oldest turns to fit the context, keeping the conversation going', async () => {
    const { llm: small, ctx: smallCtx } = await create({ model: STORIES, temperature: 0, maxTokens: 32, contextSize: 256 });
    const messages: { role: 'system' | 'user' | 'assistant'; content: string }[] = [{ role: 'system', content: 'You are a friendly storyteller.' }];
    for (let i = 0; i < 30; i++) {
      messages.push({ role: 'user', content: `Tell me about the little girl number ${i} and her red ball in the park.` });
      messages.push({ role: 'assistant', content: `Once upon a time there was a girl named Lily number ${i}. She had a red ball.` });
    }
    messages.push({ role: 'user', content: 'What happened next?' });
    const { text } = await collect(small, messages);
    expect(text.length).toBeGreaterThan(0);
    const trimmed = smallCtx.logs.find((l) => l.msg === 'history trimmed to fit the context');
    expect((trimmed?.fields as { dropped: number }).dropped).toBeGreaterThan(40);
    expect((trimmed?.fields as { promptTokens: number }).promptTokens).toBeLessThanOrEqual(256 - 32);
    await small.dispose?.();
  });
});

describe('llama-llm history past the context', () => {
  it('cuts an outgrown call history half the free room at a time, so the turns behind a cut evaluate only what is new', async () => {
    // One thread and 4-token replies: the prompts are what is checked, and the test stays quick beside other
    // llama.cpp processes on a 2-core machine.
    const { llm: small, ctx: smallCtx } = await create({ model: STORIES, temperature: 0, maxTokens: 4, contextSize: 512, threads: 1 });
    const messages: ChatMessage[] = [{ role: 'system', content: 'You are a friendly storyteller.' }];
    type Turn = { promptTokens: number; evaluatedPromptTokens: number; droppedTurns: number; historyCut?: boolean };
    const turns: Turn[] = [];
    for (let i = 0; i < 30; i++) {
      messages.push({ role: 'user', content: `Tell me about the girl number ${i} and her red ball.` });
      for await (const _ of small.chat(messages, { signal: AbortSignal.timeout(20_000), callSid: 'CAlong' }));
      // A fixed reply (not the sampled one) so that what the next turn must evaluate does not depend on sampling.
      messages.push({ role: 'assistant', content: `Once upon a time the girl number ${i} had a red ball.` });
      turns.push(smallCtx.logs.filter((l) => l.msg === 'llama turn').at(-1)!.fields as Turn);
    }
    const cuts = turns.filter((t) => t.historyCut);
    const behind = turns.filter((t) => t.droppedTurns > 0 && !t.historyCut);
    // The conversation outgrows the context many times over, yet only a few turns make a new cut.
    expect(cuts.length).toBeGreaterThanOrEqual(2);
    expect(behind.length).toBeGreaterThan(cuts.length);
    expect(smallCtx.logs.filter((l) => l.msg === 'history trimmed to fit the context')).toHaveLength(cuts.length);
    for (const t of turns) expect(t.promptTokens + 4).toBeLessThanOrEqual(511);
    // Behind a cut the prompt starts as the cached one did: only the last reply and the new words are evaluated.
    for (const t of behind) expect(t.evaluatedPromptTokens).toBeLessThan(t.promptTokens / 2);
    await small.dispose?.();
  });
});

describe('llama-llm errors and recovery', () => {
  it('says which model is missing and how to get it', async () => {
    const err = await rejection(create({}, join(work, 'empty-models')));
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain('model missing — run `npm run models -- pull qwen2.5-0.5b-instruct-q4_k_m`');
    expect(err.message).toContain(join(work, 'empty-models', 'qwen2.5-0.5b-instruct-q4_k_m', 'qwen2.5-0.5b-instruct-q4_k_m.gguf'));

    const notThere = await rejection(create({ model: join(work, 'nope.gguf') }));
    expect(notThere.code).toBe('MODEL_MISSING');
    expect(notThere.message).toContain('llama-llm.model');
  });

  it('uses the catalogue default from ctx.modelDir', async () => {
    const modelDir = join(work, 'catalogue');
    const folder = join(modelDir, 'qwen2.5-0.5b-instruct-q4_k_m');
    cpSync(STORIES, join(folder, 'qwen2.5-0.5b-instruct-q4_k_m.gguf'));
    const { llm, ctx } = await create({ maxTokens: 5 }, modelDir);
    expect(ctx.logs.find((l) => l.msg === 'llama model loaded')?.fields).toMatchObject({ model: join(folder, 'qwen2.5-0.5b-instruct-q4_k_m.gguf') });
    await llm.dispose?.();
  });

  it('reports a malformed GGUF as MODEL_CORRUPT naming the file, without taking the process down', async () => {
    const garbage = join(work, 'garbage.gguf');
    writeFileSync(garbage, '<html>404 Not Found</html>');
    const bad = await rejection(create({ model: garbage }));
    expect(bad.code).toBe('MODEL_CORRUPT');
    expect(bad.message).toContain(garbage);

    // A valid header with its tensor data cut off gets past the header check: llama.cpp itself must refuse it.
    const truncated = join(work, 'truncated.gguf');
    copyFileSync(tinyModel, truncated);
    truncateSync(truncated, 60_000);
    const cut = await rejection(create({ model: truncated }));
    expect(cut.code).toBe('MODEL_CORRUPT');
    expect(cut.message).toContain(truncated);
    expect(llamaChildren().length).toBeLessThanOrEqual(live.length);
  });

  it('loses only the turn when the child crashes, and restarts it at the next chat once the file is fixed', async () => {
    const model = join(work, 'restart.gguf');
    copyFileSync(tinyModel, model);
    const before = new Set(llamaChildren());
    const { llm } = await create({ model, maxTokens: 4000, temperature: 0 });
    const [pid] = llamaChildren().filter((p) => !before.has(p));
    expect(pid).toBeDefined();

    // A native crash in the middle of a reply.
    const crashed = await rejection(
      (async () => {
        let n = 0;
        for await (const _ of llm.chat([{ role: 'user', content: 'hello' }], { signal: new AbortController().signal })) {
          if (++n === 2) process.kill(pid!, 'SIGSEGV');
        }
      })(),
    );
    expect(crashed.code).toBe('PLUGIN_FAILED');
    expect(crashed.message).toContain(model);

    // Meanwhile the file got damaged: the restart says so.
    truncateSync(model, 60_000);
    const corrupt = await rejection(collect(llm, [{ role: 'user', content: 'hello' }]));
    expect(corrupt.code).toBe('MODEL_CORRUPT');
    expect(corrupt.message).toContain(model);

    // Fixed: the next chat starts a fresh child and answers.
    copyFileSync(tinyModel, model);
    const { text } = await firstDeltas(llm, [{ role: 'user', content: 'hello' }], 5);
    expect(text.length).toBeGreaterThan(0);
    const now = llamaChildren().filter((p) => !before.has(p));
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(pid);
    await llm.dispose?.();
  });

  it('dispose kills the child and later chats fail clearly', async () => {
    const before = new Set(llamaChildren());
    const { llm } = await create({ model: tinyModel, maxTokens: 4 });
    const [pid] = llamaChildren().filter((p) => !before.has(p));
    expect(pid).toBeDefined();
    await llm.dispose?.();
    expect(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')).toBe(false);
    const err = await rejection(collect(llm, [{ role: 'user', content: 'hello' }]));
    expect(err.code).toBe('PLUGIN_FAILED');
  });
});
