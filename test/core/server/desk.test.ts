/**
 * The person at the desk on a live call, through the real server: a simulated Twilio caller on /media and a
 * `ws` client on /desk playing the GUI page.
 * - Take over: the agent stops, the desk's frames reach the caller byte for byte, the caller's words are
 *   transcribed and kept but never answered (test-llm records every request: none while taken over), and the
 *   desk's words are transcribed as the desk's.
 * - Hand back: the next caller turn is answered, and that LLM request carries what was said while away.
 * - Listen: both tracks arrive on the desk socket.
 * - Refusals: wrong token, other origin, unknown call; bad bodies; a desk that drops hands the call back.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { ChatMessage } from '../../../main/core/plugins/api.ts';
import { encodeFloat } from '../../../main/core/audio/mulaw.ts';
import { readWav } from '../../../main/core/audio/wav.ts';
import { resample } from '../../../main/core/audio/resample.ts';
import { HANDBACK_NOTE } from '../../../main/core/conversation/dialogue.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const GREETING = 'Hello, this is the front desk.';

/** jfk.wav as 20 ms frames of 8 kHz μ-law: what a page's mic would send. */
function speechFrames(): Uint8Array[] {
  const wav = readWav(AUDIO('jfk.wav'));
  const bytes = encodeFloat(resample(wav.samples, wav.sampleRate, 8000));
  const frames: Uint8Array[] = [];
  for (let i = 0; i + 160 <= bytes.length; i += 160) frames.push(bytes.subarray(i, i + 160));
  return frames;
}

interface Desk {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number }>;
}

function openDesk(t: TestCore, callSid: string, opts: { token?: string; origin?: string } = {}): Promise<Desk> {
  const url = `${t.wsUrl.replace(/\/media$/, '')}/desk?token=${encodeURIComponent(opts.token ?? t.token)}&callSid=${encodeURIComponent(callSid)}`;
  const ws = new WebSocket(url, { headers: opts.origin ? { origin: opts.origin } : {} });
  const messages: Record<string, unknown>[] = [];
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, messages, closed }));
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
  });
}

/** Send frames at real time (20 ms each), as a mic does. */
async function speak(desk: Desk, frames: Uint8Array[]): Promise<void> {
  for (const f of frames) {
    desk.ws.send(JSON.stringify({ event: 'media', payload: Buffer.from(f).toString('base64') }));
    await new Promise((r) => setTimeout(r, 20));
  }
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

describe('Listen, Take over and Hand back', () => {
  let t: TestCore;
  let dir: string;
  let sent: string;
  const requests = (): ChatMessage[][] => (existsSync(sent) ? readFileSync(sent, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChatMessage[]) : []);
  const post = (path: string, body?: unknown) =>
    fetch(`${t.url}${path}`, { method: 'POST', headers: { ...t.auth, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-desk-'));
    sent = join(dir, 'llm.jsonl');
    t = await startTestCore({ greeting: GREETING, recordCalls: true, pluginSettings: { 'test-llm': { recordTo: sent } } });
  });
  afterAll(async () => {
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the call over: the desk reaches the caller, nothing is answered, both sides are transcribed; hand back answers again', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    const sid = caller.callSid;
    await caller.waitFor('agent-start', 10_000);
    const desk = await openDesk(t, sid);
    await until(() => desk.messages.some((m) => m.event === 'joined'), 'the desk to join');
    expect(desk.messages[0]).toMatchObject({ event: 'joined', callSid: sid, takenOver: false });

    // Listen: both tracks flow to the desk (the greeting is still playing).
    desk.ws.send(JSON.stringify({ event: 'listen', on: true }));
    await until(() => desk.messages.some((m) => m.event === 'media' && m.track === 'outbound'), 'the agent track on the desk');
    await caller.silence(200);
    expect(desk.messages.some((m) => m.event === 'media' && m.track === 'inbound')).toBe(true);
    desk.ws.send(JSON.stringify({ event: 'listen', on: false }));

    // Frames before the take-over go nowhere.
    const frames = speechFrames();
    const early = frames.slice(200, 205);
    await speak(desk, early);

    // Take over mid-greeting: the agent is cut off at once (a clear), and listed as taken over.
    const clearsBefore = caller.clears.length;
    const res = await post(`/calls/${sid}/takeover`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, callSid: sid, takenOver: true });
    expect(t.events.find((e) => e.type === 'call.takeover' && e.callSid === sid)).toMatchObject({ active: true });
    await until(() => caller.clears.length > clearsBefore, 'the agent to be cut off');
    const list = (await (await fetch(`${t.url}/calls`, { headers: t.auth })).json()) as { calls: { callSid: string; takenOver?: boolean }[] };
    expect(list.calls.find((c) => c.callSid === sid)?.takenOver).toBe(true);
    // Asking twice is not an error.
    expect((await (await post(`/calls/${sid}/takeover`, {})).json()).takenOver).toBe(true);

    // The desk speaks (3 s of real speech, then a pause): the caller receives exactly those frames.
    const receivedBefore = caller.received.length;
    const said = frames.slice(0, 150);
    await speak(desk, said);
    await speak(desk, Array.from({ length: 60 }, () => new Uint8Array(160).fill(0xff)));
    const got = caller.received.slice(receivedBefore).filter((r) => r.msg.event === 'media').map((r) => Buffer.from(String((r.msg.media as { payload: string }).payload), 'base64'));
    const stream = Buffer.concat(got);
    const at = indexOfBytes(stream, Buffer.concat(said.slice(0, 100)));
    expect(at).toBeGreaterThanOrEqual(0);
    // …and none of the five sent before the take-over.
    expect(indexOfBytes(stream, Buffer.concat(early))).toBe(-1);
    // The desk's words are transcribed as the desk's (test-stt says how long the speech was).
    await until(() => t.events.some((e) => e.type === 'transcript' && e.callSid === sid && e.role === 'agent' && e.by === 'desk' && e.final), 'the desk transcript', 20_000);

    // The caller answers: transcribed, kept, not answered.
    const asked = requests().length;
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(1500);
    await until(() => t.events.some((e) => e.type === 'transcript' && e.callSid === sid && e.role === 'caller' && e.final), 'the caller transcript while taken over', 20_000);
    await caller.silence(500);
    expect(requests().length).toBe(asked);
    expect(t.events.some((e) => e.type === 'turn.metrics' && e.callSid === sid)).toBe(false);

    // Hand back: the next caller turn is answered, with what was said while away in the history.
    const back = await post(`/calls/${sid}/handback`);
    expect(await back.json()).toEqual({ ok: true, callSid: sid, takenOver: false });
    const reply = caller.waitFor('agent-start', 20_000);
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(300);
    await reply;
    await caller.waitForAgentSilence(300, 20_000);
    const last = requests().at(-1)!;
    const desks = last.filter((m) => m.role === 'assistant' && /caller spoke for/.test(m.content));
    expect(desks.length).toBe(1); // the desk's words, as the agent's side
    const note = last.findIndex((m) => m.role === 'system' && m.content === HANDBACK_NOTE);
    expect(note).toBeGreaterThan(0);
    expect(last.slice(0, note).filter((m) => m.role === 'user').length).toBe(1); // the caller's words while away
    expect(last.at(-1)!.role).toBe('user');

    // Recorded: the take-over and hand-back, and the desk's line as that turn's agent side.
    await caller.hangup();
    await until(() => t.core.records?.get(sid)?.endedAt != null, 'the record to close', 10_000);
    const record = t.core.records!.get(sid)!;
    expect(record.events.filter((e) => e.type === 'takeover').map((e) => e.data.active)).toEqual([true, false]);
    const deskTurn = record.events.find((e) => e.type === 'desk')!.data.turnId;
    expect(record.turns.find((x) => x.turnId === deskTurn)?.agentText).toMatch(/caller spoke for/);
    await desk.closed;
  }, 90_000);

  it('refuses a wrong token, another origin and an unknown call; bad bodies are 400; a dropped desk hands the call back', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    const sid = caller.callSid;
    await caller.waitFor('agent-start', 10_000);
    await expect(openDesk(t, sid, { token: 'wrong' })).rejects.toMatchObject({ status: 403 });
    await expect(openDesk(t, sid, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    await expect(openDesk(t, 'CA0000000000000000000000000000dead')).rejects.toMatchObject({ status: 404 });
    expect((await post('/calls/CA0000000000000000000000000000dead/takeover')).status).toBe(404);
    const bad = await post(`/calls/${sid}/takeover`, { now: true });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/takes no body/);

    const desk = await openDesk(t, sid);
    expect((await post(`/calls/${sid}/takeover`)).status).toBe(200);
    await speak(desk, speechFrames().slice(0, 10));
    desk.ws.close();
    await until(() => t.events.some((e) => e.type === 'call.takeover' && e.callSid === sid && !e.active), 'the call to be handed back');
    // The agent answers again.
    const reply = caller.waitFor('agent-start', 20_000);
    await caller.sayWav(AUDIO('yes.wav'));
    await caller.silence(300);
    await reply;
    await caller.hangup();
  }, 60_000);
});
