/**
 * Caps and deadlines (issue 13, item 3), on the real listeners from loopback: a /media socket that never sends
 * `start` is closed, streams beyond PARLEY_MAX_STREAMS and connections beyond the per-address limit are
 * refused, slow headers time out, and a client that stops reading /events or /media is cut off rather than
 * buffered without bound. Deadlines are short here and the waits generous.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { HttpServer } from '../../../main/core/server/http.ts';
import { MediaSocketServer } from '../../../main/core/server/media-socket.ts';
import type { StreamSocket } from '../../../main/core/calls/call-registry.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

/** A raw TCP connection to `url`'s port that collects what the server sends and notes when it closes. */
function rawSocket(url: string): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    let data = '';
    let closed = false;
    const socket = connect(Number(port), '127.0.0.1', () => resolve({ socket, received: () => data, closed: () => closed }));
    socket.on('data', (c) => (data += c.toString()));
    socket.on('close', () => (closed = true));
    socket.on('error', reject);
  });
}

const warned = (logs: { level: string; msg: string }[], re: RegExp) => logs.some((l) => l.level === 'warn' && re.test(l.msg));

describe('deadlines and caps on the loopback listener', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '', maxStreams: 2 }, { limits: { mediaStartTimeoutMs: 500, headersTimeoutMs: 500, requestTimeoutMs: 1_000, sseMaxBufferedBytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('closes a /media socket that sends no start within the deadline, with a log line', async () => {
    const idle = await TwilioCaller.connect({ url: t.wsUrl, manualStart: true });
    expect(await idle.waitFor<number>('close', 10_000)).toBe(1008);
    expect(warned(t.logs, /^media socket closed: no start within 0\.5 s/)).toBe(true);
  });

  it('refuses a media stream beyond PARLEY_MAX_STREAMS with a 503, and takes one again when a stream ends', async () => {
    const a = await TwilioCaller.connect({ url: t.wsUrl });
    const b = await TwilioCaller.connect({ url: t.wsUrl });
    await until(() => t.core.calls().filter((c) => c.streamSid).length === 2, 'two calls');
    const third = await TwilioCaller.connect({ url: t.wsUrl }).catch((e: { statusCode?: number }) => e);
    expect((third as { statusCode?: number }).statusCode).toBe(503);
    expect(warned(t.logs, /^media stream refused: 2 streams are open, the most allowed \(PARLEY_MAX_STREAMS = 2\)/)).toBe(true);
    await a.hangup();
    await until(() => t.core.calls().filter((c) => c.streamSid).length === 1, 'one call left');
    // The server counts the socket gone once its close is processed: allow it a moment.
    let again: TwilioCaller | null = null;
    for (let i = 0; i < 50 && !again; i++) again = await TwilioCaller.connect({ url: t.wsUrl }).catch(() => new Promise<null>((r) => setTimeout(() => r(null), 100)));
    expect(again).not.toBeNull();
    await again!.hangup();
    await b.hangup();
  });

  it('answers 408 and closes a connection whose headers never finish, and one that sends nothing', async () => {
    const slow = await rawSocket(t.url);
    slow.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const silent = await rawSocket(t.url);
    await until(() => slow.closed() && silent.closed(), 'slow connections to be closed', 10_000);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts off an /events client that stops reading, with a log line', async () => {
    const client = await rawSocket(t.url);
    client.socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.token}\r\n\r\n`);
    await until(() => client.received().includes('parley events'), 'the stream to open');
    client.socket.pause();
    const big = 'k'.repeat(64 * 1024);
    for (let i = 0; i < 400 && !warned(t.logs, /^\/events client closed: it stopped reading/); i++) {
      t.core.events.emit({ type: 'config.changed', keys: [big], at: Date.now() });
      await new Promise((r) => setImmediate(r));
    }
    expect(warned(t.logs, /^\/events client closed: it stopped reading \(\d+ bytes buffered, the most is 65536\)/)).toBe(true);
    client.socket.resume();
    await until(() => client.closed(), 'the stream to be closed');
  });
});

describe('connections per address', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ greeting: '', maxConnectionsPerAddress: 3 });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('refuses the connection over the limit with a 503 and a log line, and accepts again once one closes', async () => {
    const held = await Promise.all([rawSocket(t.url), rawSocket(t.url), rawSocket(t.url)]);
    const over = await rawSocket(t.url);
    await until(() => over.closed(), 'the fourth connection to be closed');
    expect(over.received()).toMatch(/^HTTP\/1\.1 503/);
    expect(warned(t.logs, /^connection refused: 127\.0\.0\.1 already holds 3 connections \(PARLEY_MAX_CONNECTIONS_PER_ADDRESS = 3\)/)).toBe(true);
    for (const h of held) h.socket.destroy();
    await until(() => held.every((h) => h.closed()), 'held connections to close');
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${t.url}/health`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
  });
});

describe('a /media peer that stops reading', () => {
  const sink = memorySink();
  const log = createLogger({ level: 'debug', sinks: [sink] });
  let server: HttpServer;
  let media: MediaSocketServer;
  let url = '';
  let stream: StreamSocket | null = null;
  let ended = '';
  beforeAll(async () => {
    server = new HttpServer({ log });
    media = new MediaSocketServer({
      log,
      maxBufferedBytes: 256 * 1024,
      onStart: (_start, socket) => {
        stream = socket;
        return { onMedia: () => {}, onMark: () => {}, onDtmf: () => {}, end: (reason) => void (ended = reason) };
      },
    });
    server.upgrade(media.handler('/media'));
    url = (await server.listen(0, '127.0.0.1')).url.replace(/^http/, 'ws') + '/media';
  });
  afterAll(async () => {
    await media.close();
    await server.close();
  });

  it('is cut off once too much is buffered for it, and its call ends, with a log line', async () => {
    const caller = await TwilioCaller.connect({ url });
    await until(() => stream !== null, 'start');
    (caller.ws as WebSocket & { _socket: Socket })._socket.pause();
    const frame = JSON.stringify({ event: 'media', media: { payload: 'x'.repeat(64 * 1024) } });
    for (let i = 0; i < 2_000 && !ended; i++) {
      stream!.send(frame);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => ended !== '', 'the call to end');
    expect(warned(sink.records, /^media stream closed: the peer stopped reading \(\d+ bytes buffered, the most is 262144\)/)).toBe(true);
  });
});
