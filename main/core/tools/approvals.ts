/**
 * "Ask first" tools (`--ask-first`, default transfer_call and send_sms): before such a tool runs, the person at
 * the desk gets a `call.approval` event (`pending`, with a deadline) and decides — Approve in the GUI, or
 * `POST /calls/:callSid/approvals/:approvalId`. No decision by the deadline counts as denied, and so does a
 * barge-in or the call's end while waiting. One desk per core; each approval belongs to one call, and one
 * call's approvals never touch another's.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULTS } from '../config-schema.ts';
import { ParleyError } from '../errors.ts';
import type { CoreEvents } from '../event-bus.ts';
import type { ToolCallContext, ToolSpec } from '../plugins/api.ts';

export type ApprovalState = 'approved' | 'denied' | 'timed-out';

export interface ApprovalOutcome {
  state: ApprovalState;
  /** Denied because the caller interrupted or the call ended, not by the desk. */
  cancelled?: boolean;
}

export interface ApprovalRequest {
  callSid: string;
  turnId: number;
  toolCallId: string;
  tool: string;
  arguments: Record<string, unknown>;
  /** Who the tool would reach, when known (shown at the desk). */
  to?: string;
  timeoutMs: number;
  /** The reply's signal: a barge-in or the call's end cancels the wait. */
  signal: AbortSignal;
}

/** Decided approvals remembered (for a clear 409 on a second decision), per core. */
const MAX_DECIDED = 500;

const names = (setting: string) =>
  setting
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Does this tool wait for the desk? `--ask-first` names tools or tool plugins; `none` = never. The default
 * setting also asks for tools whose plugin says `askFirst: true`; a setting given explicitly wins over the plugin.
 */
export function asksFirst(setting: string, spec: Pick<ToolSpec, 'name' | 'askFirst'>, plugin: string): boolean {
  const list = names(setting);
  if (list.length === 1 && list[0]!.toLowerCase() === 'none') return false;
  if (list.includes(spec.name) || list.includes(plugin)) return true;
  const isDefault = list.join(',') === names(DEFAULTS.askFirst).join(',');
  return (isDefault || list.length === 0) && spec.askFirst === true;
}

/** Who a tool would reach, for the desk's card: the transfer number, or the number a text goes to. */
export function approvalTarget(tool: string, args: Record<string, unknown>, call: ToolCallContext, transferNumber: string): string | undefined {
  if (tool === 'transfer_call') return transferNumber || undefined;
  if (tool === 'send_sms') {
    if (typeof args.to === 'string' && args.to.trim()) return args.to.trim().slice(0, 40);
    return (call.direction === 'outbound' ? call.to : call.from) ?? undefined;
  }
  return undefined;
}

/** What the LLM is told when an ask-first tool did not run, so it can tell the caller. */
export function declinedResult(tool: string, outcome: ApprovalOutcome): string {
  if (outcome.cancelled) return `Not done: ${tool} needs the approval of the person at the desk, and the caller interrupted (or the call ended) before they decided. It was not run.`;
  if (outcome.state === 'timed-out') return `Not done: ${tool} needs the approval of the person at the desk, and nobody answered in time, so it was not run. Tell the caller you could not do it right now.`;
  return `Not done: the person at the desk declined ${tool}, so it was not run. Tell the caller you could not do it, and offer something else.`;
}

interface Pending {
  callSid: string;
  settle(outcome: ApprovalOutcome): void;
}

export class ApprovalDesk {
  readonly #events: CoreEvents;
  /** Is the call live (for a 404 that says "no such call" rather than "no such approval")? */
  readonly #isLive: (callSid: string) => boolean;
  readonly #pending = new Map<string, Pending>();
  readonly #decided = new Map<string, { callSid: string; state: ApprovalState }>();

  constructor(options: { events: CoreEvents; isLive?: (callSid: string) => boolean }) {
    this.#events = options.events;
    this.#isLive = options.isLive ?? (() => false);
  }

  /** Ask the desk; resolves with the decision (never rejects). Emits `call.approval` pending, then the outcome. */
  ask(req: ApprovalRequest): Promise<ApprovalOutcome> {
    const approvalId = `ap_${randomBytes(8).toString('hex')}`;
    const base = {
      type: 'call.approval' as const,
      callSid: req.callSid,
      approvalId,
      turnId: req.turnId,
      toolCallId: req.toolCallId,
      tool: req.tool,
      arguments: req.arguments,
      ...(req.to ? { to: req.to } : {}),
    };
    if (req.signal.aborted) return Promise.resolve({ state: 'denied', cancelled: true });
    return new Promise<ApprovalOutcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => settle({ state: 'denied', cancelled: true });
      const settle = (outcome: ApprovalOutcome) => {
        if (!this.#pending.delete(approvalId)) return;
        clearTimeout(timer);
        req.signal.removeEventListener('abort', onAbort);
        this.#decided.set(approvalId, { callSid: req.callSid, state: outcome.state });
        if (this.#decided.size > MAX_DECIDED) this.#decided.delete(this.#decided.keys().next().value!);
        this.#events.emit({ ...base, state: outcome.state, ...(outcome.cancelled ? { cancelled: true } : {}), at: Date.now() });
        resolve(outcome);
      };
      this.#pending.set(approvalId, { callSid: req.callSid, settle });
      timer = setTimeout(() => settle({ state: 'timed-out' }), req.timeoutMs);
      req.signal.addEventListener('abort', onAbort, { once: true });
      const at = Date.now();
      this.#events.emit({ ...base, state: 'pending', deadline: at + req.timeoutMs, at });
    });
  }

  /** The desk's decision. CALL_NOT_FOUND / APPROVAL_NOT_FOUND (404), APPROVAL_DECIDED (409) when already settled. */
  decide(callSid: string, approvalId: string, approve: boolean): { state: ApprovalState } {
    const pending = this.#pending.get(approvalId);
    if (pending && pending.callSid === callSid) {
      const state: ApprovalState = approve ? 'approved' : 'denied';
      pending.settle({ state });
      return { state };
    }
    const decided = this.#decided.get(approvalId);
    if (decided && decided.callSid === callSid) {
      throw new ParleyError('APPROVAL_DECIDED', `approval ${approvalId} is already ${decided.state}: a decision can be made once, while the tool waits.`, { details: { state: decided.state } });
    }
    if (!this.#isLive(callSid) && ![...this.#pending.values()].some((p) => p.callSid === callSid)) {
      throw new ParleyError('CALL_NOT_FOUND', `no live call ${callSid}: GET /calls lists the calls going on.`);
    }
    throw new ParleyError('APPROVAL_NOT_FOUND', `call ${callSid} has no approval ${approvalId}: the ids come in call.approval events (state "pending").`);
  }
}
