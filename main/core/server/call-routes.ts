/**
 * Every `/calls` route: list the live calls, dial out, hang up, interrupt the agent. They all read the one
 * call registry (through the core's call controls). Shapes are documented in docs/api.md.
 */
import type { LiveCall } from '../../shared/calls.ts';
import { ParleyError } from '../errors.ts';
import type { Route } from './router.ts';

export interface CallRouteDeps {
  liveCalls(): LiveCall[];
  dial(input: { to: string; from?: string }): Promise<{ callSid: string }>;
  hangup(callSid: string): Promise<void>;
  interrupt(callSid: string): void;
}

/** `{ to, from? }`, nothing else, strings only: a typo in a field name is an error, not a silent default. */
function dialBody(body: unknown): { to: string; from?: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ParleyError('BAD_REQUEST', 'send a JSON object: { "to": "+15551234567" } (optionally "from")');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (key !== 'to' && key !== 'from') throw new ParleyError('BAD_REQUEST', `unknown field "${key}": POST /calls takes "to" and optionally "from"`);
  if (b.to === undefined) throw new ParleyError('BAD_REQUEST', '"to" is required: the number to call in E.164 form, e.g. "+15551234567"');
  if (typeof b.to !== 'string') throw new ParleyError('BAD_REQUEST', '"to" must be a string like "+15551234567" (a JSON number loses the +)');
  if (b.from !== undefined && typeof b.from !== 'string') throw new ParleyError('BAD_REQUEST', '"from" must be a string like "+15551234567"');
  return { to: b.to, ...(b.from !== undefined ? { from: b.from as string } : {}) };
}

export function callRoutes(deps: CallRouteDeps): Route[] {
  return [
    { method: 'GET', path: '/calls', access: 'control', handler: () => ({ calls: deps.liveCalls() }) },
    { method: 'POST', path: '/calls', access: 'control', handler: ({ body }) => deps.dial(dialBody(body)) },
    {
      method: 'POST',
      path: '/calls/:callSid/hangup',
      access: 'control',
      handler: async ({ params }) => {
        const sid = params.callSid!;
        // Simulated calls have made-up SIDs; only refuse what can't be a call id at all.
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(sid)) throw new ParleyError('BAD_REQUEST', `"${sid}" is not a call SID (Twilio's look like CA followed by 32 hex characters)`);
        await deps.hangup(sid);
        return { ok: true, callSid: sid };
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
