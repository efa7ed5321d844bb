/**
 * The "not ready" notice (issue 14 §3): a call that arrives while the LLM plugin cannot start (its model file is
 * missing) hears the bundled clip — exactly its 20 ms μ-law frames — through the simulated Twilio caller (the
 * simulator's engine), then the stream closes cleanly with reason `not-ready`; the GUI gets a call.error naming
 * the plugin, its error and the fix. Other calls and the server keep working, and once the plugin is fixed
 * calls are answered again.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_READY_MARK, NOT_READY_WAV, describeNotReady, loadNotReadyNotice, notReadyReason } from '../../../main/core/calls/not-ready.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const ended = (t: TestCore, callSid: string) => t.events.filter((e): e is EventOf<'call.ended'> => e.type === 'call.ended' && e.callSid === callSid);

describe('the bundled not-ready notice', () => {
  it('is a small 8 kHz clip of a few seconds', () => {
    expect(existsSync(NOT_READY_WAV)).toBe(true);
    expect(statSync(NOT_READY_WAV).size).toBeLessThan(64 * 1024);
    const frames = loadNotReadyNotice();
    expect(frames.length * 20).toBeGreaterThan(2_000);
    expect(frames.length * 20).toBeLessThan(8_000);
    for (const f of frames) expect(f.length).toBe(160);
  });

  it('says which plugin, what error and the fix; null when all needed plugins are fine', () => {
    const info = (name: string, kind: 'stt' | 'llm' | 'tts', status: 'ready' | 'failed' | 'broken', error: string | null = null) =>
      ({ name, kind, status, error }) as unknown as ReturnType<Parameters<typeof notReadyReason>[0]['list']>[number];
    const view = (list: ReturnType<typeof info>[], names: Record<string, string | null>) => ({ activeName: (k: string) => names[k] ?? null, list: () => list });
    const ok = [info('s', 'stt', 'ready'), info('l', 'llm', 'ready'), info('t', 'tts', 'ready')];
    expect(notReadyReason(view(ok, { stt: 's', llm: 'l', tts: 't' }))).toBeNull();
    const missing = notReadyReason(view([ok[0]!, info('l', 'llm', 'failed', 'model missing — run npm run models -- pull qwen'), ok[2]!], { stt: 's', llm: 'l', tts: 't' }))!;
    expect(missing).toMatchObject({ kind: 'llm', plugin: 'l' });
    expect(describeNotReady(missing)).toMatch(/llm plugin "l" cannot start \(model missing — run npm run models -- pull qwen\)\. Fix: install its model/);
    expect(notReadyReason(view(ok, { stt: 's', llm: null, tts: 't' }))).toMatchObject({ kind: 'llm', plugin: null, error: 'no llm plugin is installed' });
    expect(notReadyReason(view([ok[0]!, ok[1]!], { stt: 's', llm: 'l', tts: 'gone' }))).toMatchObject({ kind: 'tts', error: 'the tts plugin "gone" is not installed' });
  });
});

describe('a call while the LLM plugin cannot start', () => {
  let t: TestCore;
  let userPlugins: string;
  beforeAll(async () => {
    userPlugins = mkdtempSync(join(tmpdir(), 'parley-broken-plugins-'));
    const dir = join(userPlugins, 'broken-llm');
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'broken-llm', kind: 'llm', version: '1.0.0', apiVersion: 1, main: 'index.js', description: 'an LLM whose model file is missing', settings: {}, models: [] }));
    writeFileSync(join(dir, 'index.js'), "export default { async create() { throw new Error('model missing — run npm run models -- pull broken-model'); } };\n");
    t = await startTestCore({ greeting: 'Hello from the fixed agent.', llm: 'broken-llm', userPluginsDir: userPlugins, idleRepromptMs: 0, idleHangupMs: 0 }, { callTimeouts: { endGraceMs: 200 } });
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(userPlugins, { recursive: true, force: true });
  });

  it('hears the clip frame for frame, then the stream closes with reason not-ready; the error says why; two calls at once both do', async () => {
    await until(() => t.core.plugins.list().find((p) => p.name === 'broken-llm')?.status === 'failed', 'the broken LLM to fail');
    const clip = loadNotReadyNotice();
    const a = await TwilioCaller.connect({ url: t.wsUrl, from: '+15550001111' });
    const b = await TwilioCaller.connect({ url: t.wsUrl, from: '+15550002222' });
    for (const caller of [a, b]) {
      expect(await caller.waitFor<number>('close', 20_000)).toBe(1000);
      expect(caller.protocolViolations).toEqual([]);
      const media = caller.received.filter((r) => r.msg.event === 'media').map((r) => Buffer.from((r.msg as { media: { payload: string } }).media.payload, 'base64'));
      expect(media.length).toBe(clip.length);
      media.forEach((m, i) => expect(m.equals(Buffer.from(clip[i]!))).toBe(true));
      expect(caller.received.at(-1)!.msg).toMatchObject({ event: 'mark', mark: { name: NOT_READY_MARK } });
      await until(() => ended(t, caller.callSid).length === 1, 'call.ended');
      expect(ended(t, caller.callSid)[0]).toMatchObject({ reason: 'not-ready' });
      expect(t.events.find((e) => e.type === 'call.error' && e.callSid === caller.callSid)).toMatchObject({
        code: 'NOT_READY',
        message: expect.stringMatching(/llm plugin "broken-llm" cannot start \(.*model missing — run npm run models -- pull broken-model\)\. Fix: install its model/),
      });
      expect(t.events.some((e) => e.type === 'call.started' && e.callSid === caller.callSid)).toBe(false);
    }
    expect(t.logs.some((l) => l.msg.includes('Playing the not-ready notice'))).toBe(true);

    // The server keeps working, and once the LLM is fixed (another one picked) calls are answered again.
    const status = await fetch(`${t.url}/status`, { headers: t.auth });
    expect(status.ok).toBe(true);
    t.core.plugins.setActive('llm', 'test-llm');
    await until(() => t.core.plugins.list().find((p) => p.name === 'test-llm')?.status === 'ready', 'test-llm to be ready', 30_000);
    const c = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === c.callSid), 'a real call to start');
    await c.sayWav(AUDIO('hello.wav'));
    await until(() => t.events.some((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === c.callSid && e.text.startsWith('You said')), 'the agent to answer', 15_000);
    await c.hangup();
  });
});
