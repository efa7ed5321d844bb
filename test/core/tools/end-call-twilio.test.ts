/**
 * end_call on a call Twilio knows (signed webhook and stream, credentials set): after the goodbye has been played
 * the stream closes and the call is also hung up through Twilio's REST API (the local fake api.twilio.com).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import type { EventOf } from '../../../main/core/event-bus.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../../helpers/fake-twilio.ts';
import { AUDIO, until, type TestCore } from '../../helpers/core.ts';
import { FROM, placeCall, toolsCore } from './helpers.ts';

const PUBLIC = 'https://parley.example.com';

describe('end_call with Twilio set up', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  let work: string;
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    ({ t, work } = await toolsCore({ twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, publicUrl: PUBLIC, tools: 'end_call' }, [], { twilioApiUrl: fake.url }));
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await fake?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('plays the goodbye, closes the stream, then hangs up through the REST API', async () => {
    const callSid = 'CA' + randomBytes(16).toString('hex');
    fake.calls.set(callSid, { sid: callSid, from: FROM, to: TWILIO_NUMBER, status: 'in-progress', direction: 'inbound' });
    const hook = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: FROM, To: TWILIO_NUMBER, Direction: 'inbound', CallStatus: 'in-progress' };
    const webhook = await fetch(`${t.url}/voice/incoming`, { method: 'POST', body: new URLSearchParams(hook), headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}/voice/incoming`, hook) } });
    expect(webhook.status).toBe(200);
    const c = await placeCall(t, work, [[{ toolCalls: [{ id: 'bye', name: 'end_call', arguments: { reason: 'the caller is done' } }] }, { text: 'Thanks for calling, goodbye.' }]], undefined, {
      callSid,
      headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, 'wss://parley.example.com/media', {}) },
    });
    const closed = c.caller.waitFor<number>('close', 30_000);
    await c.caller.sayWav(AUDIO('hello.wav'));
    expect(await closed).toBe(1000);
    await until(() => fake.calls.get(callSid)?.status === 'completed', 'the REST hang-up', 10_000);

    const hangups = fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`));
    expect(hangups.map((r) => r.form.get('Status'))).toEqual(['completed']);
    const goodbye = c.agentFinals().at(-1)!;
    expect(goodbye.text).toMatch(/Thanks for calling, goodbye\.$/);
    expect(goodbye.heard).toBe(goodbye.text);
    await until(() => c.events().some((e) => e.type === 'call.ended'), 'call.ended');
    expect(c.events().find((e): e is EventOf<'call.ended'> => e.type === 'call.ended')!.reason).toBe('the caller is done');
  });
});
