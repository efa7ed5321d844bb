/**
 * The REST adapter, driven through the real `twilio` package (its own RequestClient and HTTP) against a local
 * fake of api.twilio.com: what is sent, what comes back, and how Twilio's errors read to a user.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioRest, twilioFailure } from '../../../main/core/twilio/rest.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../../helpers/fake-twilio.ts';

describe('TwilioRest against a fake api.twilio.com', () => {
  let fake: FakeTwilio;
  let rest: TwilioRest;
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    rest = new TwilioRest({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: fake.url });
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('creates a call with the stream TwiML URL and a status callback for every progress event', async () => {
    const call = await rest.createCall({ to: '+15551230001', from: TWILIO_NUMBER, url: 'https://pub.example/voice/incoming', statusCallback: 'https://pub.example/voice/status' });
    expect(call).toMatchObject({ status: 'queued', to: '+15551230001', from: TWILIO_NUMBER, direction: 'outbound-api' });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    const [req] = fake.requestsTo('POST', /\/Calls\.json$/);
    expect(req!.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls.json`);
    expect(req!.authorized).toBe(true);
    expect(Object.fromEntries(req!.form)).toMatchObject({ To: '+15551230001', From: TWILIO_NUMBER, Url: 'https://pub.example/voice/incoming', Method: 'POST', StatusCallback: 'https://pub.example/voice/status', StatusCallbackMethod: 'POST' });
    expect(req!.form.getAll('StatusCallbackEvent')).toEqual(['initiated', 'ringing', 'answered', 'completed']);
  });

  it('completes a call through calls(sid).update and reads it back', async () => {
    const call = await rest.createCall({ to: '+15551230002', from: TWILIO_NUMBER, url: 'https://x/voice/incoming', statusCallback: 'https://x/voice/status' });
    const done = await rest.completeCall(call.sid);
    expect(done.status).toBe('completed');
    const [req] = fake.requestsTo('POST', new RegExp(`/Calls/${call.sid}\\.json$`));
    expect(req!.form.get('Status')).toBe('completed');
    expect((await rest.fetchCall(call.sid)).status).toBe('completed');
    // Completing it again: Twilio's 21220 (not in progress), kept recognisable for hangup().
    const again = await rest.completeCall(call.sid).catch((e) => e);
    expect(again.details.twilioCode).toBe(21220);
  });

  it('finds the phone number and points it at a new voice URL and status callback', async () => {
    const n = await rest.findNumber(TWILIO_NUMBER);
    expect(n).toMatchObject({ phoneNumber: TWILIO_NUMBER, voiceUrl: 'https://demo.twilio.com/welcome/voice/' });
    expect(fake.requestsTo('GET', /IncomingPhoneNumbers\.json$/).at(-1)!.query.get('PhoneNumber')).toBe(TWILIO_NUMBER);
    const updated = await rest.updateNumber(n!.sid, { voiceUrl: 'https://pub.example/voice/incoming', statusCallback: 'https://pub.example/voice/status' });
    expect(updated).toMatchObject({ voiceUrl: 'https://pub.example/voice/incoming', voiceMethod: 'POST', statusCallback: 'https://pub.example/voice/status' });
    expect(await rest.findNumber('+15550009999')).toBeNull();
  });

  it('fetches the account', async () => {
    expect(await rest.fetchAccount()).toEqual({ sid: ACCOUNT_SID, name: 'My Parley account', status: 'active', type: 'Full' });
  });

  it('bad credentials: says which settings to fix', async () => {
    const wrong = new TwilioRest({ accountSid: ACCOUNT_SID, authToken: 'wrong', apiBaseUrl: fake.url });
    const err = await wrong.fetchAccount().catch((e) => e);
    expect(err.code).toBe('TWILIO_ERROR');
    expect(err.details).toMatchObject({ twilioCode: 20003 });
    expect(err.message).toMatch(/rejected the credentials.*TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/);
    expect(err.message).not.toContain('wrong');
  });

  it.each([
    [21211, 400, 'INVALID_NUMBER', 400, /\+15551230003 is not a phone number it can call.*country code/],
    [13224, 400, 'INVALID_NUMBER', 400, /not a phone number it can call/],
    [21219, 400, 'TWILIO_ERROR', 403, /trial account.*Verify \+15551230003.*Verified Caller IDs/],
    [21608, 400, 'TWILIO_ERROR', 403, /trial account.*verified/],
    [21210, 400, 'TWILIO_ERROR', 403, /won't place calls from \+15005550006.*TWILIO_PHONE_NUMBER/],
    [21215, 400, 'TWILIO_ERROR', 403, /Geo permissions/],
    [20005, 401, 'TWILIO_ERROR', 402, /not active.*add funds/],
    [20429, 429, 'RATE_LIMITED', 429, /wait a minute/],
  ])('Twilio error %i on dial reads as what to do', async (code, status, parleyCode, httpStatus, message) => {
    fake.failNext('POST', /\/Calls\.json$/, { status, code, message: `Twilio says ${code}` });
    const err = await rest.createCall({ to: '+15551230003', from: TWILIO_NUMBER, url: 'https://x/voice/incoming', statusCallback: 'https://x/voice/status' }).catch((e) => e);
    expect(err.code).toBe(parleyCode);
    expect(err.details).toMatchObject({ twilioCode: code, status: httpStatus });
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`Twilio error ${code}`);
  });

  it('an insufficient-balance message without a known code is still recognised', async () => {
    fake.failNext('POST', /\/Calls\.json$/, { status: 400, code: 99999, message: 'Insufficient funds to make this call' });
    const err = await rest.createCall({ to: '+15551230004', from: TWILIO_NUMBER, url: 'https://x/a', statusCallback: 'https://x/b' }).catch((e) => e);
    expect(err.message).toMatch(/balance is too low.*add funds/);
  });

  it('an unknown call on hangup is CALL_NOT_FOUND', async () => {
    const err = await rest.completeCall('CA' + '0'.repeat(32)).catch((e) => e);
    expect(err.code).toBe('CALL_NOT_FOUND');
  });

  it('Twilio unreachable: says to check the connection', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const offline = new TwilioRest({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiBaseUrl: `http://127.0.0.1:${port}` });
    const err = await offline.fetchAccount().catch((e) => e);
    expect(err.code).toBe('TWILIO_ERROR');
    expect(err.message).toMatch(/Could not reach Twilio to check the account \(ECONNREFUSED\): check this computer's internet connection/);
  });

  it('refuses an account SID that is not one, naming the setting', () => {
    expect(() => new TwilioRest({ accountSid: 'SK' + 'a'.repeat(32), authToken: 'x' })).toThrow(/TWILIO_ACCOUNT_SID must be your Account SID.*API key/);
  });

  it('an unexpected error keeps Twilio\'s words', () => {
    const e = twilioFailure({ status: 400, code: 12345, message: 'Something odd', moreInfo: 'https://www.twilio.com/docs/errors/12345' }, { action: 'dial' });
    expect(e.message).toBe('Twilio refused to place the call (Twilio error 12345): Something odd. More: https://www.twilio.com/docs/errors/12345');
  });
});
