/**
 * Whisper, through the real server and a simulated Twilio caller: the note from the person at the desk reaches
 * the next LLM request as a private system message (read back from what test-llm was sent), is recorded with the
 * call, and is never spoken: the caller hears only the greeting and the reply.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { ChatMessage } from '../../../main/core/plugins/api.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const GREETING = 'Hi there.';
const NOTE = 'offer Tuesday instead';
const MS_PER_CHAR = 40; // test-tts's default: 40 ms of tone per character spoken

describe('Whisper', () => {
  let t: TestCore;
  let dir: string;
  let sent: string;
  const requests = (): ChatMessage[][] => (existsSync(sent) ? readFileSync(sent, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChatMessage[]) : []);
  const post = (path: string, body: unknown) => fetch(`${t.url}${path}`, { method: 'POST', headers: { ...t.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-whisper-'));
    sent = join(dir, 'llm.jsonl');
    t = await startTestCore({ greeting: GREETING, recordCalls: true, pluginSettings: { 'test-llm': { recordTo: sent } } });
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the next LLM request as a private note, is recorded, and is never spoken', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 10_000);
    await caller.waitForAgentSilence(300, 20_000);
    expect(requests()).toHaveLength(0);

    const res = await post(`/calls/${caller.callSid}/whisper`, { text: `  ${NOTE} ` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, callSid: caller.callSid, turnId: 1 });
    const whispered = t.events.find((e) => e.type === 'call.whisper');
    expect(whispered).toMatchObject({ callSid: caller.callSid, turnId: 1, text: NOTE });

    const reply = caller.waitFor('agent-start', 20_000);
    await caller.sayWav(AUDIO('hello.wav'));
    await caller.silence(300);
    await reply;
    await caller.waitForAgentSilence(400, 20_000);

    // The LLM got it: a system message after the system prompt and before the caller's words of this turn.
    const asked = requests();
    expect(asked.length).toBeGreaterThanOrEqual(1);
    const last = asked[asked.length - 1]!;
    const noteAt = last.findIndex((m) => m.role === 'system' && m.content.endsWith(NOTE));
    const userAt = last.findIndex((m) => m.role === 'user');
    expect(noteAt).toBeGreaterThan(0);
    expect(userAt).toBeGreaterThan(noteAt);
    expect(last[noteAt]!.content).toMatch(/caller cannot hear this/);

    // Never spoken: no agent line has it, and the caller heard exactly as much tone as the agent's lines need.
    const agentLines = t.events.filter((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === caller.callSid) as { text: string; heard: string }[];
    expect(agentLines.length).toBe(2);
    for (const l of agentLines) expect(l.text).not.toMatch(/Tuesday|person at the desk/);
    const audio = caller.agentAudio();
    let voiced = 0;
    for (let i = 0; i + 160 <= audio.length; i += 160) {
      let e = 0;
      for (let k = i; k < i + 160; k++) e += audio[k]! * audio[k]!;
      if (Math.sqrt(e / 160) > 0.05) voiced++;
    }
    const spokenChars = agentLines.reduce((n, l) => n + l.text.length, 0);
    const expected = (spokenChars * MS_PER_CHAR) / 20;
    // The note (with its prefix, ~170 characters) would add ~340 frames; allow a few frames of rounding.
    expect(voiced).toBeGreaterThan(expected * 0.9);
    expect(voiced).toBeLessThan(expected * 1.05 + 10);

    await caller.hangup();
    await until(() => t.core.records?.get(caller.callSid)?.endedAt != null, 'the record to be final', 10_000);
    const detail = t.core.records!.get(caller.callSid)!;
    expect(detail.events.find((e) => e.type === 'whisper')?.data).toMatchObject({ turnId: 1, text: NOTE });
    // Where the turn ended, for the History timeline.
    expect(detail.events.find((e) => e.type === 'turn-end')?.data).toMatchObject({ turnId: 1, endedBy: 'silence' });
  }, 60_000);

  it('refuses an empty note, an unknown field and an unknown call, naming the problem', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.waitFor('agent-start', 10_000);
    const empty = await post(`/calls/${caller.callSid}/whisper`, { text: '   ' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/"text" must be the note/);
    const typo = await post(`/calls/${caller.callSid}/whisper`, { note: 'x' });
    expect(typo.status).toBe(400);
    const long = await post(`/calls/${caller.callSid}/whisper`, { text: 'x'.repeat(1001) });
    expect(long.status).toBe(400);
    const gone = await post('/calls/CA0000/whisper', { text: NOTE });
    expect(gone.status).toBe(404);
    await caller.hangup();
  }, 30_000);
});
