/**
 * /test-call (the GUI's Test call) is for this computer's GUI only: the control token, and no page of another
 * origin; it opens an ordinary engine call marked as a test call, whatever parameters the page sends; a callSid
 * that is not TEST… is refused; Hang up ends it without Twilio.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isTestCallSid, testCallStart } from '../../../main/core/server/test-call-socket.ts';
import { createHandlers } from '../../../main/ipc/handlers.ts';
import { environmentOnlySecrets } from '../../../main/web/headless-host.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

const SID = 'TEST0123456789abcdef0123456789abcdef';

function start(callSid: string, customParameters: Record<string, string> = {}) {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid: 'MZtest',
    start: { streamSid: 'MZtest', callSid, tracks: ['inbound'], customParameters, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
  });
}

/** Open a socket; resolves with it once open, or with the HTTP status it was refused with. */
function connect(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket } | { status: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', () => {});
  });
}

describe('/test-call', () => {
  let t: TestCore;
  let base: string;
  beforeAll(async () => {
    t = await startTestCore({ greeting: 'Hi.' });
    base = t.url.replace(/^http/, 'ws') + '/test-call';
  });
  afterAll(async () => t?.stop());

  it('refuses a missing or wrong token, and a page of another origin even with the token', async () => {
    expect(await connect(base)).toEqual({ status: 403 });
    expect(await connect(`${base}?token=wrong`)).toEqual({ status: 403 });
    expect(await connect(`${base}?token=${t.token}`, { origin: 'https://evil.example' })).toEqual({ status: 403 });
    expect(await connect(`${base}?token=${t.token}`, { origin: 'http://localhost:1' })).toEqual({ status: 403 });
    expect(t.logs.some((l) => /test call refused/.test(l.msg) && /another origin/.test(String(l.reason)))).toBe(true);
  });

  it('opens an engine call marked as a test call from the GUI origin, and Hang up ends it here', async () => {
    const host = new URL(t.url).host;
    const c = await connect(`${base}?token=${encodeURIComponent(t.token)}`, { origin: `http://${host}` });
    if (!('ws' in c)) throw new Error(`refused with ${c.status}`);
    const frames: string[] = [];
    c.ws.on('message', (d) => frames.push(d.toString()));
    c.ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    // The page can't pass itself off as a phone call.
    c.ws.send(start(SID, { from: '+15550001111', direction: 'outbound' }));
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === SID), 'call.started', 10_000);
    const started = t.events.find((e) => e.type === 'call.started' && e.callSid === SID) as Extract<TestCore['events'][number], { type: 'call.started' }>;
    expect(started.customParameters).toEqual({ test: 'true', direction: 'inbound', from: 'Test call', to: 'Parley' });
    expect(started.direction).toBe('inbound');
    expect(started.from).toBe('Test call');
    // The greeting comes back as Twilio media.
    await until(() => frames.some((f) => f.includes('"media"')), 'the greeting as media', 10_000);
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    await t.core.hangup(SID);
    expect(await closed).toBe(1000);
    await until(() => t.events.some((e) => e.type === 'call.ended' && e.callSid === SID), 'call.ended', 5000);
  });

  it("the desktop app's way in: app.info's testCallUrl, opened from parley://app", async () => {
    const handlers = createHandlers(t.core, { mode: 'electron', version: 't', secrets: environmentOnlySecrets, openFolder: async () => false, recordingUrl: (s) => s });
    const info = await handlers['app.info'](null);
    expect(info.testCallUrl).toBe(`ws://127.0.0.1:${new URL(t.url).port}/test-call?token=${encodeURIComponent(t.token)}`);
    const c = await connect(info.testCallUrl!, { origin: 'parley://app' });
    if (!('ws' in c)) throw new Error(`refused with ${c.status}`);
    const sid = 'TESTdesktop0000000000000000000001';
    c.ws.send(start(sid));
    await until(() => t.events.some((e) => e.type === 'call.started' && e.callSid === sid), 'call.started from the desktop origin', 10_000);
    const closed = new Promise<void>((resolve) => c.ws.once('close', () => resolve()));
    c.ws.send(JSON.stringify({ event: 'stop', sequenceNumber: '9', streamSid: 'MZtest', stop: { accountSid: '', callSid: sid } }));
    await closed;
    await until(() => t.events.some((e) => e.type === 'call.ended' && e.callSid === sid), 'call.ended after stop', 5000);
    // Another parley:// host is not the app.
    expect(await connect(info.testCallUrl!, { origin: 'parley://evil' })).toEqual({ status: 403 });
  });

  it('refuses a callSid that is not TEST…', async () => {
    const c = await connect(`${base}?token=${encodeURIComponent(t.token)}`);
    if (!('ws' in c)) throw new Error(`refused with ${c.status}`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => c.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    c.ws.send(start('CA0123456789abcdef0123456789abcdef'));
    const { code, reason } = await closed;
    expect(code).not.toBe(1000);
    expect(reason).toMatch(/TEST/);
    expect(isTestCallSid('CA0123456789abcdef0123456789abcdef')).toBe(false);
    expect(() => testCallStart(JSON.parse(start('nope')) as never)).toThrow(/must be "TEST"/);
  });
});
