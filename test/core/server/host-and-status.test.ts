/**
 * The loopback listener answers only to loopback names (issue 13, item 10: DNS rebinding), and errors get the
 * status they deserve (item 9): a malformed percent-encoding is the client's 400, a missing model a 409, call
 * records that are unavailable a 503.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestCore, type TestCore } from '../../helpers/core.ts';

/** node:http, not fetch: fetch does not let a caller set Host. */
function send(url: string, headers: Record<string, string>, method = 'GET', body = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const upgrade = (url: string, headers: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => (ws.terminate(), resolve(101)));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });

describe('Host check on the loopback listener', () => {
  let t: TestCore;
  let port = '';
  beforeAll(async () => {
    t = await startTestCore({ greeting: '', publicUrl: 'https://parley.example.com' });
    port = new URL(t.url).port;
  });
  afterAll(async () => {
    await t.stop();
  });

  it('refuses Host: evil.com on every route — public, control, Twilio — with a 403 and a log line', async () => {
    const health = await send(`${t.url}/health`, { host: 'evil.com' });
    expect(health.status).toBe(403);
    const body = JSON.parse(health.text);
    expect(body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/answers only to 127\.0\.0\.1, localhost or \[::1\].*not to evil\.com/) });
    expect(JSON.stringify(body)).not.toContain('instance');
    expect((await send(`${t.url}/status`, { ...t.auth, host: `evil.com:${port}` })).status).toBe(403);
    expect((await send(`${t.url}/voice/incoming`, { host: 'evil.com', 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'CallSid=CA1')).status).toBe(403);
    expect(await upgrade(t.wsUrl, { host: 'evil.com' })).toBe(403);
    expect(t.logs.some((l) => l.level === 'warn' && l.msg === 'request refused: wrong Host (DNS rebinding?)' && l.host === 'evil.com')).toBe(true);
    expect(t.logs.some((l) => l.level === 'warn' && l.msg === 'WebSocket upgrade refused: wrong Host (DNS rebinding?)')).toBe(true);
  });

  it('answers to 127.0.0.1, localhost and [::1] with the port, and to PUBLIC_URL\'s host (a proxy forwards with it)', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost', 'parley.example.com']) {
      expect((await send(`${t.url}/health`, { host })).status, host).toBe(200);
    }
    expect((await send(`${t.url}/status`, { ...t.auth, host: `localhost:${port}` })).status).toBe(200);
  });
});

describe('error statuses', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '' }, { records: false });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('a malformed percent-encoding is a 400 (before auth), not a 500 with an ERROR log', async () => {
    const before = t.logs.filter((l) => l.level === 'error').length;
    const res = await fetch(`${t.url}/records/calls/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/malformed percent-encoding/) });
    expect(t.logs.filter((l) => l.level === 'error').length).toBe(before);
  });

  it('MODEL_MISSING is a 409, RECORDS_FAILED a 503', async () => {
    const pull = await fetch(`${t.url}/models/no-such-model/pull`, { method: 'POST', headers: t.auth });
    expect(pull.status).toBe(409);
    expect((await pull.json()).error.code).toBe('MODEL_MISSING');
    const records = await fetch(`${t.url}/records/calls`, { headers: t.auth });
    expect(records.status).toBe(503);
    expect((await records.json()).error.code).toBe('RECORDS_FAILED');
  });
});
