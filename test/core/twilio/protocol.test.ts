import { describe, expect, it } from 'vitest';
import { checkMediaFormat, clearMessage, decodePayload, markMessage, mediaMessage, parseInbound } from '../../../main/core/twilio/protocol.ts';
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
