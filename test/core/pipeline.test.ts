/**
 * The whole local pipeline with the built-in plugins and their real runtimes — Whisper (transformers.js +
 * onnxruntime), llama.cpp (node-llama-cpp in a child process), Piper (onnxruntime + espeak-ng) — on the tiny
 * stand-in models, driven by a simulated Twilio caller through the real server.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import type { EventOf } from '../../main/core/event-bus.ts';
import { writeTinyWhisper } from '../helpers/tiny-whisper.ts';
import { writePiperVoice } from '../helpers/tiny-tts-models.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../helpers/core.ts';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

describe('built-in plugins end to end', () => {
  let t: TestCore;
  let work: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'parley-pipeline-'));
    writeTinyWhisper(join(work, 'whisper'));
    copyFileSync(join(ROOT, 'test/fixtures/models/stories260K.gguf'), join(work, 'stories.gguf'));
    const piper = await writePiperVoice(join(work, 'piper'));
    t = await startTestCore({
      pluginsDir: join(ROOT, 'plugins'),
      stt: 'whisper-stt',
      llm: 'llama-llm',
      tts: 'piper-tts',
      greeting: 'Hello, this is Parley.',
      pluginTimeoutMs: 20_000,
      pluginSettings: {
        'whisper-stt': { model: join(work, 'whisper') },
        'llama-llm': { model: join(work, 'stories.gguf'), threads: '1', gpu: 'false', maxTokens: '24' },
        'piper-tts': { model: piper.onnx },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('greets, hears the caller, answers with the local LLM and speaks it with Piper', async () => {
    // The speech plugins (the built-in tool plugins are active too, and checked in test/core/tools).
    const ready = t.core.plugins.list().filter((p) => p.active && p.kind !== 'tool');
    expect(ready.map((p) => [p.name, p.status])).toEqual([
      ['llama-llm', 'ready'],
      ['piper-tts', 'ready'],
      ['whisper-stt', 'ready'],
    ]);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 10_000);
    await caller.waitForAgentSilence(400, 20_000);
    const answer = caller.waitFor('agent-start', 30_000);
    await caller.sayWav(AUDIO('hello.wav'));
    await answer;
    await caller.waitForAgentSilence(400, 30_000);
    await caller.hangup();
    await until(() => t.events.some((e) => e.type === 'call.ended' && e.callSid === caller.callSid), 'call end');

    const mine = t.events.filter((e) => 'callSid' in e && e.callSid === caller.callSid);
    const caller1 = mine.find((e): e is EventOf<'transcript'> => e.type === 'transcript' && e.role === 'caller');
    const agent = mine.filter((e): e is EventOf<'transcript'> => e.type === 'transcript' && e.role === 'agent' && e.final);
    expect(caller1?.text.length).toBeGreaterThan(0); // tiny random Whisper: gibberish, but decoded for real
    expect(agent).toHaveLength(2);
    expect(agent[0]!.text).toBe('Hello, this is Parley.');
    expect(agent[1]!.text.length).toBeGreaterThan(0); // stories260K writes children's-story English
    const metrics = mine.find((e): e is EventOf<'turn.metrics'> => e.type === 'turn.metrics')!.metrics;
    expect(metrics.sttMs).toBeGreaterThanOrEqual(0);
    expect(metrics.llmFirstTokenMs).not.toBeNull();
    expect(metrics.ttsFirstAudioMs).not.toBeNull();
    expect(caller.bursts.length).toBeGreaterThanOrEqual(2);
    expect(caller.protocolViolations).toEqual([]);
    expect(mine.filter((e) => e.type === 'call.error')).toEqual([]);
  });
});
