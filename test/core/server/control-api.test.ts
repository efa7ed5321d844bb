/**
 * The local control API: every control route needs the bearer token (generated on first run, kept 0600 in the
 * data folder), bodies are validated with clear 4xx errors, and docs/api.md documents every route.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

describe('control API security', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('generates a strong token on first run and keeps it readable by this user only', () => {
    expect(t.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(t.dataDir, 'control-token');
    expect(readFileSync(file, 'utf8').trim()).toBe(t.token);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses every control route without the token, or with a wrong one', async () => {
    const control = t.core.http.routes.filter((r) => r.access === 'control');
    expect(control.length).toBeGreaterThan(15);
    for (const r of control) {
      const path = r.path.replace(/:[A-Za-z]+/g, 'CA' + '0'.repeat(32));
      const init = { method: r.method, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }) };
      const none = await fetch(`${t.url}${path}`, init);
      expect(none.status, `${r.method} ${r.path} without a token`).toBe(401);
      expect((await none.json()).error.message).toMatch(/needs the control token: send "Authorization: Bearer <token>"/);
      const wrong = await fetch(`${t.url}${path}`, { ...init, headers: { ...(init as { headers?: Record<string, string> }).headers, authorization: `Bearer ${t.token.slice(1)}x` } });
      expect(wrong.status, `${r.method} ${r.path} with a wrong token`).toBe(401);
    }
  });

  it('lets the token in as a bearer header or a ?token= (for EventSource), and leaves /health public', async () => {
    expect((await fetch(`${t.url}/calls`, { headers: t.auth })).status).toBe(200);
    expect((await fetch(`${t.url}/calls?token=${encodeURIComponent(t.token)}`)).status).toBe(200);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });

  it('GET /status: server, tunnel and Twilio, each saying what to do when not ready', async () => {
    const s = await (await fetch(`${t.url}/status`, { headers: t.auth })).json();
    expect(s.server).toEqual({ ok: true, detail: `listening on ${t.url}`, url: t.url });
    expect(s.tunnel).toMatchObject({ ok: false, url: null });
    expect(s.tunnel.detail).toMatch(/set NGROK_AUTHTOKEN .* or PUBLIC_URL/);
    expect(s.twilio).toEqual({ ok: false, detail: expect.stringMatching(/set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/) });
    expect(t.events.filter((e) => e.type === 'server.status').map((e) => (e as { component: string }).component)).toEqual(expect.arrayContaining(['server', 'tunnel', 'twilio']));
  });

  it.each([
    ['not JSON', '{to:', 400, /not valid JSON/],
    ['an array', '["+15551234567"]', 400, /send a JSON object/],
    ['without "to"', '{}', 400, /"to" is required/],
    ['with "to" as a JSON number', '{"to":15551234567}', 400, /a JSON number loses the \+/],
    ['with an unknown field', '{"to":"+15551234567","form":"+15550000000"}', 400, /unknown field "form"/],
    ['with a bad number', '{"to":"555-1234"}', 400, /"to" "555-1234" has no country code/],
    ['before Twilio is set up', '{"to":"+15551234567","from":"+15550000000"}', 409, /set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/],
  ])('POST /calls %s → %i with a clear message', async (_name, body, status, message) => {
    const res = await fetch(`${t.url}/calls`, { method: 'POST', body, headers: { ...t.auth, 'content-type': 'application/json' } });
    expect(res.status).toBe(status);
    expect((await res.json()).error.message).toMatch(message);
  });

  it('hangs up a simulated call (no Twilio behind it) locally: its stream is closed', async () => {
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.core.calls().some((c) => c.callSid === caller.callSid), 'live call');
    const closed = caller.waitFor('close', 5_000);
    const res = await fetch(`${t.url}/calls/${caller.callSid}/hangup`, { method: 'POST', headers: t.auth });
    expect(await res.json()).toEqual({ ok: true, callSid: caller.callSid });
    await closed;
    expect(t.core.calls()).toEqual([]);
    expect(t.events.find((e) => e.type === 'call.ended' && e.callSid === caller.callSid)).toMatchObject({ reason: 'hung up' });
  });

  it('hanging up an unknown call is a 404', async () => {
    const res = await fetch(`${t.url}/calls/CA${'0'.repeat(32)}/hangup`, { method: 'POST', headers: t.auth });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('CALL_NOT_FOUND');
  });

  it('clearing the token in Settings does not lock the API: the stored one stays in force', async () => {
    t.core.applySettings({ controlToken: '' });
    expect(t.core.config.controlToken).toBe(t.token);
    expect((await fetch(`${t.url}/calls`, { headers: t.auth })).status).toBe(200);
  });

  it('keeps the same token across restarts on the same data folder', async () => {
    const again = await startTestCore({ greeting: '', dataDir: t.dataDir, userPluginsDir: join(t.dataDir, 'plugins') });
    try {
      expect(again.token).toBe(t.token);
    } finally {
      await again.core.stop();
    }
  });

  it('uses PARLEY_CONTROL_TOKEN when set, and writes no file', async () => {
    const own = await startTestCore({ greeting: '', controlToken: 'my-own-token-123' });
    try {
      expect(own.token).toBe('my-own-token-123');
      expect(existsSync(join(own.dataDir, 'control-token'))).toBe(false);
      expect((await fetch(`${own.url}/calls`, { headers: { authorization: 'Bearer my-own-token-123' } })).status).toBe(200);
    } finally {
      await own.stop();
    }
  });

  it('docs/api.md documents every route', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../../docs/api.md'), 'utf8');
    const missing = t.core.http.routes.map((r) => `${r.method} ${r.path}`).filter((r) => !doc.includes(`\`${r}\``));
    expect(missing).toEqual([]);
    expect(doc).toContain('`GET /media`');
  });
});
