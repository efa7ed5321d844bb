/**
 * Every `/calls` route: list the live calls, dial out, hang up, interrupt the agent, whisper to it. They all read the one
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
  /** A private note for the agent's next reply (never spoken); the turn it is for. */
  whisper?(callSid: string, text: string): { turnId: number };
  /** Calls being served and how many may be (PARLEY_MAX_CALLS): a dial with every line busy is refused. */
  lines?(): { inUse: number; capacity: number };
}

/** Longest whisper note, in characters: an instruction, not a document. */
export const MAX_WHISPER_CHARS = 1000;

/** `{ text }`: the note, 1..MAX_WHISPER_CHARS characters. */
export function whisperText(body: unknown): string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ParleyError('BAD_REQUEST', 'send a JSON object: { "text": "offer Tuesday instead" }');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (key !== 'text') throw new ParleyError('BAD_REQUEST', `unknown field "${key}": POST /calls/:callSid/whisper takes "text"`);
  if (typeof b.text !== 'string' || !b.text.trim()) throw new ParleyError('BAD_REQUEST', '"text" must be the note for the agent, e.g. "offer Tuesday instead"');
  if (b.text.length > MAX_WHISPER_CHARS) throw new ParleyError('BAD_REQUEST', `"text" is ${b.text.length} characters; a whisper note is at most ${MAX_WHISPER_CHARS}`);
  return b.text.trim();
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
    {
      method: 'POST',
      path: '/calls',
      access: 'control',
      handler: ({ body }) => {
        const input = dialBody(body);
        const lines = deps.lines?.();
        // Dialling now would only reach the busy notice: say so to whoever asked, and place no call.
        if (lines && lines.inUse >= lines.capacity) {
          throw new ParleyError(
            'LINES_BUSY',
            `all ${lines.capacity} line${lines.capacity === 1 ? ' is' : 's are'} busy (${lines.inUse} call${lines.inUse === 1 ? '' : 's'} in progress): no call was placed. Try again when a call ends, or raise --max-calls / PARLEY_MAX_CALLS if this machine can carry more (see docs/scaling.md).`,
            { details: { inUse: lines.inUse, capacity: lines.capacity } },
          );
        }
        return deps.dial(input);
      },
    },
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
    {
      method: 'POST',
      path: '/calls/:callSid/whisper',
      access: 'control',
      handler: ({ params, body }) => {
        if (!deps.whisper) throw new ParleyError('INTERNAL', 'whispering is not wired into this server');
        const { turnId } = deps.whisper(params.callSid!, whisperText(body));
        return { ok: true, callSid: params.callSid, turnId };
      },
    },
  ];
}
