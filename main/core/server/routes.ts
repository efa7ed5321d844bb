/**
 * HTTP routes. Twilio webhooks (`/voice/*`) answer with TwiML and turn status callbacks into call events; the
 * control API (`/calls…`) drives live calls. docs/api.md documents every route.
 */
import type { IncomingMessage } from 'node:http';
import { ParleyError } from '../errors.ts';
import type { CallDirection, CallStatus, CallStatusUpdate } from '../events.ts';
import { mediaStreamUrl, streamTwiml } from '../twilio/twiml.ts';
import { sendText, type Route } from './router.ts';

export interface RouteDeps {
  /** The public base URL Twilio uses to reach us ('' = derive from the request). */
  publicUrl(): string;
  statusCallback(status: CallStatusUpdate): void;
  interrupt(callSid: string): void;
  /** Subscribe to core events (audio excluded) for the /events stream; returns the unsubscribe function. */
  subscribe(listener: (event: { type: string; callSid?: string | null }) => void): () => void;
  health(): Record<string, unknown>;
  liveCalls(): unknown[];
}

const STATUSES: readonly CallStatus[] = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'];

/** The base URL this request was addressed to, honouring a reverse proxy's forwarded headers. */
export function requestBaseUrl(req: IncomingMessage): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const proto = first(req.headers['x-forwarded-proto']) ?? ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  return `${proto}://${host}`;
}

export function direction(twilioDirection: unknown): CallDirection {
  return typeof twilioDirection === 'string' && twilioDirection.startsWith('outbound') ? 'outbound' : 'inbound';
}

function form(body: unknown): Record<string, string> {
  if (!body || typeof body !== 'object') throw new ParleyError('BAD_REQUEST', 'Twilio webhooks are application/x-www-form-urlencoded; this request had no form body');
  return body as Record<string, string>;
}

export function voiceRoutes(deps: RouteDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/voice/incoming',
      access: 'twilio',
      handler: ({ req, res, body }) => {
        const f = form(body);
        // The call's status as of this webhook (ringing inbound, in-progress when an outbound call is answered).
        if (f.CallSid && STATUSES.includes(f.CallStatus as CallStatus)) {
          deps.statusCallback({ callSid: f.CallSid, status: f.CallStatus as CallStatus, direction: direction(f.Direction), from: f.From ?? null, to: f.To ?? null });
        }
        const base = deps.publicUrl() || requestBaseUrl(req);
        const twiml = streamTwiml({
          streamUrl: mediaStreamUrl(base),
          parameters: { callSid: f.CallSid, from: f.From, to: f.To, direction: direction(f.Direction), callerName: f.CallerName },
        });
        sendText(res, 200, twiml, 'text/xml; charset=utf-8');
      },
    },
    {
      method: 'POST',
      path: '/voice/status',
      access: 'twilio',
      handler: ({ body }) => {
        const f = form(body);
        if (!f.CallSid) throw new ParleyError('BAD_REQUEST', 'status callback without CallSid');
        const status = f.CallStatus as CallStatus;
        if (!STATUSES.includes(status)) throw new ParleyError('BAD_REQUEST', `unknown CallStatus ${JSON.stringify(f.CallStatus)}`);
        deps.statusCallback({
          callSid: f.CallSid,
          status,
          direction: direction(f.Direction),
          from: f.From ?? null,
          to: f.To ?? null,
          ...(f.CallDuration ? { durationSec: Number(f.CallDuration) } : {}),
          ...(f.ErrorCode ? { errorCode: f.ErrorCode } : {}),
        });
        return { ok: true };
      },
    },
  ];
}

export function controlRoutes(deps: RouteDeps): Route[] {
  return [
    { method: 'GET', path: '/health', access: 'public', handler: () => deps.health() },
    { method: 'GET', path: '/calls', access: 'control', handler: () => ({ calls: deps.liveCalls() }) },
    {
      method: 'GET',
      path: '/events',
      access: 'control',
      // Server-sent events: one JSON CoreEvent per message; ?callSid= filters to one call.
      handler: ({ req, res, url }) => {
        const only = url.searchParams.get('callSid');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(': parley events\n\n');
        const unsubscribe = deps.subscribe((event) => {
          if (only && event.callSid !== only) return;
          res.write(`data: ${JSON.stringify(event)}\n\n`);
        });
        const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
        req.on('close', () => {
          clearInterval(ping);
          unsubscribe();
        });
      },
    },
    {
      method: 'POST',
      path: '/calls/:callSid/interrupt',
      access: 'control',
      handler: ({ params }) => {
        deps.interrupt(params.callSid!);
        return { ok: true, callSid: params.callSid };
      },
    },
  ];
}
