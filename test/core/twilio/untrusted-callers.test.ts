/**
 * Who may drive the phone side (issue 13, item 1): a web page never may (a browser always sends Origin; Twilio
 * never does), and when Parley is reachable from outside without a TWILIO_AUTH_TOKEN nothing can be verified, so
 * every Twilio request is refused with what to set. Unsigned requests still work from this computer with no
 * public URL: the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NgrokConnectConfig } from '../../../main/core/tunnel/ngrok.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const CALL = { CallSid: 'CA' + 'b'.repeat(32), From: '+15550001111', To: '+15559998888', CallStatus: 'ringing', Direction: 'inbound' };
const post = (base: string, path: string, params: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body: new URLSearchParams(params), headers });
const upgradeStatus = (url: string, headers: Record<string, string> = {}) =>
  TwilioCaller.connect({ url, headers }).then(
    async (c) => (await c.hangup().catch(() => {}), 101),
    (e: { statusCode?: number }) => e.statusCode ?? 0,
  );
const warned = (t: TestCore, re: RegExp) => t.logs.filter((l) => l.level === 'warn' && re.test(l.msg));

describe('no auth token, loopback only, no public URL (the simulator)', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('refuses a browser-sent form POST to /voice/incoming and /voice/status (Origin) with 403 and a log line', async () => {
    for (const path of ['/voice/incoming', '/voice/status']) {
      const before = warned(t, /carries an Origin header/).length;
      const res = await post(t.url, path, CALL, { origin: 'https://evil.example' });
      expect(res.status, path).toBe(403);
      expect((await res.json()).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/Origin header/) });
      expect(warned(t, /^Twilio webhook refused: it carries an Origin header \(https:\/\/evil\.example\), so a web page in a browser sent it/).length).toBe(before + 1);
    }
    expect(t.core.calls().some((c) => c.callSid === CALL.CallSid)).toBe(false);
  });

  it('refuses a browser-opened /media WebSocket (Origin) with 403, even a same-origin one', async () => {
    expect(await upgradeStatus(t.wsUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(t.wsUrl, { origin: t.url })).toBe(403);
    expect(warned(t, /^Twilio media stream upgrade refused: it carries an Origin header/)).toHaveLength(2);
  });

  it('still takes unsigned webhooks and a simulated call without Origin', async () => {
    expect((await post(t.url, '/voice/incoming', CALL)).status).toBe(200);
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.core.calls().some((c) => c.callSid === caller.callSid && c.streamSid === caller.streamSid), 'simulated call to start');
    await caller.hangup();
  });
});

describe('no auth token but PUBLIC_URL set', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ publicUrl: 'https://parley.example.com', greeting: '' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('refuses every unsigned webhook and upgrade with 503 and a log line saying to set TWILIO_AUTH_TOKEN', async () => {
    for (const path of ['/voice/incoming', '/voice/status']) {
      const res = await post(t.url, path, CALL);
      expect(res.status, path).toBe(503);
      expect((await res.json()).error).toMatchObject({ code: 'NOT_CONFIGURED', message: expect.stringMatching(/set TWILIO_AUTH_TOKEN/) });
    }
    expect(await upgradeStatus(t.wsUrl)).toBe(503);
    const lines = warned(t, /^Twilio (webhook|media stream upgrade) refused: TWILIO_AUTH_TOKEN is not set/);
    expect(lines).toHaveLength(3);
    expect(lines[0]!.msg).toMatch(/reachable from outside at https:\/\/parley\.example\.com.*Set TWILIO_AUTH_TOKEN/);
    expect(t.core.calls()).toEqual([]);
  });

  it('an Origin is refused first, with 403', async () => {
    expect((await post(t.url, '/voice/incoming', CALL, { origin: 'https://evil.example' })).status).toBe(403);
  });
});

describe('no auth token, ngrok tunnel up', () => {
  let t: TestCore;
  let tunnelled = '';
  beforeAll(async () => {
    t = await startTestCore(
      { ngrokAuthtoken: 'ngrok-token', greeting: '' },
      { ngrokConnect: async (c: NgrokConnectConfig) => ((tunnelled = c.addr), { url: () => 'https://abc123.ngrok-free.app', close: async () => {} }) },
    );
    await until(() => t.core.status().tunnel.ok, 'tunnel up');
  });
  afterAll(async () => {
    await t.stop();
  });

  it('refuses unsigned Twilio requests through the tunnel and on the loopback listener', async () => {
    const through = await post(tunnelled, '/voice/incoming', CALL, { host: 'abc123.ngrok-free.app' });
    expect(through.status).toBe(503);
    expect(await upgradeStatus(tunnelled.replace(/^http/, 'ws') + '/media')).toBe(503);
    expect((await post(t.url, '/voice/incoming', CALL)).status).toBe(503);
    expect(warned(t, /TWILIO_AUTH_TOKEN is not set, so it cannot be verified, and it came through the ngrok tunnel/).length).toBeGreaterThanOrEqual(2);
  });
});
