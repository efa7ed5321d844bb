/**
 * Replayed streams (issue 13, item 2): with signatures on, a media stream `start` opens only a call that a
 * signed /voice/incoming (or Parley's own dial) announced in the last few minutes, and only once. A signed
 * upgrade replayed later, or a start for a made-up callSid, is refused; simulated calls (no signatures,
 * loopback) still work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { CallRegistry } from '../../../main/core/calls/call-registry.ts';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUTH_TOKEN } from '../../helpers/fake-twilio.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const PUBLIC = 'https://parley.example.com';
const signedUpgrade = { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, 'wss://parley.example.com/media', {}) };

function announce(t: TestCore, callSid: string) {
  const params = { CallSid: callSid, From: '+15550001111', To: '+15559998888', CallStatus: 'ringing', Direction: 'inbound' };
  return fetch(`${t.url}/voice/incoming`, { method: 'POST', body: new URLSearchParams(params), headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}/voice/incoming`, params) } });
}

/** Connect with the signed upgrade and send start; resolves with the close code when the server closes it. */
async function refusedStart(t: TestCore, callSid: string): Promise<number> {
  const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, headers: signedUpgrade });
  return caller.waitFor<number>('close', 5_000);
}

describe('stream admission with signatures on', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ twilioAuthToken: AUTH_TOKEN, publicUrl: PUBLIC, greeting: '' }, { callTimeouts: { ticketMs: 2_000, endGraceMs: 100 } });
  });
  afterAll(async () => {
    await t.stop();
  });
  const refusals = () => t.events.filter((e) => e.type === 'call.error' && e.code === 'FORBIDDEN');

  it('opens an announced call once; the same signed upgrade + start replayed afterwards is refused', async () => {
    const callSid = 'CA' + '1'.repeat(32);
    expect((await announce(t, callSid)).status).toBe(200);
    const first = await TwilioCaller.connect({ url: t.wsUrl, callSid, headers: signedUpgrade });
    await until(() => t.core.calls().some((c) => c.callSid === callSid && c.streamSid === first.streamSid), 'announced call to start');
    await first.hangup();
    await until(() => !t.core.calls().some((c) => c.callSid === callSid && c.streamSid), 'first stream to end');

    expect(await refusedStart(t, callSid)).toBe(1008);
    expect(refusals().at(-1)).toMatchObject({ callSid, message: expect.stringMatching(/not announced by a signed \/voice\/incoming.*already opened once/) });
    expect(t.logs.some((l) => l.msg.startsWith(`call refused: call ${callSid} was not announced`))).toBe(true);
  });

  it('refuses a start for a callSid no signed webhook announced', async () => {
    const callSid = 'CA' + '2'.repeat(32);
    expect(await refusedStart(t, callSid)).toBe(1008);
    expect(refusals().at(-1)).toMatchObject({ callSid });
    expect(t.core.calls().some((c) => c.callSid === callSid)).toBe(false);
  });

  it('refuses a start after the ticket expired', async () => {
    const callSid = 'CA' + '3'.repeat(32);
    expect((await announce(t, callSid)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3_000)); // ticketMs is 2 s here
    expect(await refusedStart(t, callSid)).toBe(1008);
  });
});

// Without signatures (loopback, no auth token) a call nobody announced still opens: the simulator's case,
// tested in test/core/twilio/untrusted-callers.test.ts.

describe('CallRegistry admission tickets', () => {
  it('admits an announced call once, within ticketMs', () => {
    let now = 1_000;
    const calls = new CallRegistry({ emit: () => {}, log: createLogger({ sinks: [memorySink()] }), publicUrl: () => '', timeouts: { ticketMs: 100 }, now: () => now });
    expect(calls.admit('CA1')).toBe(false);
    calls.announce('CA1');
    expect(calls.admit('CA1')).toBe(true);
    expect(calls.admit('CA1')).toBe(false);
    calls.announce('CA2');
    now += 101;
    expect(calls.admit('CA2')).toBe(false);
    calls.stop();
  });
});
