/**
 * Outbound calls end to end: the real server, the real `twilio` client against a fake api.twilio.com, signed
 * status callbacks and a simulated media stream. Dial, follow the call's states, hang up; the guards before any
 * money is spent; Twilio's refusals; and a call whose stream never comes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../../helpers/fake-twilio.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const PUBLIC = 'https://parley.example.com';
const twilioSettings = { twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, publicUrl: PUBLIC, greeting: '' };

/** What Twilio would send: form-encoded and signed for the public URL. */
function twilioPost(t: TestCore, path: string, params: Record<string, string>) {
  return fetch(`${t.url}${path}`, { method: 'POST', body: new URLSearchParams(params), headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, params) } });
}
function dial(t: TestCore, body: unknown) {
  return fetch(`${t.url}/calls`, { method: 'POST', body: JSON.stringify(body), headers: { ...t.auth, 'content-type': 'application/json' } });
}
const statusesOf = (t: TestCore, sid: string) => t.events.filter((e) => e.type === 'call.status' && e.callSid === sid).map((e) => (e as { status: string }).status);

describe('outbound calls through Twilio', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    t = await startTestCore(twilioSettings, { twilioApiUrl: fake.url, callTimeouts: { streamMs: 1_000, endGraceMs: 200 } });
  });
  afterAll(async () => {
    await t.stop();
    await fake.stop();
  });

  it('checks the credentials at start and says so in the status', async () => {
    await until(() => t.core.status().twilio.ok, 'twilio status ok');
    expect(t.core.status().twilio.detail).toBe('Twilio account "My Parley account" accepted the credentials');
    expect(t.core.status().tunnel).toMatchObject({ ok: true, url: PUBLIC });
  });

  it('dials, follows the call from queued to a live stream, and hangs it up through the REST API', async () => {
    const res = await dial(t, { to: '+15551230001' });
    expect(res.status).toBe(200);
    const { callSid } = await res.json();
    expect(callSid).toMatch(/^CA[0-9a-f]{32}$/);
    const create = fake.requestsTo('POST', /\/Calls\.json$/).at(-1)!;
    expect(Object.fromEntries(create.form)).toMatchObject({ To: '+15551230001', From: TWILIO_NUMBER, Url: `${PUBLIC}/voice/incoming`, StatusCallback: `${PUBLIC}/voice/status` });
    expect(create.form.getAll('StatusCallbackEvent')).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    expect(t.core.calls()).toEqual([expect.objectContaining({ callSid, status: 'queued', direction: 'outbound', to: '+15551230001', streamSid: null, state: null })]);

    // Twilio rings the callee, then fetches the TwiML when they answer.
    const base = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: TWILIO_NUMBER, To: '+15551230001', Direction: 'outbound-api' };
    expect((await twilioPost(t, '/voice/status', { ...base, CallStatus: 'initiated' })).status).toBe(200);
    expect((await twilioPost(t, '/voice/status', { ...base, CallStatus: 'ringing' })).status).toBe(200);
    expect((await twilioPost(t, '/voice/status', { ...base, CallStatus: 'initiated' })).status).toBe(200); // late: ignored
    const twiml = await (await twilioPost(t, '/voice/incoming', { ...base, CallStatus: 'in-progress' })).text();
    expect(twiml).toContain('<Stream url="wss://parley.example.com/media">');
    expect(twiml).toContain('<Parameter name="direction" value="outbound"/>');
    expect(t.core.calls()[0]).toMatchObject({ callSid, status: 'in-progress', streamSid: null });

    const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, direction: 'outbound', from: TWILIO_NUMBER, to: '+15551230001', headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, 'wss://parley.example.com/media', {}) } });
    await until(() => t.core.calls()[0]?.streamSid === caller.streamSid, 'stream to attach');
    expect(t.core.calls()[0]).toMatchObject({ callSid, direction: 'outbound', status: 'in-progress', state: 'listening', plugins: { stt: 'test-stt', llm: 'test-llm', tts: 'test-tts' } });

    const closed = caller.waitFor('close', 5_000);
    const hung = await fetch(`${t.url}/calls/${callSid}/hangup`, { method: 'POST', headers: t.auth });
    expect(hung.status).toBe(200);
    expect(fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`)).map((r) => r.form.get('Status'))).toEqual(['completed']);
    await closed;
    expect(t.events.find((e) => e.type === 'call.ended' && e.callSid === callSid)).toBeTruthy();
    expect(t.core.calls()).toEqual([]);
    // Twilio's own completed callback arrives afterwards: already known, not repeated.
    await twilioPost(t, '/voice/status', { ...base, CallStatus: 'completed', CallDuration: '3' });
    expect(statusesOf(t, callSid)).toEqual(['queued', 'initiated', 'ringing', 'in-progress', 'completed']);
  });

  it('refuses a bad number before calling Twilio', async () => {
    const before = fake.requests.length;
    const res = await dial(t, { to: '+1 555 123 0002' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'INVALID_NUMBER', message: '"to" "+1 555 123 0002" has spaces, dashes or brackets: write it as +15551230002' } });
    expect(fake.requests.length).toBe(before);
  });

  it("passes Twilio's refusals on as what to do", async () => {
    fake.failNext('POST', /\/Calls\.json$/, { status: 400, code: 21219, message: "The number +15551230003 is unverified. Trial accounts cannot make calls to unverified numbers." });
    const trial = await dial(t, { to: '+15551230003' });
    expect(trial.status).toBe(403);
    expect((await trial.json()).error.message).toMatch(/trial account.*Verify \+15551230003 in the Twilio console/);
    fake.failNext('POST', /\/Calls\.json$/, { status: 401, code: 20003, message: 'Authenticate' });
    const creds = await dial(t, { to: '+15551230003' });
    expect(creds.status).toBe(502);
    expect((await creds.json()).error.message).toMatch(/check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/);
  });

  it('answered but the media stream never connects: hung up and reported, not left hanging', async () => {
    const { callSid } = await (await dial(t, { to: '+15551230004' })).json();
    await twilioPost(t, '/voice/status', { CallSid: callSid, CallStatus: 'in-progress', Direction: 'outbound-api' });
    await until(() => t.events.some((e) => e.type === 'call.error' && e.callSid === callSid), 'stream timeout', 5_000);
    const error = t.events.find((e) => e.type === 'call.error' && e.callSid === callSid) as { code: string; message: string };
    expect(error.code).toBe('STREAM_TIMEOUT');
    expect(error.message).toMatch(/never connected within 1 s, so it was hung up\. Check that wss:\/\/parley\.example\.com\/media is reachable/);
    await until(() => fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`)).length === 1, 'REST hangup');
    expect(t.core.calls().some((c) => c.callSid === callSid)).toBe(false);
  });

  it('says which setting is missing when there is no public URL or no caller ID', async () => {
    t.core.applySettings({ publicUrl: '' });
    try {
      const res = await dial(t, { to: '+15551230005' });
      expect(res.status).toBe(409);
      expect((await res.json()).error.message).toMatch(/Can't place calls yet: .*set NGROK_AUTHTOKEN .* or PUBLIC_URL/);
    } finally {
      t.core.applySettings({ publicUrl: PUBLIC });
    }
    t.core.applySettings({ twilioPhoneNumber: '' });
    try {
      const res = await dial(t, { to: '+15551230005' });
      expect(res.status).toBe(409);
      expect((await res.json()).error.message).toMatch(/set TWILIO_PHONE_NUMBER/);
    } finally {
      t.core.applySettings({ twilioPhoneNumber: TWILIO_NUMBER });
    }
  });

  it("changes the number's voice URL only after the user consents", async () => {
    const number = fake.numbers[0]!;
    expect(number.voice_url).toBe('https://demo.twilio.com/welcome/voice/');
    expect(fake.requestsTo('POST', /IncomingPhoneNumbers\/PN/)).toHaveLength(0);
    t.core.applySettings({ updateTwilioNumber: true });
    await until(() => number.voice_url === `${PUBLIC}/voice/incoming`, 'number updated');
    expect(number).toMatchObject({ voice_method: 'POST', status_callback: `${PUBLIC}/voice/status` });
    const report = await t.core.doctor();
    expect(report.checks.find((c) => c.id === 'twilio-number')).toMatchObject({ ok: true });
    expect(report.checks.find((c) => c.id === 'twilio-credentials')).toMatchObject({ ok: true });
  });
});

describe('dial rate limit over HTTP', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    t = await startTestCore({ ...twilioSettings, dialRatePerMinute: 2 }, { twilioApiUrl: fake.url });
  });
  afterAll(async () => {
    await t.stop();
    await fake.stop();
  });

  it('allows the configured number per minute, then 429 with Retry-After and "try again in N s"', async () => {
    expect((await dial(t, { to: '+15551230010' })).status).toBe(200);
    expect((await dial(t, { to: '+15551230011' })).status).toBe(200);
    const third = await dial(t, { to: '+15551230012' });
    expect(third.status).toBe(429);
    const retry = Number(third.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(59);
    expect(retry).toBeLessThanOrEqual(60);
    expect((await third.json()).error).toEqual({ code: 'RATE_LIMITED', message: `Too many calls: at most 2 per minute (PARLEY_DIAL_RATE). Try again in ${retry} s.` });
    expect(fake.requestsTo('POST', /\/Calls\.json$/)).toHaveLength(2);
  });
});
