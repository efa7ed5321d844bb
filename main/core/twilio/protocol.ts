/**
 * The Twilio Media Streams WebSocket protocol (bidirectional `<Connect><Stream>`), as documented at
 * https://www.twilio.com/docs/voice/media-streams/websocket-messages. Inbound messages are parsed strictly
 * into typed values; anything else is a ProtocolError that names what was wrong. Outbound we only ever send
 * `media` (raw 8 kHz μ-law, base64, no header), `mark` and `clear`, always with the call's streamSid.
 */
import { ParleyError } from '../errors.ts';

export interface MediaFormat {
  encoding: string;
  sampleRate: number;
  channels: number;
}

export interface StartMessage {
  event: 'start';
  sequenceNumber: number | null;
  streamSid: string;
  start: {
    accountSid: string;
    streamSid: string;
    callSid: string;
    tracks: string[];
    customParameters: Record<string, string>;
    mediaFormat: MediaFormat;
  };
}

export type InboundMessage =
  | { event: 'connected'; protocol: string; version: string }
  | StartMessage
  | {
      event: 'media';
      sequenceNumber: number | null;
      streamSid: string;
      media: { track: string; chunk: number | null; timestamp: number | null; payload: string };
    }
  | { event: 'dtmf'; sequenceNumber: number | null; streamSid: string; dtmf: { track: string; digit: string } }
  | { event: 'mark'; sequenceNumber: number | null; streamSid: string; mark: { name: string } }
  | { event: 'stop'; sequenceNumber: number | null; streamSid: string; stop: { accountSid: string; callSid: string } };

export type InboundEvent = InboundMessage['event'];

/** Largest text frame we accept. A 20 ms frame is ~300 bytes of JSON; 64 KiB leaves room for big `start`s. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

function bad(message: string): never {
  throw new ParleyError('PROTOCOL_ERROR', message);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`"${what}" must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') bad(`"${what}" must be a string`);
  return v;
}

/** Twilio sends numbers as strings ("sequenceNumber": "3"). */
function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function stringRecord(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = obj(v, 'start.customParameters');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) out[k] = typeof val === 'string' ? val : String(val);
  return out;
}

/** Parse one text frame from Twilio. Throws PROTOCOL_ERROR with a reason a developer can act on. */
export function parseInbound(text: string): InboundMessage {
  if (text.length > MAX_MESSAGE_BYTES) bad(`message of ${text.length} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte limit`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    bad(`not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  const m = obj(raw, 'message');
  const event = m.event;
  switch (event) {
    case 'connected':
      return { event, protocol: typeof m.protocol === 'string' ? m.protocol : 'Call', version: typeof m.version === 'string' ? m.version : '' };
    case 'start': {
      const s = obj(m.start, 'start');
      const f = obj(s.mediaFormat, 'start.mediaFormat');
      const streamSid = str(s.streamSid ?? m.streamSid, 'start.streamSid');
      return {
        event,
        sequenceNumber: num(m.sequenceNumber),
        streamSid,
        start: {
          accountSid: typeof s.accountSid === 'string' ? s.accountSid : '',
          streamSid,
          callSid: str(s.callSid, 'start.callSid'),
          tracks: Array.isArray(s.tracks) ? s.tracks.map(String) : ['inbound'],
          customParameters: stringRecord(s.customParameters),
          mediaFormat: {
            encoding: str(f.encoding, 'start.mediaFormat.encoding'),
            sampleRate: num(f.sampleRate) ?? bad('"start.mediaFormat.sampleRate" must be a number'),
            channels: num(f.channels) ?? 1,
          },
        },
      };
    }
    case 'media': {
      const media = obj(m.media, 'media');
      return {
        event,
        sequenceNumber: num(m.sequenceNumber),
        streamSid: str(m.streamSid, 'streamSid'),
        media: {
          track: typeof media.track === 'string' ? media.track : 'inbound',
          chunk: num(media.chunk),
          timestamp: num(media.timestamp),
          payload: str(media.payload, 'media.payload'),
        },
      };
    }
    case 'dtmf': {
      const d = obj(m.dtmf, 'dtmf');
      const digit = str(d.digit, 'dtmf.digit');
      if (!/^[0-9*#A-D]$/.test(digit)) bad(`"dtmf.digit" must be one of 0-9 * # A-D (got ${JSON.stringify(digit)})`);
      return { event, sequenceNumber: num(m.sequenceNumber), streamSid: str(m.streamSid, 'streamSid'), dtmf: { track: typeof d.track === 'string' ? d.track : 'inbound_track', digit } };
    }
    case 'mark': {
      const mk = obj(m.mark, 'mark');
      return { event, sequenceNumber: num(m.sequenceNumber), streamSid: str(m.streamSid, 'streamSid'), mark: { name: str(mk.name, 'mark.name') } };
    }
    case 'stop': {
      const st = m.stop === undefined ? {} : obj(m.stop, 'stop');
      return {
        event,
        sequenceNumber: num(m.sequenceNumber),
        streamSid: str(m.streamSid, 'streamSid'),
        stop: { accountSid: typeof st.accountSid === 'string' ? st.accountSid : '', callSid: typeof st.callSid === 'string' ? st.callSid : '' },
      };
    }
    default:
      bad(`unknown event ${JSON.stringify(event)} (expected connected, start, media, dtmf, mark or stop)`);
  }
}

/** The only format a `<Connect><Stream>` carries. Anything else is refused with this reason. */
export function checkMediaFormat(f: MediaFormat): string | null {
  if (f.encoding !== 'audio/x-mulaw' || f.sampleRate !== 8000 || f.channels !== 1) {
    return `unsupported media format ${f.encoding} ${f.sampleRate} Hz ${f.channels} ch: Parley speaks only audio/x-mulaw 8000 Hz mono, which is what Twilio's <Connect><Stream> sends`;
  }
  return null;
}

/** μ-law base64 payload → bytes, refusing anything that is not base64 or not a sane frame size. */
export function decodePayload(payload: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) bad('"media.payload" is not base64');
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length > 8000) bad(`media payload of ${bytes.length} bytes is over one second of audio`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function mediaMessage(streamSid: string, mulaw: Uint8Array): string {
  return JSON.stringify({ event: 'media', streamSid, media: { payload: Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength).toString('base64') } });
}

export function markMessage(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

export function clearMessage(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}
