/**
 * What the agent does through Twilio besides talking, end to end: the real server with signatures on, the real
 * `twilio` client against the local fake api.twilio.com, and simulated media streams. Transfer (the `<Dial>`
 * TwiML, the way back to the agent when nobody answers), text messages (the caller only, unless allowed), keys
 * on a phone menu (DTMF tones the far end can decode), answering-machine detection (the parameters on the dial,
 * the signed callback, the outcome in the records, the voicemail after the beep and the hang-up), and the
 * caller's own keys reaching the LLM.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { detectDtmf } from '../../../main/core/audio/dtmf.ts';
import { decodeFloat } from '../../../main/core/audio/mulaw.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../../helpers/fake-twilio.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const PUBLIC = 'https://parley.example.com';
const HUMAN = '+15557770001';
const CALLER = '+15551112222';
const settings = {
  twilioAccountSid: ACCOUNT_SID,
  twilioAuthToken: AUTH_TOKEN,
  twilioPhoneNumber: TWILIO_NUMBER,
  publicUrl: PUBLIC,
  greeting: '',
  transferNumber: HUMAN,
  transferMessage: 'Connecting you now.',
  transferNoAnswerMessage: 'Nobody picked up, sorry.',
  voicemailMessage: 'Please call us back.',
  // Room for every call of the file, even one a failed test left open.
  maxCalls: 8,
};
const wsHeaders = { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC.replace('https', 'wss')}/media`, {}) };

function twilioPost(t: TestCore, path: string, params: Record<string, string>, signature = getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, params)) {
  return fetch(`${t.url}${path}`, { method: 'POST', body: new URLSearchParams(params), headers: { 'x-twilio-signature': signature } });
}

/** The `<Parameter>`s of a `<Connect><Stream>` TwiML answer, as the stream's `start` would carry them. */
function streamParameters(twiml: string): Record<string, string> {
  return Object.fromEntries([...twiml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [m[1]!, m[2]!]));
}

const agentLines = (t: TestCore, callSid: string) =>
  t.events.filter((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid).map((e) => (e as { text: string }).text);

describe('the agent acting through Twilio', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  const open: TwilioCaller[] = [];
  let chats = '';

  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    t = await startTestCore(settings, { twilioApiUrl: fake.url, callTimeouts: { endGraceMs: 60_000 } });
    // test-llm answers "You said: <the last user message>." and writes every chat request to a file.
    chats = join(t.dataDir, 'chats.jsonl');
    t.core.applySettings({ pluginSettings: { 'test-llm': { extra: '', recordTo: chats } } });
    await until(() => t.core.plugins.list().some((p) => p.name === 'test-llm' && p.status === 'ready'), 'test-llm to restart');
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.drop();
  });
  afterAll(async () => {
    for (const c of open) c.drop();
    await t.stop();
    await fake.stop();
  });

  /** A call as Twilio would bring it: the signed webhook, then the signed media stream. */
  async function connect(direction: 'inbound' | 'outbound', callSid = 'CA' + randomBytes(16).toString('hex')) {
    const [from, to] = direction === 'inbound' ? [CALLER, TWILIO_NUMBER] : [TWILIO_NUMBER, CALLER];
    if (!fake.calls.has(callSid)) fake.calls.set(callSid, { sid: callSid, from, to, status: 'in-progress', direction: direction === 'inbound' ? 'inbound' : 'outbound-api' });
    const hook = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: from, To: to, Direction: direction === 'inbound' ? 'inbound' : 'outbound-api', CallStatus: 'in-progress' };
    expect((await twilioPost(t, '/voice/incoming', hook)).status).toBe(200);
    const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, direction, from, to, headers: wsHeaders });
    open.push(caller);
    await until(() => t.core.calls().some((c) => c.callSid === callSid && c.state === 'listening'), 'the call to connect');
    return { callSid, caller };
  }

  describe('transfer_call', () => {
    it('says the transfer message, then updates the call with <Dial> to the transfer number; no answer brings the caller back to the agent', async () => {
      const { callSid, caller } = await connect('inbound');
      await t.core.callFeatures.transfer(callSid);
      // The caller heard "connecting you" before the call moved on.
      expect(agentLines(t, callSid)).toEqual(['Connecting you now.']);
      const update = fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`)).at(-1)!;
      const twiml = update.form.get('Twiml')!;
      expect(twiml).toContain(`<Dial action="${PUBLIC}/voice/transfer-result" method="POST" timeout="25"><Number>${HUMAN}</Number></Dial>`);
      expect(t.events.filter((e) => e.type === 'call.transfer' && e.callSid === callSid)).toEqual([expect.objectContaining({ to: HUMAN, stage: 'dialing' })]);

      // Twilio ends the stream (the new TwiML replaced <Connect><Stream>), rings the human, nobody answers.
      await caller.hangup();
      const result = await twilioPost(t, '/voice/transfer-result', { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: TWILIO_NUMBER, Direction: 'inbound', DialCallStatus: 'no-answer' });
      expect(result.status).toBe(200);
      const back = await result.text();
      expect(back).toContain(`<Connect><Stream url="wss://parley.example.com/media">`);
      const parameters = streamParameters(back);
      expect(parameters).toMatchObject({ callSid, from: CALLER, to: TWILIO_NUMBER, direction: 'inbound', resume: 'transfer-no-answer' });

      // The caller's new stream: admitted (signatures are on), the agent says so and remembers the conversation.
      const again = await TwilioCaller.connect({ url: t.wsUrl, callSid, direction: 'inbound', from: CALLER, to: TWILIO_NUMBER, customParameters: parameters, headers: wsHeaders });
      open.push(again);
      await until(() => agentLines(t, callSid).length === 2, 'the agent to speak again');
      expect(agentLines(t, callSid)).toEqual(['Connecting you now.', 'Nobody picked up, sorry.']);
      expect(t.events.filter((e) => e.type === 'call.transfer' && e.callSid === callSid).map((e) => (e as { stage: string; returned?: boolean }).stage)).toEqual(['dialing', 'no-answer']);
      expect(t.events.find((e) => e.type === 'call.transfer' && e.stage === 'no-answer')).toMatchObject({ returned: true });

      // And it answers the caller again, turns numbered after the first stream's.
      again.dtmf('0');
      await until(() => agentLines(t, callSid).length === 3, 'a reply after the return');
      expect(agentLines(t, callSid)[2]).toBe('You said: [the caller pressed 0].');
      // The LLM on the new stream was sent the conversation from before the transfer.
      const sent = JSON.parse(readFileSync(chats, 'utf8').trim().split('\n').at(-1)!) as { role: string; content: string }[];
      expect(sent.filter((m) => m.role !== 'system')).toEqual([
        { role: 'assistant', content: 'Connecting you now.' },
        { role: 'assistant', content: 'Nobody picked up, sorry.' },
        { role: 'user', content: '[the caller pressed 0]' },
      ]);
      await until(() => (t.core.records?.get(callSid)?.turns.length ?? 0) >= 3, 'the turns in the records').catch((err) => {
        throw new Error(`${err.message}: ${JSON.stringify(t.core.records?.get(callSid)?.turns)}`);
      });
      const detail = t.core.records!.get(callSid)!;
      expect(detail.turns.map((x) => x.agentText)).toEqual(['Connecting you now.', 'Nobody picked up, sorry.', 'You said: [the caller pressed 0].']);
      expect(detail.events.filter((e) => e.type === 'transfer').map((e) => e.data)).toEqual([
        { to: HUMAN, stage: 'dialing' },
        { to: HUMAN, stage: 'no-answer', returned: true },
      ]);
      await again.hangup();
    });

    it('hangs up the caller leg once the human took the call and it is over', async () => {
      const { callSid, caller } = await connect('inbound');
      await t.core.callFeatures.transfer(callSid);
      await caller.hangup();
      const twiml = await (await twilioPost(t, '/voice/transfer-result', { CallSid: callSid, AccountSid: ACCOUNT_SID, DialCallStatus: 'completed', DialCallDuration: '42' })).text();
      expect(twiml).toContain('<Hangup/>');
      expect(twiml).not.toContain('<Stream');
      expect(t.events.filter((e) => e.type === 'call.transfer' && e.callSid === callSid).map((e) => (e as { stage: string }).stage)).toEqual(['dialing', 'completed']);
    });

    it('refuses a transfer-result that Twilio did not sign', async () => {
      const res = await twilioPost(t, '/voice/transfer-result', { CallSid: 'CA' + '0'.repeat(32), DialCallStatus: 'no-answer' }, 'forged');
      expect(res.status).toBe(403);
    });

    it('without a transfer number, says what to set and leaves the call with the agent', async () => {
      const { callSid, caller } = await connect('inbound');
      t.core.applySettings({ transferNumber: '' });
      try {
        await expect(t.core.callFeatures.transfer(callSid)).rejects.toThrow(/PARLEY_TRANSFER_NUMBER/);
        expect(agentLines(t, callSid)).toEqual([]); // no "connecting you" for a transfer that can't happen
        expect(fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`))).toEqual([]);
        caller.dtmf('5');
        await until(() => agentLines(t, callSid).length === 1, 'the agent to go on');
      } finally {
        t.core.applySettings({ transferNumber: HUMAN });
      }
      await caller.hangup();
    });

    it('a transfer Twilio refuses gives the call back to the agent', async () => {
      const { callSid, caller } = await connect('inbound');
      fake.failNext('POST', new RegExp(`/Calls/${callSid}\\.json$`), { status: 400, code: 21220, message: 'Call is not in-progress. Cannot redirect.' });
      await expect(t.core.callFeatures.transfer(callSid)).rejects.toThrow(/Twilio/);
      expect(t.events.some((e) => e.type === 'call.transfer' && e.callSid === callSid)).toBe(false);
      caller.dtmf('7');
      await until(() => agentLines(t, callSid).includes('You said: [the caller pressed 7].'), 'the agent to answer again');
      await caller.hangup();
    });
  });

  describe('send_sms', () => {
    it("texts the caller's own number from the number they called", async () => {
      const { callSid, caller } = await connect('inbound');
      const sent = await t.core.callFeatures.sendSms(callSid, { body: 'We are at 1 Main Street.' });
      expect(sent.to).toBe(CALLER);
      expect(fake.messages.at(-1)).toMatchObject({ to: CALLER, from: TWILIO_NUMBER, body: 'We are at 1 Main Street.' });
      const req = fake.requestsTo('POST', /\/Messages\.json$/).at(-1)!;
      expect(req.authorized).toBe(true);
      await caller.hangup();
    });

    it('refuses another number unless the setting allows it, and then sends', async () => {
      const { callSid, caller } = await connect('outbound');
      const before = fake.messages.length;
      await expect(t.core.callFeatures.sendSms(callSid, { body: 'hi', to: '+15550009999' })).rejects.toThrow(/caller's own number only.*PARLEY_SMS_TO_ANY_NUMBER/);
      expect(fake.messages.length).toBe(before);
      expect(t.events.find((e) => e.type === 'call.sms' && e.callSid === callSid)).toMatchObject({ status: 'refused', to: '+15550009999' });
      // On an outbound call the caller is the number dialled, and the message comes from ours.
      await t.core.callFeatures.sendSms(callSid, { body: 'hello' });
      expect(fake.messages.at(-1)).toMatchObject({ to: CALLER, from: TWILIO_NUMBER });
      t.core.applySettings({ smsToAnyNumber: true });
      try {
        await t.core.callFeatures.sendSms(callSid, { body: 'for your colleague', to: '+15550009999' });
        expect(fake.messages.at(-1)).toMatchObject({ to: '+15550009999', body: 'for your colleague' });
      } finally {
        t.core.applySettings({ smsToAnyNumber: false });
      }
      await until(() => (t.core.records?.get(callSid)?.events.filter((e) => e.type === 'sms').length ?? 0) === 3, 'sms events in the records');
      expect(t.core.records!.get(callSid)!.events.filter((e) => e.type === 'sms').map((e) => e.data.status)).toEqual(['refused', 'sent', 'sent']);
      await caller.hangup();
    });

    it("passes Twilio's refusal on with what to do", async () => {
      const { callSid, caller } = await connect('inbound');
      fake.failNext('POST', /\/Messages\.json$/, { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
      await expect(t.core.callFeatures.sendSms(callSid, { body: 'x' })).rejects.toThrow(/replied STOP/);
      await caller.hangup();
    });
  });

  describe('press_keys', () => {
    it('plays the keys as DTMF tones that a receiver decodes, in order', async () => {
      const { callSid, caller } = await connect('outbound');
      const audio: Uint8Array[] = [];
      caller.on('media', (d: Uint8Array) => audio.push(d));
      const pressed = await t.core.callFeatures.pressKeys(callSid, '1 2#');
      expect(pressed).toEqual({ digits: '1 2#', played: true }); // played: Twilio echoed the mark after the tones
      const samples = decodeFloat(Buffer.concat(audio));
      // Decode the way an IVR does: 40 ms windows, a key counts once per run of windows that hold it.
      const keys: string[] = [];
      let last: string | null = null;
      for (let i = 0; i + 320 <= samples.length; i += 320) {
        const k = detectDtmf(samples.subarray(i, i + 320));
        if (k && k !== last) keys.push(k);
        last = k;
      }
      expect(keys).toEqual(['1', '2', '#']);
      expect(t.events.find((e) => e.type === 'call.keys' && e.callSid === callSid)).toMatchObject({ digits: '1 2#' });
      await expect(t.core.callFeatures.pressKeys(callSid, '12x')).rejects.toThrow(/not a key sequence/);
      await caller.hangup();
    });
  });

  describe('answering-machine detection', () => {
    it('asks Twilio for asynchronous detection to the end of the greeting when dialling', async () => {
      const res = await fetch(`${t.url}/calls`, { method: 'POST', body: JSON.stringify({ to: CALLER }), headers: { ...t.auth, 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
      const create = fake.requestsTo('POST', /\/Calls\.json$/).at(-1)!;
      expect(Object.fromEntries(create.form)).toMatchObject({
        MachineDetection: 'DetectMessageEnd',
        AsyncAmd: 'true',
        AsyncAmdStatusCallback: `${PUBLIC}/voice/amd`,
        AsyncAmdStatusCallbackMethod: 'POST',
      });
      t.core.applySettings({ machineDetection: false });
      try {
        await fetch(`${t.url}/calls`, { method: 'POST', body: JSON.stringify({ to: CALLER }), headers: { ...t.auth, 'content-type': 'application/json' } });
        expect(fake.requestsTo('POST', /\/Calls\.json$/).at(-1)!.form.has('MachineDetection')).toBe(false);
      } finally {
        t.core.applySettings({ machineDetection: true });
      }
    });

    it('a human: the outcome is stored and shown, and the conversation goes on', async () => {
      const { callSid, caller } = await connect('outbound');
      const res = await twilioPost(t, '/voice/amd', { CallSid: callSid, AccountSid: ACCOUNT_SID, AnsweredBy: 'human', MachineDetectionDuration: '2400' });
      expect(res.status).toBe(200);
      expect(t.events.find((e) => e.type === 'call.answered_by' && e.callSid === callSid)).toMatchObject({ answeredBy: 'human', outcome: 'human', detectionMs: 2400 });
      await until(() => t.core.records?.list().calls.find((c) => c.sid === callSid)?.answeredBy === 'human', 'the outcome in the records');
      caller.dtmf('3');
      await until(() => agentLines(t, callSid).length === 1, 'the agent to answer');
      expect(fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`))).toEqual([]); // not hung up
      await caller.hangup();
    });

    it('a machine: after the beep the voicemail message is spoken, then the call is hung up', async () => {
      const { callSid, caller } = await connect('outbound');
      const closed = caller.waitFor('close', 20_000);
      const res = await twilioPost(t, '/voice/amd', { CallSid: callSid, AccountSid: ACCOUNT_SID, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '7700' });
      expect(res.status).toBe(200);
      await closed;
      expect(agentLines(t, callSid)).toEqual(['Please call us back.']);
      // Played to the end (every mark echoed) before the REST hang-up.
      const spokenAt = (t.events.find((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.callSid === callSid) as { at: number }).at;
      const hangups = fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`));
      expect(hangups.map((r) => r.form.get('Status'))).toEqual(['completed']);
      expect(caller.marksReceived.length).toBeGreaterThan(0);
      expect(t.events.find((e) => e.type === 'call.ended' && e.callSid === callSid)!.type).toBe('call.ended');
      expect((t.events.find((e) => e.type === 'call.ended' && e.callSid === callSid) as { endedAt: number }).endedAt).toBeGreaterThanOrEqual(spokenAt);
      await until(() => t.core.records?.list().calls.find((c) => c.sid === callSid)?.answeredBy === 'machine', 'the outcome in the records');
      const detail = t.core.records!.get(callSid)!;
      expect(detail.events.find((e) => e.type === 'answered-by')?.data).toEqual({ answeredBy: 'machine_end_beep', outcome: 'machine', detectionMs: 7700 });
    });

    it('an unknown verdict is stored as unknown; a forged callback is refused', async () => {
      const { callSid, caller } = await connect('outbound');
      expect((await twilioPost(t, '/voice/amd', { CallSid: callSid, AnsweredBy: 'machine_end_beep' }, 'forged')).status).toBe(403);
      expect((await twilioPost(t, '/voice/amd', { CallSid: callSid, AccountSid: ACCOUNT_SID, AnsweredBy: 'unknown' })).status).toBe(200);
      await until(() => t.core.records?.list().calls.find((c) => c.sid === callSid)?.answeredBy === 'unknown', 'the outcome in the records');
      expect(t.core.calls().some((c) => c.callSid === callSid)).toBe(true);
      await caller.hangup();
    });
  });

  describe("the caller's keys", () => {
    it('reach the LLM as the caller\'s turn, keys pressed together as one', async () => {
      const { callSid, caller } = await connect('inbound');
      caller.dtmf('4');
      caller.dtmf('2');
      await until(() => agentLines(t, callSid).length === 1, 'a reply to the keys');
      // test-llm answers "You said: <the last user message>": the keys were the user's turn in the chat messages.
      expect(agentLines(t, callSid)).toEqual(['You said: [the caller pressed 4 2].']);
      expect(t.events.filter((e) => e.type === 'transcript' && e.role === 'caller' && e.callSid === callSid).map((e) => (e as { text: string }).text)).toEqual(['[the caller pressed 4 2]']);
      // What the LLM was sent: the keys as the caller's message.
      const messages = JSON.parse(readFileSync(chats, 'utf8').trim().split('\n').at(-1)!) as { role: string; content: string }[];
      expect(messages.at(-1)).toMatchObject({ role: 'user', content: '[the caller pressed 4 2]' });
      await caller.hangup();
    });
  });
});
