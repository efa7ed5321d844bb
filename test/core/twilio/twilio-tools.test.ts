/**
 * The Twilio tool plugins (plugins/transfer-call, send-sms, press-keys) on their real runtime: dropped into the
 * plugins folder, loaded in their own process by the registry, called through the call's tools with checked
 * arguments, and their host actions carried out by the core against the local fake api.twilio.com.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { CallTools } from '../../../main/core/tools/call-tools.ts';
import { twilioActionHost } from '../../../main/core/calls/action-host.ts';
import { silentLogger } from '../../../main/core/log.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../../helpers/fake-twilio.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const PLUGINS = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../plugins');
const PUBLIC = 'https://parley.example.com';
const CALLER = '+15551113333';

describe('the Twilio tool plugins', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  let userPlugins: string;

  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    userPlugins = mkdtempSync(join(tmpdir(), 'parley-tools-'));
    for (const name of ['transfer-call', 'send-sms', 'press-keys']) cpSync(join(PLUGINS, name), join(userPlugins, name), { recursive: true });
    t = await startTestCore(
      { twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, publicUrl: PUBLIC, greeting: '', transferNumber: '+15557770002', transferMessage: 'One moment.', userPluginsDir: userPlugins },
      { twilioApiUrl: fake.url },
    );
  });
  afterAll(async () => {
    await t.stop();
    await fake.stop();
    rmSync(userPlugins, { recursive: true, force: true });
  });

  async function call(direction: 'inbound' | 'outbound') {
    const callSid = 'CA' + Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex');
    const [from, to] = direction === 'inbound' ? [CALLER, TWILIO_NUMBER] : [TWILIO_NUMBER, CALLER];
    fake.calls.set(callSid, { sid: callSid, from, to, status: 'in-progress', direction: direction === 'inbound' ? 'inbound' : 'outbound-api' });
    const hook = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: from, To: to, Direction: direction === 'inbound' ? 'inbound' : 'outbound-api', CallStatus: 'in-progress' };
    await fetch(`${t.url}/voice/incoming`, { method: 'POST', body: new URLSearchParams(hook), headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC}/voice/incoming`, hook) } });
    const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, direction, from, to, headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, 'wss://parley.example.com/media', {}) } });
    await until(() => t.core.calls().some((c) => c.callSid === callSid && c.state === 'listening'), 'the call to connect');
    const tools = new CallTools({
      leases: t.core.plugins.acquireTools(),
      selection: '',
      timeoutMs: 10_000,
      filler: '',
      call: { callSid, from, to, direction },
      host: { endCall: async () => {}, takeMessage: async () => {}, ...twilioActionHost(() => t.core.callFeatures) },
      events: t.core.events,
      log: silentLogger,
    });
    return { callSid, caller, tools };
  }

  it('are listed as tool plugins and offer their tools', async () => {
    const { caller, tools } = await call('inbound');
    expect((await tools.offered()).map((s) => s.name).sort()).toEqual(['press_keys', 'send_sms', 'transfer_call']);
    tools.release();
    await caller.hangup();
  });

  it('send_sms texts the caller; bad arguments never reach Twilio', async () => {
    const { caller, tools } = await call('inbound');
    const signal = new AbortController().signal;
    const sent = await tools.run({ id: 'c1', name: 'send_sms', arguments: { body: 'See you at 3 pm.' } }, 1, signal);
    expect(sent).toEqual({ ok: true, content: 'Sending the text message.' });
    expect(fake.messages.at(-1)).toMatchObject({ to: CALLER, from: TWILIO_NUMBER, body: 'See you at 3 pm.' });
    const before = fake.messages.length;
    const other = await tools.run({ id: 'c2', name: 'send_sms', arguments: { body: 'x', to: '+15550001234' } }, 1, signal);
    expect(other.content).toMatch(/send_sms failed: texts go to the caller's own number only/);
    const bad = await tools.run({ id: 'c3', name: 'send_sms', arguments: { text: 'no body' } }, 1, signal);
    expect(bad.ok).toBe(false);
    expect(fake.messages.length).toBe(before);
    tools.release();
    await caller.hangup();
  });

  it('press_keys plays the keys on an outbound call', async () => {
    const { callSid, caller, tools } = await call('outbound');
    const r = await tools.run({ id: 'k1', name: 'press_keys', arguments: { digits: '2#' } }, 1, new AbortController().signal);
    expect(r).toEqual({ ok: true, content: 'Pressed 2 #.' });
    expect(t.events.find((e) => e.type === 'call.keys' && e.callSid === callSid)).toMatchObject({ digits: '2#' });
    tools.release();
    await caller.hangup();
  });

  it('transfer_call hands the call to the configured number', async () => {
    const { callSid, caller, tools } = await call('inbound');
    const r = await tools.run({ id: 't1', name: 'transfer_call', arguments: { reason: 'wants a person' } }, 1, new AbortController().signal);
    expect(r.ok).toBe(true);
    const twiml = fake.requestsTo('POST', new RegExp(`/Calls/${callSid}\\.json$`)).at(-1)!.form.get('Twiml')!;
    expect(twiml).toContain('<Number>+15557770002</Number>');
    tools.release();
    await caller.hangup();
  });
});
