/**
 * One call's tools: the tool plugins it leased, the tools offered to its LLM (`--tools`), and running one tool
 * call — arguments checked against the tool's schema, a timeout and the reply's abort signal, the result
 * turned into text for the LLM and its host actions carried out (actions.ts). A tool that throws, hangs or
 * returns garbage gives the LLM an error result, never a dead call. Every call is a `call.tool` event (the
 * live transcript and the records show it as an action between turns).
 */
import { errorMessage } from '../errors.ts';
import type { CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ToolCall, ToolCallContext, ToolSpec } from '../plugins/api.ts';
import type { Lease } from '../plugins/registry.ts';
import { ActionDispatcher, type ActionHost, type ToolAction } from './actions.ts';
import { approvalTarget, asksFirst, declinedResult, type ApprovalDesk } from './approvals.ts';
import { checkArguments } from './schema.ts';

/** A tool still running after this long makes the agent say the filler. */
export const DEFAULT_FILLER_MS = 1_000;
/** Longest text of one tool result sent back to the LLM. */
const MAX_RESULT_CHARS = 4_000;
/** How long a call's first turn waits for a tool plugin that is still starting before going on without it. */
const START_WAIT_MS = 3_000;

export interface CallToolsOptions {
  leases: Lease<'tool'>[];
  /** `--tools`: tool or tool-plugin names, comma-separated; '' = all, `none` = none. */
  selection: string;
  timeoutMs: number;
  /** Said once per reply when a tool takes longer than `fillerMs` ('' = nothing). */
  filler: string;
  fillerMs?: number;
  call: ToolCallContext;
  host: ActionHost;
  events: CoreEvents;
  log: Logger;
  dispatcher?: ActionDispatcher;
  /** "Ask first" tools (approvals.ts): without it, no tool waits for the desk. */
  approvals?: CallApprovals;
}

/** How this call's ask-first tools wait for the desk. */
export interface CallApprovals {
  desk: ApprovalDesk;
  /** `--ask-first`: tool or tool-plugin names; `none` = never. */
  askFirst: string;
  timeoutMs: number;
  /** Said once while waiting ('' = nothing). */
  filler: string;
  /** Shown at the desk for transfer_call (PARLEY_TRANSFER_NUMBER). */
  transferNumber?: string;
}

/** What the tool loop hears of one tool call while it runs. */
export interface ToolRunHooks {
  /** The tool waits for the desk's approval (said once: the approval filler). */
  onAsk?(): void;
}

/** What one tool call came to. */
export interface ToolOutcome {
  /** For the LLM (the `tool` message's content). */
  content: string;
  ok: boolean;
}

/** Is a tool offered under `--tools`? */
export function toolSelected(selection: string, tool: string, plugin: string): boolean {
  const names = selection
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return true;
  if (names.length === 1 && names[0]!.toLowerCase() === 'none') return false;
  return names.includes(tool) || names.includes(plugin);
}

export class CallTools {
  readonly #o: CallToolsOptions;
  readonly #dispatcher: ActionDispatcher;
  #offered: Promise<{ spec: ToolSpec; lease: Lease<'tool'> }[]> | null = null;
  /** Actions to carry out once the reply that follows their tool has been spoken. */
  #afterReply: { action: ToolAction; tool: string }[] = [];

  constructor(options: CallToolsOptions) {
    this.#o = options;
    this.#dispatcher = options.dispatcher ?? new ActionDispatcher();
  }

  get filler(): string {
    return this.#o.filler;
  }

  get fillerMs(): number {
    return this.#o.fillerMs ?? DEFAULT_FILLER_MS;
  }

  /** Said once while an ask-first tool waits for the desk ('' = nothing). */
  get approvalFiller(): string {
    return this.#o.approvals?.filler ?? '';
  }

  /** The tools offered to this call's LLM (empty: the LLM is called exactly as without tools). `askFirst` is the host's business, not the LLM's. */
  async offered(): Promise<ToolSpec[]> {
    return (await this.#tools()).map(({ spec: { askFirst: _, ...spec } }) => spec);
  }

  #tools(): Promise<{ spec: ToolSpec; lease: Lease<'tool'> }[]> {
    this.#offered ??= (async () => {
      const out: { spec: ToolSpec; lease: Lease<'tool'> }[] = [];
      const seen = new Set<string>();
      for (const lease of this.#o.leases) {
        const proxy = lease.instance as unknown as { start?(): Promise<void>; tools?: ToolSpec[] };
        try {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([proxy.start?.(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('still starting')), START_WAIT_MS)))]).finally(() => clearTimeout(timer));
        } catch (err) {
          this.#o.log.warn('a tool plugin is not available for this call', { plugin: lease.name, error: errorMessage(err) });
          continue;
        }
        for (const spec of proxy.tools ?? lease.instance.tools ?? []) {
          if (!toolSelected(this.#o.selection, spec.name, lease.name)) continue;
          if (seen.has(spec.name)) {
            this.#o.log.warn('two tool plugins offer the same tool; the first is used', { tool: spec.name, plugin: lease.name });
            continue;
          }
          seen.add(spec.name);
          out.push({ spec, lease });
        }
      }
      return out;
    })();
    return this.#offered;
  }

  /**
   * Run one tool call for turn `turnId`. `signal` is the reply's: a barge-in aborts the tool. Never throws.
   * A tool that finished before an abort counts as done (its actions were carried out).
   */
  async run(call: ToolCall, turnId: number, signal: AbortSignal, hooks: ToolRunHooks = {}): Promise<ToolOutcome> {
    const { events, call: ctx } = this.#o;
    let started = performance.now();
    const emit = (state: 'running' | 'done' | 'failed' | 'cancelled', extra: { result?: string; error?: string } = {}) =>
      events.emit({
        type: 'call.tool',
        callSid: ctx.callSid,
        turnId,
        toolCallId: call.id,
        name: call.name,
        arguments: call.arguments,
        state,
        ...extra,
        ...(state === 'running' ? {} : { durationMs: Math.round(performance.now() - started) }),
        at: Date.now(),
      });
    const fail = (error: string, state: 'failed' | 'cancelled' = 'failed'): ToolOutcome => {
      emit(state, { error });
      this.#o.log.info(`tool call ${state}`, { tool: call.name, error });
      return { content: `Error: ${error}`, ok: false };
    };
    const tool = (await this.#tools()).find((t) => t.spec.name === call.name);
    if (!tool) return fail(`there is no tool named "${call.name}". Tools: ${(await this.offered()).map((t) => t.name).join(', ') || 'none'}.`);
    const problems = checkArguments(tool.spec.parameters, call.arguments);
    if (problems.length > 0) return fail(`invalid arguments for ${call.name}: ${problems.join('; ')}. Call it again with corrected arguments.`);
    const approvals = this.#o.approvals;
    if (approvals && asksFirst(approvals.askFirst, tool.spec, tool.lease.name)) {
      // Checked arguments, before anything runs: the desk decides; no decision in time is a no.
      hooks.onAsk?.();
      const to = approvalTarget(call.name, call.arguments, ctx, approvals.transferNumber ?? '');
      const outcome = await approvals.desk.ask({ callSid: ctx.callSid, turnId, toolCallId: call.id, tool: call.name, arguments: call.arguments, ...(to ? { to } : {}), timeoutMs: approvals.timeoutMs, signal });
      this.#o.log.info(`ask-first tool ${outcome.cancelled ? 'cancelled' : outcome.state}`, { tool: call.name });
      if (outcome.state !== 'approved' || signal.aborted) return { content: declinedResult(call.name, signal.aborted ? { state: 'denied', cancelled: true } : outcome), ok: false };
      started = performance.now(); // the tool's own time, not the desk's
    }
    emit('running');
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let raw: unknown;
    try {
      raw = await Promise.race([
        tool.lease.instance.call(call.name, call.arguments, { signal: controller.signal, call: ctx }),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            const err = new Error(`${call.name} did not answer within ${this.#o.timeoutMs} ms`);
            controller.abort(err);
            reject(err);
          }, this.#o.timeoutMs);
        }),
      ]);
    } catch (err) {
      if (signal.aborted) return fail('the caller interrupted before it finished; it may not have been done', 'cancelled');
      return fail(`${call.name} failed: ${errorMessage(err)}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    const result = readResult(raw);
    if ('problem' in result) return fail(`${call.name} returned ${result.problem}`);
    const { content, actions } = result;
    const parsed = this.#dispatcher.parse(actions, ctx);
    const notes = [...parsed.problems.map((p) => `(refused: ${p})`)];
    const from = `${tool.lease.name}/${call.name}`;
    for (const { action, when } of parsed.actions) {
      if (when === 'after-reply') {
        this.#afterReply.push({ action, tool: from });
        continue;
      }
      const failed = await this.#dispatcher.run(action, { call: ctx, tool: from, host: this.#o.host, log: this.#o.log });
      if (failed) notes.push(`(${action.type} failed: ${failed})`);
    }
    const text = [content, ...notes].filter(Boolean).join(' ').slice(0, MAX_RESULT_CHARS) || 'Done.';
    emit('done', { result: text });
    this.#o.log.info('tool call done', { tool: call.name, ms: Math.round(performance.now() - started) });
    return { content: text, ok: true };
  }

  /** The reply after the tools has been spoken (or cut off): carry out what was waiting for it (end_call). */
  async replyDone(): Promise<void> {
    const due = this.#afterReply;
    this.#afterReply = [];
    for (const { action, tool } of due) await this.#dispatcher.run(action, { call: this.#o.call, tool, host: this.#o.host, log: this.#o.log });
  }

  release(): void {
    for (const lease of this.#o.leases) lease.release();
  }
}

/** A tool's result for the LLM: a string; `{ content, actions? }`; or any other JSON value (sent as JSON). */
function readResult(raw: unknown): { content: string; actions?: unknown } | { problem: string } {
  if (typeof raw === 'string') return { content: raw };
  if (raw === undefined || raw === null) return { problem: `nothing (${raw === null ? 'null' : 'undefined'}); a tool must resolve to a string or { content }` };
  if (typeof raw === 'object' && !Array.isArray(raw) && ('content' in raw || 'actions' in raw)) {
    const r = raw as { content?: unknown; actions?: unknown };
    if (r.content !== undefined && typeof r.content !== 'string') return { problem: `a content that is ${typeof r.content}, not a string` };
    return { content: r.content ?? '', actions: r.actions };
  }
  try {
    const json = JSON.stringify(raw);
    return json === undefined ? { problem: `a ${typeof raw}, which is not a result` } : { content: json };
  } catch {
    return { problem: 'a value that cannot be turned into JSON' };
  }
}
