/**
 * One range-aware file sender behind every recording endpoint: the control API, the headless GUI and the desktop
 * app's parley:// scheme. A good single range gets exactly its bytes (206); a bad one — outside the file,
 * backwards, malformed, several ranges — gets 416 with the file's size at once, never a hung request.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRange, planFile } from '../../../main/core/server/file-sender.ts';
import { handleAppRequest } from '../../../main/electron/protocol.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { attachWebGui, type WebGui } from '../../../main/web/gui-server.ts';
import { environmentOnlySecrets } from '../../../main/web/headless-host.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

describe('range rules', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=100-', { start: 100, end: 999 }],
    ['bytes=-50', { start: 950, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=990-5000', { start: 990, end: 999 }],
    ['bytes=999-999', { start: 999, end: 999 }],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=999999-', 'unsatisfiable'],
    ['bytes=5-2', 'unsatisfiable'],
    ['bytes=abc', 'unsatisfiable'],
    ['bytes=-', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=0-1,5-6', 'unsatisfiable'],
    ['items=0-1', 'unsatisfiable'],
  ])('%j in a 1000-byte file → %j', (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });

  it('plans status and headers: 200 whole, 206 the range, 416 naming the size', () => {
    expect(planFile(1000, undefined, 'audio/wav')).toEqual({
      status: 200,
      headers: { 'content-type': 'audio/wav', 'accept-ranges': 'bytes', 'content-length': '1000' },
      range: { start: 0, end: 999 },
    });
    expect(planFile(1000, 'bytes=10-19', 'audio/wav', { 'cache-control': 'no-store' })).toEqual({
      status: 206,
      headers: { 'cache-control': 'no-store', 'content-type': 'audio/wav', 'accept-ranges': 'bytes', 'content-range': 'bytes 10-19/1000', 'content-length': '10' },
      range: { start: 10, end: 19 },
    });
    expect(planFile(1000, 'bytes=5-2', 'audio/wav')).toMatchObject({ status: 416, headers: { 'content-range': 'bytes */1000', 'content-length': '0' }, range: null });
    expect(planFile(0, undefined, 'audio/wav')).toMatchObject({ status: 200, headers: { 'content-length': '0' }, range: null });
    expect(planFile(0, 'bytes=0-', 'audio/wav').status).toBe(416);
  });
});

interface Reply {
  status: number;
  header(name: string): string | null;
  body: Buffer;
}

/** A plain HTTP request that fails the test (instead of hanging it) when no full answer comes within 5 s. */
function http(url: string, method: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = res.headers;
        resolve({ status: res.statusCode!, header: (n) => (h[n] === undefined ? null : String(h[n])), body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} got no full answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

describe('every recording endpoint', () => {
  let t: TestCore;
  let gui: WebGui;
  let sid: string;
  let wav: Buffer;

  beforeAll(async () => {
    t = await startTestCore({ recordCalls: true, greeting: 'Hello there, this call is recorded.' });
    gui = attachWebGui(t.core, { token: () => t.core.config.controlToken, host: { mode: 'headless', version: 'test', secrets: environmentOnlySecrets, openFolder: async () => false } });
    const caller = await TwilioCaller.connect({ url: t.wsUrl });
    sid = caller.callSid;
    await caller.silence(600);
    await caller.hangup();
    await until(() => t.core.records?.recordingFile(sid) != null, 'the recording to be finished', 15_000);
    wav = readFileSync(t.core.records!.recordingFile(sid)!);
    expect(wav.length).toBeGreaterThan(1000);
  });
  afterAll(async () => {
    gui?.close();
    await t?.stop();
  });

  type Get = (method: string, headers: Record<string, string>) => Promise<Reply>;
  const endpoints: [string, Get][] = [
    ['GET /records/calls/:sid/recording.wav (control API)', (method, headers) => http(`${t.url}/records/calls/${sid}/recording.wav`, method, { ...t.auth, ...headers })],
    ['GET /gui/recordings/:file (headless GUI)', (method, headers) => http(`${t.url}/gui/recordings/${sid}.wav?token=${encodeURIComponent(t.token)}`, method, headers)],
    [
      'parley://app/recordings/:file (desktop app)',
      async (method, headers) => {
        const res = await handleAppRequest(new Request(`parley://app/recordings/${sid}.wav`, { method, headers }), {
          rendererDir: t.dataDir,
          recordingFile: (s) => t.core.records!.recordingFile(s),
        });
        const body = Buffer.from(await res.arrayBuffer());
        return { status: res.status, header: (n) => res.headers.get(n), body };
      },
    ],
  ];

  describe.each(endpoints)('%s', (_name, get) => {
    it('sends the whole file without a Range, and only headers for HEAD', async () => {
      const full = await get('GET', {});
      expect(full.status).toBe(200);
      expect(full.header('content-type')).toBe('audio/wav');
      expect(full.header('accept-ranges')).toBe('bytes');
      expect(full.header('content-length')).toBe(String(wav.length));
      expect(full.body.equals(wav)).toBe(true);
      const head = await get('HEAD', {});
      expect(head.status).toBe(200);
      expect(head.header('content-length')).toBe(String(wav.length));
      expect(head.body.length).toBe(0);
    });

    it('sends exactly the bytes of a good range', async () => {
      const size = wav.length;
      const cases: [string, number, number][] = [
        ['bytes=0-99', 0, 99],
        ['bytes=100-', 100, size - 1],
        ['bytes=-50', size - 50, size - 1],
        ['bytes=10-999999999', 10, size - 1],
        [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
      ];
      for (const [range, start, end] of cases) {
        const part = await get('GET', { range });
        expect(part.status, range).toBe(206);
        expect(part.header('content-range'), range).toBe(`bytes ${start}-${end}/${size}`);
        expect(part.header('content-length'), range).toBe(String(end - start + 1));
        expect(part.body.equals(wav.subarray(start, end + 1)), range).toBe(true);
      }
    });

    it.each(['bytes=999999999-', 'bytes=abc', 'bytes=5-2', 'bytes=0-1,4-5', 'bytes=-0', 'bytes=-', 'items=0-9'])('answers %s with 416 at once', async (range) => {
      const res = await get('GET', { range });
      expect(res.status).toBe(416);
      expect(res.header('content-range')).toBe(`bytes */${wav.length}`);
      expect(res.body.length).toBe(0);
    });

    it('answers a range starting just past the end with 416', async () => {
      const res = await get('GET', { range: `bytes=${wav.length}-` });
      expect(res.status).toBe(416);
    });
  });
});
