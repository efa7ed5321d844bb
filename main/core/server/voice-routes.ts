/**
 * The Twilio webhooks (`/voice/*`): the incoming-call webhook answers with `<Connect><Stream>` TwiML, and
 * status callbacks become call statuses in the call registry. Both are `twilio` access: signed by Twilio.
 * docs/api.md documents them.
 */
import { ParleyError } from '../errors.ts';
import type { CallStatus, CallStatusUpdate } from '../event-bus.ts';
import { requestBaseUrl } from '../twilio/signature.ts';
import { callDirection, mediaStreamUrl, streamTwiml } from '../twilio/twiml.ts';
import { AMD_CALLBACK_PATH } from '../twilio/amd.ts';
import { TRANSFER_RESULT_PATH } from '../twilio/transfer.ts';
import { sendText, type Route } from './router.ts';

export interface VoiceRouteDeps {
  /** The public base URL Twilio uses to reach us ('' = derive from the request). */
  publicUrl(): string;
  statusCallback(status: CallStatusUpdate): void;
  /** This (authorized) webhook announced the call: its media stream may start, once (CallRegistry.announce). */
  announce(callSid: string): void;
  /** `<Dial action>` after a transfer: the TwiML that comes next (calls/call-features.ts). */
  transferResult?(form: Record<string, string>): string;
  /** The AsyncAmdStatusCallback of an outbound call (calls/call-features.ts). */
  answeredBy?(form: Record<string, string>): unknown;
}

const STATUSES: readonly CallStatus[] = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'];

function form(body: unknown): Record<string, string> {
  if (!body || typeof body !== 'object') throw new ParleyError('BAD_REQUEST', 'Twilio webhooks are application/x-www-form-urlencoded; this request had no form body');
  return body as Record<string, string>;
}

export function voiceRoutes(deps: VoiceRouteDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/voice/incoming',
      access: 'twilio',
      handler: ({ req, res, body }) => {
        const f = form(body);
        if (f.CallSid) deps.announce(f.CallSid);
        // The call's status as of this webhook (ringing inbound, in-progress when an outbound call is answered).
        if (f.CallSid && STATUSES.includes(f.CallStatus as CallStatus)) {
          deps.statusCallback({ callSid: f.CallSid, status: f.CallStatus as CallStatus, direction: callDirection(f.Direction), from: f.From ?? null, to: f.To ?? null });
        }
        const base = deps.publicUrl() || requestBaseUrl(req);
        const twiml = streamTwiml({
          streamUrl: mediaStreamUrl(base),
          parameters: { callSid: f.CallSid, from: f.From, to: f.To, direction: callDirection(f.Direction), callerName: f.CallerName },
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
          direction: callDirection(f.Direction),
          from: f.From ?? null,
          to: f.To ?? null,
          ...(f.CallDuration ? { durationSec: Number(f.CallDuration) } : {}),
          ...(f.ErrorCode ? { errorCode: f.ErrorCode } : {}),
        });
        return { ok: true };
      },
    },
    {
      method: 'POST',
      path: TRANSFER_RESULT_PATH,
      access: 'twilio',
      handler: ({ res, body }) => {
        if (!deps.transferResult) throw new ParleyError('NOT_CONFIGURED', 'transfers are not handled here');
        sendText(res, 200, deps.transferResult(form(body)), 'text/xml; charset=utf-8');
      },
    },
    {
      method: 'POST',
      path: AMD_CALLBACK_PATH,
      access: 'twilio',
      handler: ({ body }) => {
        if (!deps.answeredBy) throw new ParleyError('NOT_CONFIGURED', 'answering-machine results are not handled here');
        return deps.answeredBy(form(body));
      },
    },
  ];
}
