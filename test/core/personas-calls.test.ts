/**
 * Personas on real calls: the real server with signatures on, the real `twilio` client against the local fake
 * api.twilio.com, simulated media streams. An inbound call to a persona's number gets that persona's greeting,
 * tools, voice (its TTS settings over the app's), transfer number and owner (a message taken is texted to the
 * owner); a dial that names a persona gets it (also for the voicemail an answering machine gets); an unknown
 * persona is a 400 naming the known ones; the persona is in the records. The personas come from
 * PUT /settings/personas, whose validation errors are 400s that change nothing.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TwilioCaller } from '../../main/sim/twilio-caller.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../helpers/fake-twilio.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../helpers/core.ts';

const FIXTURES = resolve(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/plugins-inbox');
const PUBLIC = 'https://parley.example.com';
const CALLER = '+15551112222';
const SALES_NUMBER = '+15557770200';
const OWNER = '+15557770999';
const SALES_DESK = '+15557770333';
const ELSEWHERE_NUMBER = '+15557770400';
const MESSAGE = 'Please call back about the X-files, before Friday.';
// A caller's turn: inbox-llm answers the same whatever was said, so a short word will do.
const TURN = AUDIO('yes.wav');
const wsHeaders = { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC.replace('https', 'wss')}/media`, {}) };

// Two greetings of the same length: the voice test compares how long each takes to say.
const PERSONAS = [
  { name: 'Front desk', greeting: 'Front desk now.', tools: 'none', voicemailMessage: 'Front desk voicemail.' },
  {
    name: 'Sales',
    numbers: [SALES_NUMBER],
    greeting: 'Sales speaking.',
    systemPrompt: 'You sell things.',
    tools: 'save_note',
    voice: { plugin: 'test-tts', settings: { msPerChar: 80 } },
    transferNumber: SALES_DESK,
    ownerNumber: OWNER,
    voicemailMessage: 'Sales voicemail, call us.',
  },
  // A voice plugin that is not installed: the app's voice, with a warning.
  { name: 'Elsewhere', numbers: [ELSEWHERE_NUMBER], greeting: 'Elsewhere here.', voice: { plugin: 'gone-tts', settings: { speed: 2 } } },
];

const agentLines = (t: TestCore, callSid: string) =>
  t.events.filter((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid).map((e) => (e as { text: string }).text);

/** How much of the agent's audio is voiced (20 ms blocks with a tone in them): the call timeline has silence too. */
function voicedMs(audio: Float32Array): number {
  let voiced = 0;
  for (let i = 0; i + 160 <= audio.length; i += 160) {
    let sum = 0;
    for (let j = i; j < i + 160; j++) sum += audio[j]! * audio[j]!;
    if (Math.sqrt(sum / 160) > 0.05) voiced++;
  }
  return voiced * 20;
}

describe('personas on calls', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  const open: TwilioCaller[] = [];

  const twilioPost = (path: string, params: Record<string, string>) =>
    fetch(`${t.url}${path}`, { method: 'POST', body: new URLSearchParams(params), headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, params) } });
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${t.url}${path}`, { method, headers: { ...t.auth, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    t = await startTestCore(
      {
        twilioAccountSid: ACCOUNT_SID,
        twilioAuthToken: AUTH_TOKEN,
        twilioPhoneNumber: TWILIO_NUMBER,
        publicUrl: PUBLIC,
        userPluginsDir: FIXTURES,
        llm: 'inbox-llm',
        toolFiller: '',
        greeting: 'The app greeting.',
        transferMessage: 'Connecting you now.',
        maxCalls: 8,
      },
      { twilioApiUrl: fake.url, callTimeouts: { endGraceMs: 60_000 } },
    );
    const saved = await api('PUT', '/settings/personas', { personas: PERSONAS });
    expect(saved.status).toBe(200);
  }, 60_000);
  afterEach(() => {
    for (const c of open.splice(0)) c.drop();
  });
  afterAll(async () => {
    for (const c of open) c.drop();
    await t?.stop();
    await fake?.stop();
  });

  /** An inbound call to `to`, as Twilio brings it: the signed webhook, then the signed media stream. */
  async function inbound(to: string) {
    const callSid = 'CA' + randomBytes(16).toString('hex');
    fake.calls.set(callSid, { sid: callSid, from: CALLER, to, status: 'in-progress', direction: 'inbound' });
    const hook = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: to, Direction: 'inbound', CallStatus: 'in-progress' };
    expect((await twilioPost('/voice/incoming', hook)).status).toBe(200);
    const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, direction: 'inbound', from: CALLER, to, headers: wsHeaders });
    open.push(caller);
    return { callSid, caller };
  }

  /** POST /calls, then the call's media stream once the callee answers. */
  async function dial(persona?: string) {
    const res = await api('POST', '/calls', { to: CALLER, ...(persona === undefined ? {} : { persona }) });
    expect(res.status).toBe(200);
    const { callSid } = (await res.json()) as { callSid: string };
    const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, direction: 'outbound', from: TWILIO_NUMBER, to: CALLER, headers: wsHeaders });
    open.push(caller);
    return { callSid, caller };
  }

  it("an inbound call to a persona's number gets its greeting, voice, tools and owner; the records name it", async () => {
    const sales = await inbound(SALES_NUMBER);
    await until(() => agentLines(t, sales.callSid).length === 1, 'the Sales greeting');
    await sales.caller.waitForAgentSilence(400);
    expect(agentLines(t, sales.callSid)).toEqual(['Sales speaking.']);
    const salesGreeting = voicedMs(sales.caller.agentAudio());

    const desk = await inbound('+15557770111'); // a number no persona claims: the default (first) persona
    await until(() => agentLines(t, desk.callSid).length === 1, 'the Front desk greeting');
    await desk.caller.waitForAgentSilence(400);
    expect(agentLines(t, desk.callSid)).toEqual(['Front desk now.']);
    const deskGreeting = voicedMs(desk.caller.agentAudio());
    // Sales speaks with test-tts at msPerChar 80, the app's voice at its default 40: the same length of text takes twice as long.
    expect(salesGreeting / deskGreeting).toBeGreaterThan(1.7);
    expect(salesGreeting / deskGreeting).toBeLessThan(2.3);

    // Tools: Sales offers save_note (inbox-llm then takes a message); Front desk offers none.
    await sales.caller.sayWav(TURN);
    await sales.caller.silence(300);
    await until(() => agentLines(t, sales.callSid).includes('I have taken your message. Goodbye for now.'), 'the message to be taken', 20_000);
    expect(t.events.filter((e) => e.type === 'call.message' && e.callSid === sales.callSid)).toHaveLength(1);
    await desk.caller.sayWav(TURN);
    await desk.caller.silence(300);
    await until(() => agentLines(t, desk.callSid).length === 2, 'the Front desk reply', 20_000);
    expect(agentLines(t, desk.callSid)[1]).toBe('Hello, how can I help?');
    expect(t.events.some((e) => e.type === 'call.message' && e.callSid === desk.callSid)).toBe(false);

    // The owner of Sales got the message by text, from the number the caller called.
    await until(() => fake.messages.some((m) => m.to === OWNER), 'the text to the owner');
    expect(fake.messages.filter((m) => m.to === OWNER)).toEqual([expect.objectContaining({ from: SALES_NUMBER, body: `Message from Dana Scully (+15550001111): ${MESSAGE}` })]);

    // The records (list and detail) say which persona took each call.
    await until(() => t.core.records?.get(sales.callSid)?.persona === 'Sales', 'the persona in the records');
    const list = (await (await api('GET', '/records/calls')).json()) as { calls: { sid: string; persona: string | null }[] };
    expect(list.calls.find((c) => c.sid === sales.callSid)?.persona).toBe('Sales');
    expect(list.calls.find((c) => c.sid === desk.callSid)?.persona).toBe('Front desk');
    const detail = (await (await api('GET', `/records/calls/${sales.callSid}`)).json()) as { persona: string; events: { type: string; data: Record<string, unknown> }[] };
    expect(detail.persona).toBe('Sales');
    expect(detail.events.find((e) => e.type === 'sms')?.data).toMatchObject({ to: OWNER, status: 'sent' });
    // …and so does the export, json and csv.
    const exported = async (format: 'json' | 'csv') => {
      let text = '';
      const out = new Writable({ write: (chunk, _enc, done) => ((text += String(chunk)), done()) });
      await t.core.records!.export(out, { format });
      return text;
    };
    const json = JSON.parse(await exported('json')) as { calls: { sid: string; persona: string | null }[] };
    expect(json.calls.find((c) => c.sid === sales.callSid)?.persona).toBe('Sales');
    // persona is the last column (the turn texts before it may hold quoted commas).
    const rows = (await exported('csv')).trim().split('\r\n');
    expect(rows[0]!.split(',').at(-1)).toBe('persona');
    const deskRows = rows.filter((r) => r.startsWith(`${desk.callSid},`));
    expect(deskRows.length).toBeGreaterThan(0);
    expect(deskRows.every((r) => r.endsWith(',Front desk'))).toBe(true);
    await sales.caller.hangup();
    await desk.caller.hangup();
  }, 60_000);

  it("a failed text to the owner is logged and recorded; the call goes on", async () => {
    fake.failNext('POST', /\/Messages\.json$/, { status: 400, code: 21606, message: 'The From phone number is not a valid, SMS-capable inbound phone number.' });
    const before = fake.messages.length;
    const { callSid, caller } = await inbound(SALES_NUMBER);
    await until(() => agentLines(t, callSid).length === 1, 'the greeting');
    await caller.sayWav(TURN);
    await caller.silence(300);
    await until(() => agentLines(t, callSid).includes('I have taken your message. Goodbye for now.'), 'the reply after the message', 20_000);
    await until(() => t.events.some((e) => e.type === 'call.sms' && e.callSid === callSid), 'the failed text');
    expect(t.events.find((e) => e.type === 'call.sms' && e.callSid === callSid)).toMatchObject({ to: OWNER, status: 'failed', detail: expect.stringContaining('SMS-capable') });
    expect(fake.messages.length).toBe(before);
    expect(t.logs.some((r) => r.level === 'warn' && r.msg.includes('could not text the message to the owner'))).toBe(true);
    // The message itself is kept in the inbox all the same.
    expect(t.core.records!.messages().messages.some((m) => m.callSid === callSid && m.message === MESSAGE)).toBe(true);
    await caller.hangup();
  }, 60_000);

  it('a test call (the GUI microphone) never texts the owner; a phone call of the same persona does', async () => {
    const sales = { name: 'Sales' };
    const testSid = 'TEST' + randomBytes(8).toString('hex');
    const phoneSid = 'CA' + randomBytes(16).toString('hex');
    t.core.personas.dialled(testSid, sales);
    t.core.personas.dialled(phoneSid, sales);
    const before = fake.messages.length;
    const note = { name: 'Ann', callback: '+15550002222', message: 'Hi.' };
    await expect(t.core.callFeatures.textOwner(testSid, note)).resolves.toBeNull();
    expect(fake.messages.length).toBe(before);
    await expect(t.core.callFeatures.textOwner(phoneSid, note)).resolves.toMatchObject({ to: OWNER });
    expect(fake.messages.at(-1)).toMatchObject({ to: OWNER, body: 'Message from Ann (+15550002222): Hi.' });
  });

  it("a persona whose voice plugin is not installed speaks with the app's voice, and the log says so", async () => {
    const { callSid, caller } = await inbound(ELSEWHERE_NUMBER);
    await until(() => agentLines(t, callSid).length === 1, 'the greeting');
    await caller.waitForAgentSilence(400);
    expect(agentLines(t, callSid)).toEqual(['Elsewhere here.']);
    // test-tts at its own 40 ms per character: 15 characters.
    expect(voicedMs(caller.agentAudio())).toBe(600);
    expect(t.logs.some((r) => r.level === 'warn' && r.msg.includes('persona "Elsewhere": its voice plugin "gone-tts" is not installed') && r.callSid === callSid)).toBe(true);
    await caller.hangup();
  }, 30_000);

  it("a call put through goes to its persona's transfer number", async () => {
    const { callSid, caller } = await inbound(SALES_NUMBER);
    await until(() => agentLines(t, callSid).length === 1, 'the greeting');
    await t.core.callFeatures.transfer(callSid);
    const update = fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`)).at(-1)!;
    expect(update.form.get('Twiml')).toContain(`<Number>${SALES_DESK}</Number>`);
    await caller.hangup();
  }, 30_000);

  it('a dial that names a persona (any case) gets it; none gets the default; an unknown one is a 400 naming the known ones', async () => {
    const sales = await dial('sAlEs');
    await until(() => agentLines(t, sales.callSid).length === 1, 'the Sales greeting');
    expect(agentLines(t, sales.callSid)).toEqual(['Sales speaking.']);
    await until(() => t.core.records?.get(sales.callSid)?.persona === 'Sales', 'the persona in the records');

    const plain = await dial();
    await until(() => agentLines(t, plain.callSid).length === 1, 'the default greeting');
    expect(agentLines(t, plain.callSid)).toEqual(['Front desk now.']);

    expect(t.core.records?.get(plain.callSid)?.persona).toBe('Front desk');
    const placed = fake.requestsTo('POST', /\/Calls\.json$/).length;
    const res = await api('POST', '/calls', { to: CALLER, persona: 'Support' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('BAD_REQUEST');
    expect(body.error.message).toContain('No persona named "Support". Known personas: "Front desk", "Sales", "Elsewhere".');
    expect(fake.requestsTo('POST', /\/Calls\.json$/).length).toBe(placed); // nothing was dialled
    await sales.caller.hangup();
    await plain.caller.hangup();
  }, 60_000);

  it("an answering machine on a dial with a persona gets that persona's voicemail", async () => {
    const { callSid, caller } = await dial('Sales');
    await until(() => agentLines(t, callSid).length === 1, 'the greeting');
    const closed = caller.waitFor('close', 20_000);
    expect((await twilioPost('/voice/amd', { CallSid: callSid, AccountSid: ACCOUNT_SID, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '7700' })).status).toBe(200);
    await closed;
    expect(agentLines(t, callSid)).toEqual(['Sales speaking.', 'Sales voicemail, call us.']);
  }, 30_000);

  it('GET /settings/personas lists them; an invalid list is a 400 naming the problem, and nothing changes', async () => {
    const got = (await (await api('GET', '/settings/personas')).json()) as { personas: { name: string; numbers: string[] }[] };
    expect(got.personas.map((p) => p.name)).toEqual(['Front desk', 'Sales', 'Elsewhere']);
    expect(got.personas[1]!.numbers).toEqual([SALES_NUMBER]);

    const bad = await api('PUT', '/settings/personas', { personas: [...PERSONAS, { name: 'Support', numbers: ['555-1234'] }] });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('CONFIG_INVALID');
    expect(err.error.message).toContain('persona "Support": "555-1234" is not an E.164 number');
    const dup = await api('PUT', '/settings/personas', { personas: [{ name: 'A' }, { name: 'a' }] });
    expect(dup.status).toBe(400);
    expect(((await dup.json()) as { error: { message: string } }).error.message).toContain('Two personas are named "a"');
    const none = await api('PUT', '/settings/personas', { personas: [] });
    expect(none.status).toBe(400);
    const after = (await (await api('GET', '/settings/personas')).json()) as { personas: { name: string }[] };
    expect(after.personas.map((p) => p.name)).toEqual(['Front desk', 'Sales', 'Elsewhere']);
  });
});
