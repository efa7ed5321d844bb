/**
 * Two calls at once through the real server, with an LLM plugin that records which call each chat ran for
 * (`options.callSid`, what llama-llm keys a sequence by) and when its first and last tokens went out. Each call's
 * turns land on its own sequence, in order, with only its own history; and call B's reply is not held back
 * behind call A's whole reply: B's first token goes out while A is still generating.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUDIO, pluginsWarm, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const SEQ_PLUGINS = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../fixtures/plugins-seq');

interface Line {
  callSid: string | null;
  phase: 'start' | 'first' | 'end';
  at: number;
  users?: string[];
}

describe('two calls at once', () => {
  let t: TestCore;
  let record = '';
  const lines = (): Line[] => {
    try {
      return readFileSync(record, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    } catch {
      return [];
    }
  };
  const of = (callSid: string, phase: Line['phase']) => lines().filter((l) => l.callSid === callSid && l.phase === phase);

  beforeAll(async () => {
    t = await startTestCore({ greeting: '', maxCalls: 4, llm: 'seq-llm', userPluginsDir: SEQ_PLUGINS });
    record = join(t.dataDir, 'seq.jsonl');
    // A's reply takes 12 words × 400 ms ≈ 4.4 s: far longer than B's whole utterance plus its end of turn.
    t.core.applySettings({ pluginSettings: { 'seq-llm': { recordTo: record, tokenDelayMs: 400, words: 12 } } });
    await until(() => t.core.plugins.list().some((p) => p.name === 'seq-llm' && p.status === 'ready'), 'seq-llm to restart');
    await pluginsWarm(t.core);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("runs each call's turns on its own sequence, in order, and B's first token goes out while A is still generating", async () => {
    const a = await TwilioCaller.connect({ url: t.wsUrl, from: '+15550000001' });
    const b = await TwilioCaller.connect({ url: t.wsUrl, from: '+15550000002' });
    await until(() => [a, b].every((c) => t.core.calls().some((x) => x.callSid === c.callSid && x.streamSid)), 'both calls to start');

    // Short first turns: B's whole utterance and end of turn (~1.4 s) fit well inside A's reply.
    await a.sayWav(AUDIO('yes.wav'));
    await until(() => of(a.callSid, 'first').length > 0, "A's first token", 15_000);
    await b.sayWav(AUDIO('yes.wav'));
    await until(() => of(b.callSid, 'first').length > 0, "B's first token", 15_000);
    await until(() => of(a.callSid, 'end').length > 0 && of(b.callSid, 'end').length > 0, 'both replies to finish', 20_000);

    // B's first token went out before A's reply was over: the calls were not served one after the other.
    const aEnd = of(a.callSid, 'end')[0]!.at;
    const bFirst = of(b.callSid, 'first')[0]!.at;
    expect(bFirst).toBeLessThan(aEnd);
    expect(of(a.callSid, 'first')[0]!.at).toBeLessThan(bFirst);

    // A second turn on each call: each chat carries its own call's id and only its own history, in order.
    // Both replies fully heard first (a caller cutting in would merge its words into the cut-off turn).
    const heard = (callSid: string) => t.events.some((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid);
    await until(() => heard(a.callSid) && heard(b.callSid), 'both replies to be spoken', 20_000);
    await Promise.all([a.waitForAgentSilence(300), b.waitForAgentSilence(300)]);
    await Promise.all([a.sayWav(AUDIO('question.wav')), b.sayWav(AUDIO('question.wav'))]);
    await until(() => of(a.callSid, 'end').length > 1 && of(b.callSid, 'end').length > 1, 'both second replies', 25_000);

    expect(lines().every((l) => l.callSid === a.callSid || l.callSid === b.callSid)).toBe(true);
    for (const caller of [a, b]) {
      const starts = of(caller.callSid, 'start');
      const counts = starts.map((s) => s.users!.length);
      // Turn 1 had one user line, the last turn two: never the other call's lines, never out of order.
      expect(counts[0]).toBe(1);
      expect(counts.at(-1)).toBe(2);
      expect(counts).toEqual([...counts].sort((x, y) => x - y));
      const last = starts.at(-1)!.users!;
      expect(last[0]).toBe(starts[0]!.users![0]);
    }
    await Promise.all([a.hangup(), b.hangup()]);
  }, 90_000);
});
