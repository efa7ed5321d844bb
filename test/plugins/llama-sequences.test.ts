/**
 * llama-llm with several live calls: one llama.cpp sequence per call in one context, each call's KV cache kept
 * between turns, prepare() / endCall(), concurrent calls, and a clean rollback after an aborted run. Real
 * node-llama-cpp on the real stories260K model, greedy (temperature 0), so "the same answer" means the same text.
 *
 * What a turn cost is read from the plugin's own `llama turn` debug log line (child.js): `promptTokens` (the
 * rendered prompt), `cachedTokens` (what the call's sequence held before the turn), `evaluatedPromptTokens` (what
 * llama.cpp had to evaluate before the first new token, from the sequence's token meter), `sequence`, `callSid`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, LlmInstance, PluginModule } from '../../main/core/plugins/api.ts';
import { importPlugin, makePluginContext, pluginFolder, rejection, type TestPluginContext } from '../helpers/plugin-context.ts';
import { writeTinyLlamaGguf } from '../helpers/gguf-writer.ts';

const STORIES = fileURLToPath(new URL('../fixtures/models/stories260K.gguf', import.meta.url));

interface TurnStats {
  callSid: string | null;
  sequence: number;
  evicted?: string | null;
  promptTokens: number;
  cachedTokens: number;
  evaluatedPromptTokens: number;
  outputTokens: number;
  stopReason: string;
}

let work: string;
let plugin: PluginModule;
const live: LlmInstance[] = [];

async function create(settings: Record<string, unknown>): Promise<{ llm: LlmInstance; ctx: TestPluginContext }> {
  const ctx = await makePluginContext({
    pluginDir: join(work, 'plugins', 'llama-llm'),
    settings: { threads: 1, gpu: false, model: STORIES, temperature: 0, maxTokens: 24, ...settings },
    modelDir: join(work, 'models'),
  });
  const llm = (await plugin.create(ctx)) as LlmInstance;
  live.push(llm);
  return { llm, ctx };
}

function turns(ctx: TestPluginContext, callSid?: string): TurnStats[] {
  return ctx.logs.filter((l) => l.msg === 'llama turn').map((l) => l.fields as unknown as TurnStats).filter((t) => callSid === undefined || t.callSid === callSid);
}

async function say(llm: LlmInstance, messages: ChatMessage[], callSid?: string, signal = AbortSignal.timeout(60_000)): Promise<string> {
  let text = '';
  for await (const delta of llm.chat(messages, { signal, callSid })) text += delta;
  return text;
}

const SYSTEM: ChatMessage = { role: 'system', content: 'You are a kind storyteller who tells short stories about animals.' };
const GREETING: ChatMessage = { role: 'assistant', content: 'Hello! Which animal shall the story be about?' };
const A_WORDS = ['Tell me about a little cat.', 'What did the cat eat?', 'Where did the cat sleep?'];
const B_WORDS = ['Tell me about a big dog.', 'Did the dog have a ball?', 'Who played with the dog?'];

/** A whole conversation of user turns on one call; returns the model's answers. */
async function converse(llm: LlmInstance, words: string[], callSid?: string): Promise<string[]> {
  const history: ChatMessage[] = [SYSTEM, GREETING];
  const answers: string[] = [];
  for (const w of words) {
    history.push({ role: 'user', content: w });
    const answer = await say(llm, history, callSid);
    history.push({ role: 'assistant', content: answer });
    answers.push(answer);
  }
  return answers;
}

/** The answers of one call alone: a fresh plugin (fresh child, fresh context) per conversation. */
const alone = new Map<string, Promise<string[]>>();
function answersAlone(words: string[]): Promise<string[]> {
  const key = words.join('|');
  if (!alone.has(key)) alone.set(key, create({ maxCalls: 1 }).then(({ llm }) => converse(llm, words, 'alone')));
  return alone.get(key)!;
}

/** The answer a fresh context gives to exactly this history. */
async function answerFresh(history: ChatMessage[], settings: Record<string, unknown>): Promise<string> {
  const { llm } = await create({ maxCalls: 1, ...settings });
  const text = await say(llm, history, 'fresh');
  await llm.dispose?.();
  return text;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'parley-llama-seq-'));
  cpSync(pluginFolder('llama-llm'), join(work, 'plugins', 'llama-llm'), { recursive: true });
  return importPlugin(join(work, 'plugins', 'llama-llm')).then((p) => void (plugin = p));
});

afterAll(async () => {
  await Promise.all(live.map((llm) => llm.dispose?.()));
  rmSync(work, { recursive: true, force: true });
});

describe('llama-llm: one sequence per live call', { timeout: 240_000 }, () => {
  it('gives two interleaved calls the answers each gets alone, each on its own kept cache', async () => {
    const { llm, ctx } = await create({ maxCalls: 2 });
    const a: ChatMessage[] = [SYSTEM, GREETING];
    const b: ChatMessage[] = [SYSTEM, GREETING];
    const answersA: string[] = [];
    const answersB: string[] = [];
    for (let i = 0; i < 3; i++) {
      // A's turn, then B's: each call's sequence must survive the other's turn.
      a.push({ role: 'user', content: A_WORDS[i]! });
      answersA.push(await say(llm, a, 'CA'));
      a.push({ role: 'assistant', content: answersA[i]! });
      b.push({ role: 'user', content: B_WORDS[i]! });
      answersB.push(await say(llm, b, 'CB'));
      b.push({ role: 'assistant', content: answersB[i]! });
    }
    expect(answersA).toEqual(await answersAlone(A_WORDS));
    expect(answersB).toEqual(await answersAlone(B_WORDS));
    expect(answersA[0]).not.toEqual(answersB[0]); // the two calls really are different conversations

    const tA = turns(ctx, 'CA');
    const tB = turns(ctx, 'CB');
    expect(new Set(tA.map((t) => t.sequence)).size).toBe(1);
    expect(new Set(tB.map((t) => t.sequence)).size).toBe(1);
    expect(tA[0]!.sequence).not.toBe(tB[0]!.sequence);
    for (const t of [...tA.slice(1), ...tB.slice(1)]) {
      // Turn 2 and 3 reuse the whole previous prompt and reply: only the new user words (+ template) are evaluated.
      expect(t.cachedTokens).toBeGreaterThan(t.promptTokens / 2);
      expect(t.evaluatedPromptTokens).toBeLessThan(t.promptTokens - t.cachedTokens + 8);
    }
    expect(ctx.logs.some((l) => l.msg.startsWith('more live calls'))).toBe(false);
  });

  it('gives two calls talking at the same moment (batched together) the answers each gets alone', async () => {
    const { llm, ctx } = await create({ maxCalls: 2 });
    const [a, b] = await Promise.all([converse(llm, A_WORDS.slice(0, 2), 'PA'), converse(llm, B_WORDS.slice(0, 2), 'PB')]);
    expect(a).toEqual((await answersAlone(A_WORDS)).slice(0, 2));
    expect(b).toEqual((await answersAlone(B_WORDS)).slice(0, 2));
    expect(turns(ctx, 'PA')[0]!.sequence).not.toBe(turns(ctx, 'PB')[0]!.sequence);
  });

  it('evaluates only the new tokens at the second turn (token meter)', async () => {
    const { llm, ctx } = await create({ maxCalls: 2 });
    await converse(llm, A_WORDS.slice(0, 2), 'meter');
    const [first, second] = turns(ctx, 'meter');
    expect(first!.cachedTokens).toBe(0);
    expect(first!.evaluatedPromptTokens).toBeGreaterThanOrEqual(first!.promptTokens - 1);
    // The second prompt is the first prompt + its reply + new words: all but those words come from the cache.
    const newTokens = second!.promptTokens - first!.promptTokens - first!.outputTokens;
    expect(newTokens).toBeGreaterThan(3);
    expect(second!.evaluatedPromptTokens).toBeLessThanOrEqual(newTokens + 4);
    expect(second!.evaluatedPromptTokens).toBeLessThan(second!.promptTokens / 3);
  });

  it("starts call B's answer while call A is still generating a long one", async () => {
    const { llm, ctx } = await create({ maxCalls: 2, maxTokens: 400 });
    const events: string[] = [];
    let aDeltas = 0;
    let aDeltasAtBFirst = -1;
    let aFirst!: () => void;
    const aStarted = new Promise<void>((resolve) => (aFirst = resolve));
    const runA = (async () => {
      for await (const _ of llm.chat([{ role: 'user', content: 'Once upon a time' }], { signal: AbortSignal.timeout(200_000), callSid: 'long' })) {
        if (++aDeltas === 1) aFirst();
      }
      events.push('A done');
    })();
    await aStarted;
    const runB = (async () => {
      for await (const _ of llm.chat([SYSTEM, GREETING, { role: 'user', content: B_WORDS[0]! }], { signal: AbortSignal.timeout(200_000), callSid: 'short' })) {
        if (aDeltasAtBFirst < 0) {
          aDeltasAtBFirst = aDeltas;
          events.push('B first token');
        }
      }
    })();
    await Promise.all([runA, runB]);
    const a = turns(ctx, 'long')[0]!;
    // A really was a long generation, so "B before A done" is not luck of timing.
    expect(a.outputTokens).toBe(400);
    expect(events).toEqual(['B first token', 'A done']);
    // Not just before A's last token: B got going while A had most of its reply still to come (a queue behind
    // A's whole reply would show all of A's deltas here).
    expect(aDeltasAtBFirst).toBeLessThan(aDeltas / 2);
    expect(turns(ctx, 'short')[0]!.sequence).not.toBe(a.sequence);
  });

  it('prepare evaluates the opening ahead, so the first turn evaluates only the caller’s words', async () => {
    const { llm, ctx } = await create({ maxCalls: 2 });
    const history: ChatMessage[] = [SYSTEM, GREETING, { role: 'user', content: A_WORDS[0]! }];
    await llm.prepare!([SYSTEM, GREETING], { signal: AbortSignal.timeout(60_000), callSid: 'prepared' });
    const prepared = ctx.logs.find((l) => l.msg === 'llama prepare')!.fields as { evaluated: number; tokens: number };
    expect(prepared.evaluated).toBeGreaterThan(10);
    const withPrepare = await say(llm, history, 'prepared');
    const without = await say(llm, history, 'cold');
    expect(withPrepare).toBe(without);
    expect(withPrepare).toBe((await answersAlone(A_WORDS))[0]);
    const [p] = turns(ctx, 'prepared');
    const [c] = turns(ctx, 'cold');
    expect(c!.evaluatedPromptTokens).toBeGreaterThanOrEqual(c!.promptTokens - 1);
    expect(p!.cachedTokens).toBe(prepared.tokens);
    expect(p!.evaluatedPromptTokens).toBeLessThanOrEqual(p!.promptTokens - prepared.tokens + 1);
    expect(p!.evaluatedPromptTokens).toBeLessThan(c!.evaluatedPromptTokens / 2);
  });

  it('prepare after a reply (what the engine does while the caller speaks) leaves the next turn only the caller’s words, and answers the same', async () => {
    const { llm, ctx } = await create({ maxCalls: 2 });
    const expected = await answersAlone(A_WORDS);
    const history: ChatMessage[] = [SYSTEM, GREETING, { role: 'user', content: A_WORDS[0]! }];
    history.push({ role: 'assistant', content: await say(llm, history, 'ahead') });
    await llm.prepare!(history, { signal: AbortSignal.timeout(60_000), callSid: 'ahead' });
    const prepared = ctx.logs.filter((l) => l.msg === 'llama prepare').at(-1)!.fields as { evaluated: number; tokens: number };
    // The reply's end and the template before the caller's next line: what turn 2 would otherwise evaluate first.
    expect(prepared.evaluated).toBeGreaterThan(0);
    history.push({ role: 'user', content: A_WORDS[1]! });
    expect(await say(llm, history, 'ahead')).toBe(expected[1]);
    const second = turns(ctx, 'ahead')[1]!;
    expect(second.cachedTokens).toBe(prepared.tokens);
    expect(second.evaluatedPromptTokens).toBeLessThanOrEqual(second.promptTokens - prepared.tokens + 1);
  });

  it('endCall frees the sequence for the next call; a call beyond maxCalls takes an idle one and still answers right', async () => {
    const { llm, ctx } = await create({ maxCalls: 1 });
    const expected = await answersAlone(A_WORDS);
    expect(await converse(llm, A_WORDS.slice(0, 1), 'first')).toEqual(expected.slice(0, 1));
    await llm.endCall!('first');
    expect(await converse(llm, A_WORDS.slice(0, 1), 'second')).toEqual(expected.slice(0, 1));
    const second = turns(ctx, 'second')[0]!;
    // The same (only) sequence, handed over empty, without taking it from a live call.
    expect(second.sequence).toBe(turns(ctx, 'first')[0]!.sequence);
    expect(second.cachedTokens).toBe(0);
    expect(second.evicted).toBeUndefined();
    expect(ctx.logs.some((l) => l.msg.startsWith('more live calls'))).toBe(false);

    // 'second' never hung up: a third call takes its sequence (logged), and both still get the right answers.
    expect(await converse(llm, B_WORDS.slice(0, 1), 'third')).toEqual((await answersAlone(B_WORDS)).slice(0, 1));
    expect(turns(ctx, 'third')[0]!.evicted).toBe('second');
    expect(ctx.logs.find((l) => l.msg.startsWith('more live calls'))?.fields).toMatchObject({ callSid: 'third', from: 'second' });
    const history: ChatMessage[] = [SYSTEM, GREETING, { role: 'user', content: A_WORDS[0]! }, { role: 'assistant', content: expected[0]! }, { role: 'user', content: A_WORDS[1]! }];
    expect(await say(llm, history, 'second')).toBe(expected[1]);
    expect(turns(ctx, 'second')[1]!.cachedTokens).toBe(0); // its cache was gone: it re-read the conversation
    await llm.endCall!('never-seen'); // an unknown call is fine
  });

  it('rolls back an aborted run cleanly: the next answer is the one a fresh context gives', async () => {
    const { llm, ctx } = await create({ maxCalls: 2, maxTokens: 48 });
    const history: ChatMessage[] = [SYSTEM, GREETING, { role: 'user', content: A_WORDS[0]! }];
    history.push({ role: 'assistant', content: await say(llm, history, 'barge') });

    // Barge-in: the caller interrupts turn 2 after a few words; only what they heard goes into the history.
    history.push({ role: 'user', content: A_WORDS[1]! });
    const ac = new AbortController();
    let heard = '';
    let n = 0;
    const err = await rejection(
      (async () => {
        for await (const delta of llm.chat(history, { signal: ac.signal, callSid: 'barge' })) {
          heard += delta;
          if (++n === 4) ac.abort();
        }
      })(),
    );
    expect(err.name).toBe('AbortError');
    expect(heard.length).toBeGreaterThan(0);
    history.push({ role: 'assistant', content: heard });

    // A preemptive attempt on half a sentence, discarded when the caller went on talking.
    const early = new AbortController();
    const partial = [...history, { role: 'user' as const, content: 'And then' }];
    await rejection(
      (async () => {
        let k = 0;
        for await (const _ of llm.chat(partial, { signal: early.signal, callSid: 'barge' })) if (++k === 2) early.abort();
      })(),
    );

    history.push({ role: 'user', content: 'And then what happened to the cat?' });
    const next = await say(llm, history, 'barge');
    expect(next.length).toBeGreaterThan(0);
    expect(next).toBe(await answerFresh(history, { maxTokens: 48 }));
    // It was answered from the kept cache, not by re-reading everything.
    const last = turns(ctx, 'barge').at(-1)!;
    expect(last.cachedTokens).toBeGreaterThan(last.promptTokens / 2);
  });

  it('answers chats without a callSid on a shared sequence, as before', async () => {
    const { llm, ctx } = await create({ maxCalls: 2 });
    const answers = await converse(llm, A_WORDS.slice(0, 2));
    expect(answers).toEqual((await answersAlone(A_WORDS)).slice(0, 2));
    const [, second] = turns(ctx);
    expect(second!.callSid).toBeNull();
    expect(second!.cachedTokens).toBeGreaterThan(second!.promptTokens / 2);
    await llm.prepare!([SYSTEM, GREETING], { signal: AbortSignal.timeout(10_000) }); // no call to keep it for: a no-op
    expect(ctx.logs.some((l) => l.msg === 'llama prepare')).toBe(false);
  });
});

describe('llama-llm: settings that cannot be held', { timeout: 240_000 }, () => {
  it('refuses contextSize × maxCalls beyond this computer’s memory, naming both settings', async () => {
    // 8 layers × 8 KV heads × 64 dims: 16 KB of KV cache per token; 64 calls × 131072 tokens is about 128 GB.
    const big = join(work, 'wide.gguf');
    writeTinyLlamaGguf(big, { embedding: 512, heads: 8, headsKv: 8, layers: 8, feedForward: 64, contextLength: 131072 });
    const err = await rejection(create({ model: big, contextSize: 131072, maxCalls: 64 }));
    expect(err.code).toBe('PLUGIN_FAILED');
    expect(err.message).toContain('64 calls × 131072 tokens');
    expect(err.message).toContain('llama-llm.maxCalls');
    expect(err.message).toContain('llama-llm.contextSize');
    // The same model with settings it can hold loads and answers.
    const { llm, ctx } = await create({ model: big, contextSize: 512, maxCalls: 2, maxTokens: 4 });
    expect(ctx.logs.find((l) => l.msg === 'llama model loaded')?.fields).toMatchObject({ maxCalls: 2, contextSize: 512 });
    expect((await say(llm, [{ role: 'user', content: 'hello' }], 'ok')).length).toBeGreaterThan(0);
  });
});
