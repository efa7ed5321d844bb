/**
 * X-Twilio-Signature on the real server, with vectors made by the `twilio` package's own
 * getExpectedTwilioSignature: webhooks and the media WebSocket upgrade, direct and behind a proxy-style public
 * URL; forged, missing, tampered and replayed-to-another-URL signatures are refused with a log line saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUTH_TOKEN } from '../../helpers/fake-twilio.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const PUBLIC = 'https://parley.example.com';
const CALL = { CallSid: 'CA' + 'c'.repeat(32), AccountSid: 'AC' + 'a1'.repeat(16), From: '+15550001111', To: '+15559998888', CallStatus: 'ringing', Direction: 'inbound' };

function post(t: TestCore, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${t.url}${path}`, { method: 'POST', body: new URLSearchParams(params), headers });
}
const sign = (url: string, params: Record<string, string>, token = AUTH_TOKEN) => getExpectedTwilioSignature(token, url, params);
const refusals = (t: TestCore) => t.logs.filter((l) => /^Twilio (webhook|media stream upgrade) refused/.test(l.msg)).map((l) => l.msg);

describe('signatures behind a public URL (proxy or tunnel)', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ twilioAuthToken: AUTH_TOKEN, publicUrl: PUBLIC, greeting: '' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('accepts a webhook signed for the public URL it was sent to, though it arrives on 127.0.0.1', async () => {
    const res = await post(t, '/voice/incoming', CALL, { 'x-twilio-signature': sign(`${PUBLIC}/voice/incoming`, CALL) });
    expect(res.status).toBe(200);
    const twiml = await res.text();
    expect(twiml).toContain('<Stream url="wss://parley.example.com/media">');
    expect(t.events.some((e) => e.type === 'call.status' && e.callSid === CALL.CallSid && e.status === 'ringing')).toBe(true);
  });

  it('accepts a signed status callback and turns it into a call.status', async () => {
    const params = { ...CALL, CallStatus: 'completed', CallDuration: '12' };
    const res = await post(t, '/voice/status', params, { 'x-twilio-signature': sign(`${PUBLIC}/voice/status`, params) });
    expect(res.status).toBe(200);
    expect(t.events.find((e) => e.type === 'call.status' && e.callSid === CALL.CallSid && e.status === 'completed')).toMatchObject({ durationSec: 12 });
  });

  it.each([
    ['missing', () => ({}), /no X-Twilio-Signature header/],
    ['forged', () => ({ 'x-twilio-signature': Buffer.from('not a real signature!').toString('base64') }), /matches none of https:\/\/parley\.example\.com\/voice\/incoming.*TWILIO_AUTH_TOKEN/],
    ['made with another auth token', () => ({ 'x-twilio-signature': sign(`${PUBLIC}/voice/incoming`, CALL, 'another-accounts-token') }), /matches none of/],
    ['replayed from /voice/status', () => ({ 'x-twilio-signature': sign(`${PUBLIC}/voice/status`, CALL) }), /matches none of/],
    ['replayed from another host', () => ({ 'x-twilio-signature': sign('https://other-app.example.org/voice/incoming', CALL) }), /matches none of/],
    ['made for the local address', (t: TestCore) => ({ 'x-twilio-signature': sign(`${t.url}/voice/incoming`, CALL) }), /valid for http:\/\/127\.0\.0\.1:\d+\/voice\/incoming, not for this app's public URL \(https:\/\/parley\.example\.com\/voice\/incoming\)/],
    [
      'for another host named in X-Forwarded-Host (not trusted when the public URL is known)',
      () => ({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-twilio-signature': sign('https://evil.example/voice/incoming', CALL) }),
      /valid for https:\/\/evil\.example\/voice\/incoming, not for this app's public URL/,
    ],
  ])('refuses a webhook whose signature is %s, with a 403 and a log line that says why', async (_name, headers, why) => {
    const before = refusals(t).length;
    const res = await post(t, '/voice/incoming', CALL, headers(t));
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.code).toBe('FORBIDDEN');
    expect(body.error.message).not.toMatch(/parley\.example|127\.0\.0\.1/); // the answer stays generic
    const logged = refusals(t).slice(before);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(why);
  });

  it('refuses tampered parameters under a valid signature', async () => {
    const signature = sign(`${PUBLIC}/voice/status`, { ...CALL, CallStatus: 'ringing' });
    const res = await post(t, '/voice/status', { ...CALL, CallStatus: 'completed' }, { 'x-twilio-signature': signature });
    expect(res.status).toBe(403);
  });

  it('accepts the media stream upgrade signed for wss://<public host>/media, and refuses others', async () => {
    // The stream opens a call a signed /voice/incoming announced (admission: see replay.test.ts).
    const announced = { ...CALL, CallSid: 'CA' + 'e'.repeat(32) };
    expect((await post(t, '/voice/incoming', announced, { 'x-twilio-signature': sign(`${PUBLIC}/voice/incoming`, announced) })).status).toBe(200);
    const good = await TwilioCaller.connect({ url: t.wsUrl, callSid: announced.CallSid, headers: { 'x-twilio-signature': sign(`wss://parley.example.com/media`, {}) } });
    await until(() => t.core.calls().some((c) => c.callSid === good.callSid), 'signed stream to start');
    await good.hangup();
    const attempts: Record<string, string>[] = [
      {},
      { 'x-twilio-signature': sign('wss://other-app.example.org/media', {}) },
      { 'x-twilio-signature': sign(`${PUBLIC}/voice/incoming`, {}) },
      { 'x-twilio-signature': sign(`${t.wsUrl}`, {}) },
      { 'x-twilio-signature': sign('wss://parley.example.com/media', {}, 'another-accounts-token') },
      { 'x-forwarded-host': 'evil.example', 'x-twilio-signature': sign('wss://evil.example/media', {}) },
    ];
    for (const headers of attempts) {
      const err = await TwilioCaller.connect({ url: t.wsUrl, headers }).then(
        () => null,
        (e: { statusCode?: number }) => e,
      );
      expect(err?.statusCode, JSON.stringify(headers)).toBe(403);
    }
    expect(refusals(t).filter((m) => m.startsWith('Twilio media stream upgrade refused'))).toHaveLength(6);
  });

  it('never logs the auth token or a signature', () => {
    const text = JSON.stringify(t.logs);
    expect(text).not.toContain(AUTH_TOKEN);
    expect(text).not.toContain(sign(`${PUBLIC}/voice/incoming`, CALL));
  });
});

describe('signatures without a public URL (Twilio calls this address directly)', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ twilioAuthToken: AUTH_TOKEN, greeting: '' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('warns at start that signatures can only be checked against the Host', () => {
    expect(t.logs.some((l) => l.level === 'warn' && /No PUBLIC_URL and no tunnel/.test(l.msg))).toBe(true);
  });

  it('checks webhooks against the address the request names, honouring a proxy\'s X-Forwarded-*', async () => {
    const direct = await post(t, '/voice/incoming', CALL, { 'x-twilio-signature': sign(`${t.url}/voice/incoming`, CALL) });
    expect(direct.status).toBe(200);
    const proxied = await post(t, '/voice/incoming', CALL, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example', 'x-twilio-signature': sign('https://pub.example/voice/incoming', CALL) });
    expect(proxied.status).toBe(200);
    expect(await proxied.text()).toContain('wss://pub.example/media');
    const wrongPath = await post(t, '/voice/incoming', CALL, { 'x-twilio-signature': sign(`${t.url}/voice/status`, CALL) });
    expect(wrongPath.status).toBe(403);
  });

  it('checks the upgrade against ws(s)://<Host>/media', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl, headers: { 'x-twilio-signature': sign(t.wsUrl, {}) } });
    await caller.hangup();
    const refused = await TwilioCaller.connect({ url: t.wsUrl }).catch((e: { statusCode?: number }) => e);
    expect((refused as { statusCode?: number }).statusCode).toBe(403);
  });
});

describe('signature checks turned off', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ twilioAuthToken: AUTH_TOKEN, publicUrl: PUBLIC, validateSignatures: false, greeting: '' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('logs a loud warning at start and lets unsigned requests through', async () => {
    expect(t.logs.find((l) => l.level === 'warn' && l.msg.includes('SIGNATURE CHECKS ARE OFF'))).toBeTruthy();
    expect((await post(t, '/voice/incoming', CALL)).status).toBe(200);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await caller.hangup();
  });
});
