/**
 * The page's side of a test call, against a fake socket and speakers: it speaks the Twilio protocol the engine
 * expects (connected, start with a TEST callSid, paced media with base64 μ-law), plays the agent's frames,
 * echoes a mark only once the audio before it has played, flushes on clear, and ends with stop.
 */
import { describe, expect, it } from 'vitest';
import { parseInbound } from '../../../main/core/twilio/media-stream.ts';
import { encodeMulaw, toBase64 } from '../../../renderer/src/audio/mulaw.ts';
import { newTestCallSid, TestCallStream, testCallUrl, type AgentSpeaker } from '../../../renderer/src/audio/test-call-stream.ts';

class FakeSocket {
  readyState = 0;
  sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: unknown = null;
  onmessage: unknown = null;
  onclose: unknown = null;
  onerror: unknown = null;
  send(text: string) {
    this.sent.push(text);
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    (this.onopen as () => void)();
  }
  receive(msg: unknown) {
    (this.onmessage as (ev: { data: unknown }) => void)({ data: JSON.stringify(msg) });
  }
  events() {
    return this.sent.map((t) => JSON.parse(t) as { event: string; [k: string]: unknown });
  }
}

class FakeSpeaker implements AgentSpeaker {
  played: Float32Array[] = [];
  waiting: (() => void)[] = [];
  flushes = 0;
  play(s: Float32Array) {
    this.played.push(s);
  }
  afterQueued(done: () => void) {
    this.waiting.push(done);
  }
  flush() {
    this.flushes++;
    for (const d of this.waiting.splice(0)) d();
  }
  finishPlaying() {
    for (const d of this.waiting.splice(0)) d();
  }
}

const setup = () => {
  const socket = new FakeSocket();
  const speaker = new FakeSpeaker();
  const ends: string[] = [];
  const stream = new TestCallStream({ socket, speaker, onEnd: (r) => ends.push(r) });
  return { socket, speaker, stream, ends };
};

describe('TestCallStream', () => {
  it('opens with connected and a start the engine parser accepts, then media frames in order', () => {
    const { socket, stream } = setup();
    const frame = new Float32Array(160).fill(0.25);
    stream.sendFrame(frame); // before the socket opened: kept, sent after start
    socket.open();
    stream.sendFrame(frame);
    const parsed = socket.sent.map(parseInbound);
    expect(parsed.map((m) => m.event)).toEqual(['connected', 'start', 'media', 'media']);
    const start = parsed[1] as Extract<ReturnType<typeof parseInbound>, { event: 'start' }>;
    expect(start.start.callSid).toBe(stream.callSid);
    expect(start.start.callSid).toMatch(/^TEST[0-9a-f]{32}$/);
    expect(start.start.mediaFormat).toEqual({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });
    const media = parsed.slice(2) as Extract<ReturnType<typeof parseInbound>, { event: 'media' }>[];
    expect(media.map((m) => m.media.timestamp)).toEqual([0, 20]);
    expect(media.every((m) => m.streamSid === stream.streamSid)).toBe(true);
    expect(media[0]!.media.payload).toBe(toBase64(encodeMulaw(frame)));
  });

  it('plays the agent, echoes a mark only after the audio before it has played, and flushes on clear', () => {
    const { socket, speaker } = setup();
    socket.open();
    socket.receive({ event: 'media', streamSid: 'x', media: { payload: toBase64(new Uint8Array(160).fill(0xff)) } });
    expect(speaker.played).toHaveLength(1);
    expect(speaker.played[0]!.length).toBe(160);
    socket.receive({ event: 'mark', streamSid: 'x', mark: { name: 'clause-1' } });
    expect(socket.events().filter((e) => e.event === 'mark')).toHaveLength(0);
    speaker.finishPlaying();
    expect(socket.events().filter((e) => e.event === 'mark').map((e) => (e.mark as { name: string }).name)).toEqual(['clause-1']);
    // A clear flushes the speakers and echoes what was pending, as Twilio does.
    socket.receive({ event: 'mark', streamSid: 'x', mark: { name: 'clause-2' } });
    socket.receive({ event: 'clear', streamSid: 'x' });
    expect(speaker.flushes).toBe(1);
    expect(socket.events().filter((e) => e.event === 'mark')).toHaveLength(2);
    // Garbage from the socket is ignored, not thrown.
    socket.receive('not json at all');
    (socket.onmessage as (ev: { data: unknown }) => void)({ data: '{' });
  });

  it('stop sends stop, closes the socket and ends once; a dropped connection ends it with the reason', () => {
    const a = setup();
    a.socket.open();
    a.stream.stop();
    a.stream.stop();
    expect(a.socket.events().at(-1)!.event).toBe('stop');
    expect(a.socket.closed?.code).toBe(1000);
    expect(a.ends).toEqual(['you ended the test call']);
    a.stream.sendFrame(new Float32Array(160));
    expect(a.socket.events().at(-1)!.event).toBe('stop');

    const b = setup();
    b.socket.open();
    (b.socket.onclose as (ev: { code: number; reason: string }) => void)({ code: 1008, reason: 'wrong token' });
    expect(b.ends).toEqual(['the connection closed (1008: wrong token)']);
    expect(b.stream.ended).toBe(true);

    // Refused before it ever opened (a 403 shows the page only a 1006): say what to do.
    const c = setup();
    (c.socket.onclose as (ev: { code: number; reason: string }) => void)({ code: 1006, reason: '' });
    expect(c.ends).toHaveLength(1);
    expect(c.ends[0]).toMatch(/refused the connection.*token/);
  });

  it('builds the URL from the page location, and a fresh TEST sid each time', () => {
    expect(testCallUrl({ protocol: 'http:', host: '127.0.0.1:3000' }, 'a b')).toBe('ws://127.0.0.1:3000/test-call?token=a%20b');
    expect(testCallUrl({ protocol: 'https:', host: 'localhost' }, 't')).toBe('wss://localhost/test-call?token=t');
    expect(newTestCallSid()).not.toBe(newTestCallSid());
  });
});
