/**
 * The one owner of the Twilio Media Streams wire format (bidirectional `<Connect><Stream>`), as documented at
 * https://www.twilio.com/docs/voice/media-streams/websocket-messages. Nothing else in Parley knows its JSON,
 * base64 or μ-law:
 *
 * - In: `MediaStreamReader` parses each text frame strictly into a typed event; `media` events carry the
 *   caller's audio as 16 kHz float samples (and the raw μ-law bytes, for the recorder's tap). Anything else is
 *   a PROTOCOL_ERROR that names what was wrong.
 * - Out: `FrameEncoder` turns PCM at any rate into 20 ms μ-law frames; `MediaStreamWriter` sends them as
 *   `media` messages, plus `mark` and `clear`, always with the call's streamSid. The playout writes to it.
 */
import { FrameAssembler, SAMPLE_RATE } from '../audio/frames.ts';
import { decodeFloat, encodeFloat } from '../audio/mulaw.ts';
import { Resampler } from '../audio/resample.ts';
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

/** The rate of the audio Parley's hearing works on (VAD, turn detection, STT). */
export const INBOUND_RATE = 16000;

/** One inbound media frame, decoded: what the engine hears, and the bytes as Twilio sent them. */
export interface InboundAudio {
  /** The caller's audio at INBOUND_RATE (16 kHz), float in [-1, 1]. */
  samples: Float32Array;
  /** The frame's 8 kHz μ-law bytes (for recordings and live listening). */
  mulaw: Uint8Array;
  /** Twilio's media.timestamp (ms since the stream started), when sent. */
  timestampMs: number | null;
}

/** An inbound message with the media payload decoded; other events are as parsed. */
export type StreamEvent =
  | Exclude<InboundMessage, { event: 'media' }>
  | { event: 'media'; sequenceNumber: number | null; streamSid: string; track: string; audio: InboundAudio | null };

/**
 * Reads one socket's inbound text frames. Keeps the upsampler's state, so one instance per stream; it decodes
 * only the audio of the stream its first `start` announced.
 */
export class MediaStreamReader {
  readonly #upsampler = new Resampler(SAMPLE_RATE, INBOUND_RATE);
  #streamSid: string | null = null;

  /**
   * Parse and validate one text frame. `media` of this stream's inbound track gets its payload decoded to
   * 16 kHz audio; media before `start`, of another stream or of another track (Twilio sends none on
   * `<Connect><Stream>`) has `audio: null`. Throws PROTOCOL_ERROR.
   */
  read(text: string): StreamEvent {
    const msg = parseInbound(text);
    if (msg.event === 'start') this.#streamSid ??= msg.streamSid;
    if (msg.event !== 'media') return msg;
    const { track, payload, timestamp } = msg.media;
    const base = { event: 'media' as const, sequenceNumber: msg.sequenceNumber, streamSid: msg.streamSid, track };
    if (msg.streamSid !== this.#streamSid || (track !== 'inbound' && track !== 'inbound_track')) return { ...base, audio: null };
    const mulaw = decodePayload(payload);
    return { ...base, audio: { samples: this.#upsampler.process(decodeFloat(mulaw)), mulaw, timestampMs: timestamp } };
  }
}

/** One 20 ms outbound frame, ready for the wire (160 bytes of 8 kHz μ-law). Opaque to everyone but this module. */
export type OutboundFrame = Uint8Array;

/**
 * PCM at any rate → 20 ms outbound frames. One per utterance piece: `flush` ends it (the filter tail and the
 * last partial frame, padded with silence) and leaves the encoder fresh, so an interrupted reply's tail never
 * leaks into the next one.
 */
export class FrameEncoder {
  #assembler = new FrameAssembler();
  #resampler: Resampler | null = null;

  push(samples: Float32Array, sampleRate: number): OutboundFrame[] {
    const frames: OutboundFrame[] = [];
    if (!this.#resampler || this.#resampler.inRate !== sampleRate) {
      if (this.#resampler) frames.push(...this.#assembler.push(encodeFloat(this.#resampler.flush())));
      this.#resampler = new Resampler(sampleRate, SAMPLE_RATE);
    }
    frames.push(...this.#assembler.push(encodeFloat(this.#resampler.process(samples))));
    return frames;
  }

  flush(): OutboundFrame[] {
    const frames = this.#resampler ? this.#assembler.push(encodeFloat(this.#resampler.flush())) : [];
    const last = this.#assembler.flush();
    if (last) frames.push(last);
    this.reset();
    return frames;
  }

  /** Forget everything pending (interrupted). */
  reset(): void {
    this.#assembler = new FrameAssembler();
    this.#resampler = null;
  }
}

/** What the playout writes to: the outbound half of one stream. */
export interface StreamWriter {
  media(frame: OutboundFrame): void;
  mark(name: string): void;
  clear(): void;
}

/** Sends one stream's outbound messages as Twilio JSON text frames, always with its streamSid. */
export class MediaStreamWriter implements StreamWriter {
  readonly #streamSid: string;
  readonly #send: (text: string) => void;

  constructor(streamSid: string, send: (text: string) => void) {
    this.#streamSid = streamSid;
    this.#send = send;
  }

  media(frame: OutboundFrame): void {
    this.#send(mediaMessage(this.#streamSid, frame));
  }

  mark(name: string): void {
    this.#send(markMessage(this.#streamSid, name));
  }

  clear(): void {
    this.#send(clearMessage(this.#streamSid));
  }
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
