/**
 * The tunnel in the running app (ngrok itself played by a fake connect): it becomes the public URL, reports its
 * state, and reaches only the Twilio routes — the control API and everything else are not there. Offline or a
 * bad token: a clear status, and the app keeps working locally.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import type { NgrokConnectConfig } from '../../../main/core/tunnel/ngrok.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUTH_TOKEN } from '../../helpers/fake-twilio.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const TUNNEL = 'https://abc123.ngrok-free.app';

describe('ngrok tunnel up', () => {
  let t: TestCore;
  const connects: NgrokConnectConfig[] = [];
  beforeAll(async () => {
    t = await startTestCore(
      { ngrokAuthtoken: 'ngrok-token', twilioAuthToken: AUTH_TOKEN, greeting: '' },
      { ngrokConnect: async (c) => (connects.push(c), { url: () => TUNNEL, close: async () => {} }) },
    );
    await until(() => t.core.status().tunnel.ok, 'tunnel up');
  });
  afterAll(async () => {
    await t.stop();
  });

  it('becomes the public URL when PUBLIC_URL is unset, and says so in the status and events', () => {
    expect(t.core.publicUrl()).toBe(TUNNEL);
    expect(t.core.status().tunnel).toEqual({ ok: true, detail: `ngrok tunnel up: ${TUNNEL} (Twilio routes only)`, url: TUNNEL });
    expect(t.events.some((e) => e.type === 'server.status' && e.component === 'tunnel' && e.ok && e.url === TUNNEL)).toBe(true);
    expect(connects).toHaveLength(1);
    expect(connects[0]!.authtoken).toBe('ngrok-token');
  });

  it('forwards to a separate 127.0.0.1 listener, not to the control server', () => {
    const addr = new URL(connects[0]!.addr);
    expect(addr.hostname).toBe('127.0.0.1');
    expect(connects[0]!.addr).not.toBe(t.url);
  });

  it('reaches no control route and no GUI route through the tunnel, even with the token', async () => {
    const tunnelled = connects[0]!.addr;
    const control = t.core.http.routes.filter((r) => r.access === 'control');
    for (const r of control) {
      const res = await fetch(`${tunnelled}${r.path.replace(/:[A-Za-z]+/g, 'x')}`, { method: r.method, headers: { ...t.auth, host: 'abc123.ngrok-free.app' } });
      expect(res.status, `${r.method} ${r.path}`).toBe(404);
    }
    for (const path of ['/', '/index.html', '/bridge', '/gui/recordings/x.wav']) expect((await fetch(`${tunnelled}${path}`)).status).toBe(404);
    // /health there is bare: no call counts, just enough for the doctor to recognise this app.
    const health = await (await fetch(`${tunnelled}/health`)).json();
    expect(Object.keys(health).sort()).toEqual(['instance', 'ok']);
  });

  it('serves the Twilio webhooks and the media stream through the tunnel, signed for the tunnel URL', async () => {
    const tunnelled = connects[0]!.addr;
    const params = { CallSid: 'CA' + 'd'.repeat(32), From: '+15550001111', To: '+15559998888', CallStatus: 'ringing', Direction: 'inbound' };
    const res = await fetch(`${tunnelled}/voice/incoming`, {
      method: 'POST',
      body: new URLSearchParams(params),
      headers: { host: 'abc123.ngrok-free.app', 'x-forwarded-proto': 'https', 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, `${TUNNEL}/voice/incoming`, params) },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<Stream url="wss://abc123.ngrok-free.app/media">');
    const unsigned = await fetch(`${tunnelled}/voice/incoming`, { method: 'POST', body: new URLSearchParams(params) });
    expect(unsigned.status).toBe(403);

    const caller = await TwilioCaller.connect({ url: tunnelled.replace(/^http/, 'ws') + '/media', callSid: params.CallSid, headers: { 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, 'wss://abc123.ngrok-free.app/media', {}) } });
    await until(() => t.core.calls().some((c) => c.callSid === caller.callSid && c.streamSid === caller.streamSid), 'call through the tunnel');
    await caller.hangup();
  });

  it('the control server itself does not accept the tunnel listener\'s job in reverse: signatures still apply there', async () => {
    const res = await fetch(`${t.url}/voice/incoming`, { method: 'POST', body: new URLSearchParams({ CallSid: 'CA1' }) });
    expect(res.status).toBe(403);
  });
});

describe('ngrok tunnel down', () => {
  it('offline: retries in the background, the status says why, and the app keeps working locally', async () => {
    let attempts = 0;
    const t = await startTestCore(
      { ngrokAuthtoken: 'ngrok-token', greeting: '' },
      {
        ngrokConnect: async () => {
          attempts++;
          throw new Error('failed to connect session: failed to establish tcp connection');
        },
        tunnelBackoff: { initialMs: 50, maxMs: 100 },
      },
    );
    try {
      await until(() => attempts >= 3, 'a few retries');
      const s = t.core.status().tunnel;
      expect(s.ok).toBe(false);
      expect(s.detail).toMatch(/cannot reach ngrok \(failed to connect session: failed to establish tcp connection\): is this computer offline\? Parley keeps working locally and retries\. Next try in \d+ s\./);
      expect((await fetch(`${t.url}/health`)).status).toBe(200);
      const dial = await fetch(`${t.url}/calls`, { method: 'POST', body: '{"to":"+15551234567","from":"+15550000000"}', headers: { ...t.auth, 'content-type': 'application/json' } });
      expect(dial.status).toBe(409); // not configured: no Twilio, no public URL — a clear refusal, not a crash
    } finally {
      await t.stop();
    }
    const settled = attempts;
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toBe(settled); // stop() ends the retries
  });

  it('a bad token: one attempt, and the status says where to get the right one', async () => {
    let attempts = 0;
    const t = await startTestCore(
      { ngrokAuthtoken: 'wrong', greeting: '' },
      {
        ngrokConnect: async () => {
          attempts++;
          throw new Error('authentication failed: The authtoken you specified does not look like a proper ngrok tunnel authtoken. ERR_NGROK_105');
        },
        tunnelBackoff: { initialMs: 20, maxMs: 20 },
      },
    );
    try {
      await until(() => t.core.status().tunnel.detail.includes('ERR_NGROK_105'), 'tunnel failure reported');
      await new Promise((r) => setTimeout(r, 200));
      expect(attempts).toBe(1);
      expect(t.core.status().tunnel).toEqual({ ok: false, detail: 'ngrok rejected NGROK_AUTHTOKEN (ERR_NGROK_105): copy your token again from https://dashboard.ngrok.com/get-started/your-authtoken into Settings.', url: null });
      // Fixing the token in Settings restarts the tunnel.
      t.core.applySettings({ ngrokAuthtoken: 'right' });
      await until(() => attempts === 2, 'retry with the new token');
    } finally {
      await t.stop();
    }
  });
});
