/**
 * Every `/calls` route: list the live calls, dial out, hang up, interrupt the agent, whisper to it, approve or deny an ask-first tool. They all read the one
 * call registry (through the core's call controls). Shapes are documented in docs/api.md.
 */
import type { LiveCall } from '../../shared/calls.ts';
import { ParleyError } from '../errors.ts';
import type { Route } from './router.ts';

export interface CallRouteDeps {
  liveCalls(): LiveCall[];
  dial(input: DialInput): Promise<{ callSid: string }>;
  hangup(callSid: string): Promise<void>;
  interrupt(callSid: string): void;
  /** A private note for the agent's next reply (never spoken); the turn it is for. */
  whisper?(callSid: string, text: string): { turnId: number };
  /** The desk's decision on an ask-first tool that waits (tools/approvals.ts). */
  approve?(callSid: string, approvalId: string, approve: boolean): { state: string };
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

/** `{ decision: "approve" | "deny" }`: the desk's answer to an ask-first tool. */
export function approvalDecision(body: unknown): boolean {
  const usage = 'send a JSON object: { "decision": "approve" } or { "decision": "deny" }';
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ParleyError('BAD_REQUEST', usage);
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (key !== 'decision') throw new ParleyError('BAD_REQUEST', `unknown field "${key}": POST /calls/:callSid/approvals/:approvalId takes "decision"`);
  if (b.decision !== 'approve' && b.decision !== 'deny') throw new ParleyError('BAD_REQUEST', `"decision" must be "approve" or "deny" (got ${JSON.stringify(b.decision ?? null)}): ${usage}`);
  return b.decision === 'approve';
}

/** What POST /calls places: to whom, optionally from which number and as which persona (by name). */
export interface DialInput {
  to: string;
  from?: string;
  persona?: string;
}

/** `{ to, from?, persona? }`, nothing else, strings only: a typo in a field name is an error, not a silent default. */
function dialBody(body: unknown): DialInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ParleyError('BAD_REQUEST', 'send a JSON object: { "to": "+15551234567" } (optionally "from" and "persona")');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (key !== 'to' && key !== 'from' && key !== 'persona') throw new ParleyError('BAD_REQUEST', `unknown field "${key}": POST /calls takes "to" and optionally "from" and "persona"`);
  if (b.to === undefined) throw new ParleyError('BAD_REQUEST', '"to" is required: the number to call in E.164 form, e.g. "+15551234567"');
  if (typeof b.to !== 'string') throw new ParleyError('BAD_REQUEST', '"to" must be a string like "+15551234567" (a JSON number loses the +)');
  if (b.from !== undefined && typeof b.from !== 'string') throw new ParleyError('BAD_REQUEST', '"from" must be a string like "+15551234567"');
  if (b.persona !== undefined && (typeof b.persona !== 'string' || b.persona.length > 200)) throw new ParleyError('BAD_REQUEST', '"persona" must be the name of a persona (GET /settings/personas lists them), e.g. "Default"');
  return { to: b.to, ...(b.from !== undefined ? { from: b.from as string } : {}), ...(b.persona !== undefined ? { persona: b.persona as string } : {}) };
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
    {
      method: 'POST',
      path: '/calls/:callSid/approvals/:approvalId',
      access: 'control',
      handler: ({ params, body }) => {
        if (!deps.approve) throw new ParleyError('INTERNAL', 'approvals are not wired into this server');
        const approve = approvalDecision(body);
        const { state } = deps.approve(params.callSid!, params.approvalId!, approve);
        return { ok: true, callSid: params.callSid, approvalId: params.approvalId, state };
      },
    },
  ];
}
