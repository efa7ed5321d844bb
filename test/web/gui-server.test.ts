/**
 * The headless GUI's door: only this computer with the token gets in. The /bridge WebSocket speaks the IPC
 * contract (requests, responses with the core's errors, core events); static files never leave dist/renderer.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeFrame } from '../../main/shared/contract.ts';
import { attachWebGui, type WebGui } from '../../main/web/gui-server.ts';
import { environmentOnlySecrets } from '../../main/web/headless-host.ts';
import { startTestCore, until, type TestCore } from '../helpers/core.ts';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function openBridge(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('headless GUI server', () => {
  let t: TestCore;
  let gui: WebGui;
  let base: string;
  let token: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-renderer-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Parley</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    t = await startTestCore();
    gui = attachWebGui(t.core, { token: () => t.core.config.controlToken, rendererDir: dir, host: { mode: 'headless', version: 'test', secrets: environmentOnlySecrets, openFolder: async () => false } });
    base = t.url;
    token = t.core.config.controlToken;
  });
  afterAll(async () => {
    gui?.close();
    await t?.stop();
  });

  it('prints a loopback URL carrying the token in its fragment', () => {
    expect(gui.url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=.{20,}$/);
    expect(gui.url()).toContain(token);
  });

  it('serves the GUI with its CSP, and nothing outside it', async () => {
    const index = await get(`${base}/`);
    expect(index.status).toBe(200);
    expect(String(index.headers['content-security-policy'])).toMatch(/script-src 'self'.*connect-src 'self' ws:\/\/127\.0\.0\.1:\d+/);
    expect(index.headers['x-frame-options']).toBe('DENY');
    expect((await get(`${base}/assets/app.js`)).status).toBe(200);
    expect((await get(`${base}/assets/..%2F..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await get(`${base}/assets/..%2Findex.html`)).status).toBe(404);
  });

  it('answers only to loopback names (no DNS rebinding) and same-origin pages', async () => {
    expect((await get(`${base}/`, { host: 'evil.example' })).status).toBe(403);
    await expect(openBridge(`${base.replace('http', 'ws')}/bridge?token=${token}`, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
    await expect(openBridge(`${base.replace('http', 'ws')}/bridge?token=${token}`, { host: 'evil.example' })).rejects.toThrow(/403/);
  });

  it('refuses the bridge without the right token', async () => {
    await expect(openBridge(`${base.replace('http', 'ws')}/bridge`)).rejects.toThrow(/403/);
    await expect(openBridge(`${base.replace('http', 'ws')}/bridge?token=${token.slice(0, -1)}x`)).rejects.toThrow(/403/);
  });

  it('speaks the contract: requests, the core’s errors, and events', async () => {
    const ws = await openBridge(`${base.replace('http', 'ws')}/bridge?token=${encodeURIComponent(token)}`, { origin: base });
    const frames: BridgeFrame[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as BridgeFrame));
    const ask = async (id: number, channel: string, req: unknown) => {
      ws.send(JSON.stringify({ t: 'req', id, channel, request: req }));
      await until(() => frames.some((f) => f.t === 'res' && f.id === id), `response ${id}`);
      return (frames.find((f) => f.t === 'res' && f.id === id) as Extract<BridgeFrame, { t: 'res' }>).result;
    };
    expect(await ask(1, 'app.info', null)).toMatchObject({ ok: true, value: { mode: 'headless', dataDir: t.dataDir } });
    expect(await ask(2, 'calls.interrupt', { callSid: 'CAnope' })).toMatchObject({ ok: false, error: { code: 'CALL_NOT_FOUND' } });
    expect(await ask(3, 'no.such.channel', null)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    ws.send('not json'); // ignored, connection stays up
    expect(await ask(4, 'plugins.rescan', null)).toEqual({ ok: true, value: null });
    t.core.events.emit({ type: 'plugins.changed', at: 123 });
    await until(() => frames.some((f) => f.t === 'event' && f.event.type === 'plugins.changed' && f.event.at === 123), 'the event');
    expect(gui.connections).toBe(1);
    ws.close();
    await until(() => gui.connections === 0, 'the bridge to close');
  });

  it('recording links need the token', async () => {
    expect((await get(`${base}/gui/recordings/CA1.wav`)).status).toBe(401);
    expect((await get(`${base}/gui/recordings/CA1.wav?token=${token}`)).status).toBe(404);
  });
});
