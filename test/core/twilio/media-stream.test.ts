import { describe, expect, it } from 'vitest';
import { decodeFloat, encodeFloat } from '../../../main/core/audio/mulaw.ts';
import {
  FrameEncoder,
  INBOUND_RATE,
  MediaStreamReader,
  MediaStreamWriter,
  checkMediaFormat,
  clearMessage,
  decodePayload,
  markMessage,
  mediaMessage,
  parseInbound,
} from '../../../main/core/twilio/media-stream.ts';
import { mediaStreamUrl, streamTwiml } from '../../../main/core/twilio/twiml.ts';

// Shapes as documented at twilio.com/docs/voice/media-streams/websocket-messages.
const START = {
  event: 'start',
  sequenceNumber: '1',
  start: {
    accountSid: 'ACxxx',
    streamSid: 'MZ18ad3ab5a668481ce02b83e7395059f0',
    callSid: 'CA123',
    tracks: ['inbound'],
    customParameters: { from: '+15551234567' },
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
  },
  streamSid: 'MZ18ad3ab5a668481ce02b83e7395059f0',
};

describe('inbound messages', () => {
  it('parses every event Twilio sends, numbers-as-strings included', () => {
    expect(parseInbound(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }))).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const start = parseInbound(JSON.stringify(START));
    expect(start).toMatchObject({ event: 'start', sequenceNumber: 1, streamSid: START.streamSid, start: { callSid: 'CA123', customParameters: { from: '+15551234567' }, mediaFormat: { sampleRate: 8000 } } });
    const media = parseInbound(JSON.stringify({ event: 'media', sequenceNumber: '3', media: { track: 'inbound', chunk: '1', timestamp: '5', payload: 'no+V' }, streamSid: 'MZ1' }));
    expect(media).toEqual({ event: 'media', sequenceNumber: 3, streamSid: 'MZ1', media: { track: 'inbound', chunk: 1, timestamp: 5, payload: 'no+V' } });
    expect(parseInbound(JSON.stringify({ event: 'dtmf', streamSid: 'MZ1', sequenceNumber: '5', dtmf: { track: 'inbound_track', digit: '1' } }))).toMatchObject({ dtmf: { digit: '1' } });
    expect(parseInbound(JSON.stringify({ event: 'mark', sequenceNumber: '4', streamSid: 'MZ1', mark: { name: 'my label' } }))).toMatchObject({ mark: { name: 'my label' } });
    expect(parseInbound(JSON.stringify({ event: 'stop', sequenceNumber: '5', streamSid: 'MZ1', stop: { accountSid: 'AC1', callSid: 'CA1' } }))).toMatchObject({ stop: { callSid: 'CA1' } });
  });

  it.each([
    ['{nope', /not JSON/],
    ['[]', /"message" must be an object/],
    [JSON.stringify({ event: 'hello' }), /unknown event "hello"/],
    [JSON.stringify({ event: 'media', streamSid: 'MZ1' }), /"media" must be an object/],
    [JSON.stringify({ event: 'media', streamSid: 'MZ1', media: {} }), /"media.payload" must be a string/],
    [JSON.stringify({ ...START, start: { ...START.start, callSid: undefined } }), /"start.callSid" must be a string/],
    [JSON.stringify({ event: 'dtmf', streamSid: 'MZ1', dtmf: { digit: '12' } }), /"dtmf.digit" must be one of/],
    ['x'.repeat(70_000), /exceeds the 65536-byte limit/],
  ])('rejects %s with a reason', (text, reason) => {
    expect(() => parseInbound(text)).toThrow(reason);
  });

  it('accepts only μ-law 8 kHz mono, and says what it got', () => {
    expect(checkMediaFormat({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 })).toBeNull();
    expect(checkMediaFormat({ encoding: 'audio/x-mulaw', sampleRate: 16000, channels: 1 })).toMatch(/16000 Hz.*only audio\/x-mulaw 8000 Hz mono/);
    expect(checkMediaFormat({ encoding: 'audio/l16', sampleRate: 8000, channels: 1 })).toMatch(/audio\/l16/);
  });

  it('decodes base64 payloads and refuses junk and oversized ones', () => {
    expect(Array.from(decodePayload(Buffer.from([1, 2, 255]).toString('base64')))).toEqual([1, 2, 255]);
    expect(() => decodePayload('%%%')).toThrow(/not base64/);
    expect(() => decodePayload(Buffer.alloc(9000).toString('base64'))).toThrow(/over one second/);
  });
});

describe('outbound messages', () => {
  it('are exactly media (raw base64 μ-law), mark and clear, each with the streamSid', () => {
    const m = JSON.parse(mediaMessage('MZ1', Uint8Array.from([0xff, 0x7f, 0x00])));
    expect(m).toEqual({ event: 'media', streamSid: 'MZ1', media: { payload: '/38A' } });
    expect(JSON.parse(markMessage('MZ1', 't1.0'))).toEqual({ event: 'mark', streamSid: 'MZ1', mark: { name: 't1.0' } });
    expect(JSON.parse(clearMessage('MZ1'))).toEqual({ event: 'clear', streamSid: 'MZ1' });
  });
});

const tone = (hz: number, rate: number, ms: number) => Float32Array.from({ length: (rate * ms) / 1000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / rate));
const rms = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / Math.max(1, x.length));
const media = (streamSid: string, bytes: Uint8Array, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ event: 'media', streamSid, media: { track: 'inbound', payload: Buffer.from(bytes).toString('base64'), ...extra } });

describe('MediaStreamReader: Twilio JSON in, validated events with 16 kHz audio out', () => {
  it('decodes the started stream\'s inbound media to 16 kHz float audio, keeping the wire bytes and timestamp', () => {
    const reader = new MediaStreamReader();
    expect(reader.read(JSON.stringify(START))).toMatchObject({ event: 'start', start: { callSid: 'CA123' } });
    // 200 ms of a 440 Hz tone, as Twilio sends it: ten 20 ms frames of μ-law.
    const wire = encodeFloat(tone(440, 8000, 200));
    const out: Float32Array[] = [];
    for (let i = 0; i < 10; i++) {
      const e = reader.read(media(START.streamSid, wire.subarray(i * 160, (i + 1) * 160), { timestamp: String(i * 20) }));
      if (e.event !== 'media' || !e.audio) throw new Error('expected decoded media');
      expect(e.audio.mulaw).toHaveLength(160);
      expect(e.audio.timestampMs).toBe(i * 20);
      out.push(e.audio.samples);
    }
    const total = out.reduce((n, a) => n + a.length, 0);
    // Twice the samples (8 → 16 kHz), less at most the resampler's filter delay, and the tone's level kept.
    expect(total).toBeGreaterThan(3200 - 64);
    expect(total).toBeLessThanOrEqual(3200);
    const all = new Float32Array(total);
    let off = 0;
    for (const a of out) all.set(a, (off += a.length) - a.length);
    expect(rms(all.subarray(400))).toBeGreaterThan(0.3);
    expect(INBOUND_RATE).toBe(16000);
  });

  it('decodes nothing before start, for another stream, or for another track; refuses a bad payload', () => {
    const reader = new MediaStreamReader();
    const bytes = new Uint8Array(160).fill(0x7f);
    expect(reader.read(media(START.streamSid, bytes))).toMatchObject({ event: 'media', audio: null });
    reader.read(JSON.stringify(START));
    expect(reader.read(media('MZother', bytes))).toMatchObject({ event: 'media', streamSid: 'MZother', audio: null });
    expect(reader.read(JSON.stringify({ event: 'media', streamSid: START.streamSid, media: { track: 'outbound', payload: 'AAAA' } }))).toMatchObject({ audio: null, track: 'outbound' });
    expect(() => reader.read(JSON.stringify({ event: 'media', streamSid: START.streamSid, media: { payload: '%%%' } }))).toThrow(/not base64/);
    expect(() => reader.read('{nope')).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
});

describe('FrameEncoder + MediaStreamWriter: PCM at any rate out as 20 ms μ-law media, mark and clear', () => {
  it.each([8000, 16000, 22050, 24000, 44100])('cuts %i Hz audio into whole 160-byte frames at 8 kHz, level kept', (rate) => {
    const enc = new FrameEncoder();
    const pcm = tone(300, rate, 500);
    // Fed in odd-sized chunks, as a TTS streams.
    const frames = [];
    for (let i = 0; i < pcm.length; i += 777) frames.push(...enc.push(pcm.subarray(i, i + 777), rate));
    frames.push(...enc.flush());
    expect(frames.every((f) => f.length === 160)).toBe(true);
    // 500 ms = 25 frames; the flushed filter tail and padding may add one.
    expect(frames.length).toBeGreaterThanOrEqual(25);
    expect(frames.length).toBeLessThanOrEqual(26);
    const decoded = decodeFloat(Uint8Array.from(frames.flatMap((f) => Array.from(f))));
    expect(rms(decoded.subarray(400, 3600))).toBeCloseTo(0.5 / Math.SQRT2, 1);
  });

  it('flush leaves it fresh: nothing of one piece leaks into the next', () => {
    const enc = new FrameEncoder();
    enc.push(tone(300, 24000, 30), 24000);
    enc.flush();
    const silence = [...enc.push(new Float32Array(2400), 24000), ...enc.flush()];
    expect(rms(decodeFloat(Uint8Array.from(silence.flatMap((f) => Array.from(f)))))).toBeLessThan(0.001);
  });

  it('writes every outbound message with the streamSid', () => {
    const sent: unknown[] = [];
    const w = new MediaStreamWriter('MZ9', (text) => sent.push(JSON.parse(text)));
    w.media(new Uint8Array(160).fill(0xff));
    w.mark('t1.0');
    w.clear();
    expect(sent).toEqual([
      { event: 'media', streamSid: 'MZ9', media: { payload: Buffer.alloc(160, 0xff).toString('base64') } },
      { event: 'mark', streamSid: 'MZ9', mark: { name: 't1.0' } },
      { event: 'clear', streamSid: 'MZ9' },
    ]);
  });
});

describe('TwiML', () => {
  it('connects a bidirectional stream to wss://<public host>/media with call data as <Parameter>s, no <Say>', () => {
    const xml = streamTwiml({ streamUrl: mediaStreamUrl('https://abc.ngrok.app/'), parameters: { from: '+1555', to: '+1666', direction: 'inbound', empty: '' } });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://abc.ngrok.app/media">' +
        '<Parameter name="from" value="+1555"/><Parameter name="to" value="+1666"/><Parameter name="direction" value="inbound"/></Stream></Connect></Response>',
    );
    expect(xml).not.toMatch(/<Say|<Play/);
  });

  it('keeps a path prefix, drops queries, and refuses a query string in the stream URL', () => {
    expect(mediaStreamUrl('https://example.com/parley?x=1')).toBe('wss://example.com/parley/media');
    expect(mediaStreamUrl('http://127.0.0.1:3000')).toBe('ws://127.0.0.1:3000/media');
    expect(() => streamTwiml({ streamUrl: 'wss://a/media?token=1', parameters: {} })).toThrow(/query string/);
  });
});
