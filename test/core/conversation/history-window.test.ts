/**
 * The history window and the LLM's kept cache, through the real server and a simulated Twilio caller (what
 * test-llm was sent, read back from its recordTo / recordPrepareTo files):
 * - after each reply, the engine prepares what the next turn's prompt starts with (prepare()), and the next turn's
 *   request starts with exactly that;
 * - the window sent is never more than maxHistory messages, and its start moves on half a window at a time, so the
 *   prompt's start (and llama-llm's cache of the call) stays put for several turns instead of changing every turn.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { ChatMessage } from '../../../main/core/plugins/api.ts';
import { AUDIO, startTestCore, type TestCore } from '../../helpers/core.ts';

const SYSTEM = 'You answer the phone.';
const MAX = 4;
const TURNS = 6;

describe('the history window the LLM is sent', () => {
  let t: TestCore;
  let dir: string;
  let chats: string;
  let prepares: string;
  const read = (f: string): ChatMessage[][] => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChatMessage[]) : []);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-window-'));
    chats = join(dir, 'chats.jsonl');
    prepares = join(dir, 'prepares.jsonl');
    t = await startTestCore({ greeting: 'Hi.', systemPrompt: SYSTEM, maxHistory: MAX, pluginSettings: { 'test-llm': { reply: 'Sure.', recordTo: chats, recordPrepareTo: prepares } } });
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares each next turn, and moves the window half a window at a time', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 10_000);
    await caller.waitForAgentSilence(300, 20_000);
    for (let i = 0; i < TURNS; i++) {
      const reply = caller.waitFor('agent-start', 20_000);
      await caller.sayWav(AUDIO('yes.wav'));
      await caller.silence(300);
      await reply;
      await caller.waitForAgentSilence(300, 20_000);
    }
    await caller.hangup();

    const sent = read(chats);
    const prepared = read(prepares);
    expect(sent).toHaveLength(TURNS);
    // The opening (the greeting as heard is the same: not prepared twice), then one after each reply.
    expect(prepared).toHaveLength(TURNS + 1);

    for (const [i, request] of sent.entries()) {
      expect(request[0]).toEqual({ role: 'system', content: SYSTEM });
      const history = request.slice(1);
      expect(history.length).toBeLessThanOrEqual(MAX);
      expect(history.at(-1)?.role).toBe('user');
      // What was prepared last before this turn is exactly what its prompt starts with: only the caller's words
      // are new to the LLM.
      expect(prepared.map((p) => JSON.stringify(p)), `turn ${i + 1} was prepared`).toContain(JSON.stringify(request.slice(0, -1)));
    }
    // Turn n has 2n messages of history (the greeting, n caller turns, n - 1 replies). A window sliding one message
    // per turn would change the prompt's start at every turn from 3 on; half a window at a time changes it at turns
    // 3 and 5 only, and keeps it for the turns in between.
    const moved = sent.slice(1).flatMap((request, k) => (JSON.stringify(request.slice(0, sent[k]!.length)) === JSON.stringify(sent[k]) ? [] : [k + 2]));
    expect(moved).toEqual([3, 5]);
    expect(sent.map((r) => r.length - 1)).toEqual([2, 4, 2, 4, 2, 4]);
  });
});
