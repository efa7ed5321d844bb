/**
 * TwiML built with the official `twilio` package. Inbound calls get `<Connect><Stream>` (bidirectional); the
 * greeting is spoken by the engine over the stream so the caller can interrupt it — never `<Say>`.
 */
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import type { CallDirection } from '../event-bus.ts';

/** Twilio's `Direction` (inbound, outbound-api, outbound-dial) as Parley's two directions. */
export function callDirection(twilioDirection: unknown): CallDirection {
  return typeof twilioDirection === 'string' && twilioDirection.startsWith('outbound') ? 'outbound' : 'inbound';
}

export interface StreamTwimlOptions {
  /** wss://host/media — no query string (Twilio rejects it); data goes in parameters. */
  streamUrl: string;
  parameters: Record<string, string | undefined>;
  /** Called by Twilio with stream lifecycle events (optional). */
  statusCallback?: string;
}

export function streamTwiml(options: StreamTwimlOptions): string {
  const url = new URL(options.streamUrl);
  if (url.search) throw new Error(`<Stream> URL must not carry a query string (got ${options.streamUrl})`);
  const response = new VoiceResponse();
  const connect = response.connect();
  const stream = connect.stream({
    url: options.streamUrl,
    ...(options.statusCallback ? { statusCallback: options.statusCallback, statusCallbackMethod: 'POST' } : {}),
  });
  for (const [name, value] of Object.entries(options.parameters)) {
    if (value !== undefined && value !== '') stream.parameter({ name, value });
  }
  return response.toString();
}

/** A polite refusal when the app can't take the call (e.g. not configured); ends the call. */
export function rejectTwiml(message: string): string {
  const response = new VoiceResponse();
  response.say(message);
  response.hangup();
  return response.toString();
}

/** `https://host` (public base) → `wss://host/media`. */
export function mediaStreamUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  u.protocol = u.protocol === 'http:' ? 'ws:' : 'wss:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/media';
  u.search = '';
  u.hash = '';
  return u.toString();
}
