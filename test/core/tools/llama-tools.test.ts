/**
 * A tool call made by a real model on the real runtime, run by the host, through the real server: llama-llm
 * (node-llama-cpp in its child process) on the tiny random GGUF from test/helpers/gguf-writer.ts, the user's tool
 * plugin, a simulated Twilio caller.
 *
 * What is forced, honestly: a random-weight model never decides to call a tool. `llama-llm.toolChoice=required`
 * engages node-llama-cpp's function-calling mode at the first token of the caller's turn, and the one offered tool
 * (`--tools pick_slot`) has a closed schema (an enum), so the model's grammar-constrained output is a complete
 * call. Which slot it picks, and the text after the tool's result, are the model's own (greedy) tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyLlamaGguf } from '../../helpers/gguf-writer.ts';
import { AUDIO, until, type TestCore } from '../../helpers/core.ts';
import { placeCall, toolsCore } from './helpers.ts';

describe('llama-llm calls a tool through the real server', () => {
  let t: TestCore;
  let work: string;
  let models: string;
  beforeAll(async () => {
    models = mkdtempSync(join(tmpdir(), 'parley-llama-tools-'));
    const model = join(models, 'tiny-chat.gguf');
    writeTinyLlamaGguf(model);
    ({ t, work } = await toolsCore(
      {
        llm: 'llama-llm',
        tools: 'pick_slot',
        pluginTimeoutMs: 30_000,
        // maxTokens 80: the tiny vocabulary spells a tool name and its JSON nearly a byte a token.
        pluginSettings: { 'llama-llm': { model, threads: '1', gpu: 'false', temperature: '0', maxTokens: '80', toolChoice: 'required' } },
      },
      ['llama-llm'],
    ));
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(models, { recursive: true, force: true });
  });

  it('the model calls the offered tool, the host checks and runs it, and the model answers after the result', { timeout: 150_000 }, async () => {
    expect(t.core.plugins.list().find((p) => p.name === 'llama-llm')?.status).toBe('ready');
    const c = await placeCall(t, work, []);
    await c.caller.sayWav(AUDIO('hello.wav'));
    await until(() => c.tools().some((e) => e.state !== 'running'), 'the tool call', 60_000).catch((err) => {
      // What llama.cpp did with the turn (its stop reason, tokens), to tell a model problem from a host one.
      console.log(t.logs.filter((l) => /llama|tool/i.test(l.msg)).map((l) => JSON.stringify(l).slice(0, 600)).join('\n'));
      throw err;
    });
    // The reply after the tool: whatever the tiny model writes, spoken to the caller.
    await until(() => c.agentFinals().length > 0, "the agent's answer", 60_000);
    await c.caller.hangup();

    const done = c.tools().filter((e) => e.state !== 'running');
    expect(done.length).toBeGreaterThanOrEqual(1);
    for (const e of done) {
      expect(e.name).toBe('pick_slot');
      expect(e.state).toBe('done'); // its arguments passed the schema check, and the tool ran
      expect(['morning', 'afternoon']).toContain(e.arguments.slot);
      expect(e.toolCallId).toMatch(/^call_/);
    }
    // llama.cpp's side: the first step ended in the call, the next one was prompted with its result.
    const turns = t.logs.filter((l) => l.msg === 'llama turn' && l.callSid === c.callSid) as unknown as { stopReason: string; promptTokens: number }[];
    expect(turns.length).toBeGreaterThanOrEqual(2);
    expect(turns[0]!.stopReason).toBe('functionCalls');
    expect(turns[1]!.promptTokens).toBeGreaterThan(turns[0]!.promptTokens);
    // What reached the tool is what the model wrote.
    expect(c.toolNotes().filter((n) => n.phase === 'end').map((n) => n.args)).toEqual(done.map((e) => e.arguments));
    expect(c.events().filter((e) => e.type === 'call.error')).toEqual([]);
    expect(c.agentFinals().at(-1)!.text.length).toBeGreaterThan(0);
    expect(c.caller.received.filter((r) => r.msg.event === 'media').length).toBeGreaterThan(0);
  });
});

