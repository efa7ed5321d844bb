/**
 * Host actions: what a tool may ask the core to do to the call. Tools run in plugin processes and can't touch a
 * call, so a tool's result may carry `actions` — `{ content: "...", actions: [{ type: "end_call" }] }` — which the
 * core checks and carries out under its own policy (a bad action is refused and the LLM is told why).
 *
 * To add an action: add its shape to `ToolAction`, a parser + handler to `ACTIONS` (or `register()` one on a
 * dispatcher), and what it needs from the core to `ActionHost`. Each handler says when it runs:
 *  - `now`: as soon as the tool returned (the turn is committed by then: a tool never acts for a discarded reply);
 *  - `after-reply`: once the agent's reply that follows the tool has been spoken (end_call: goodbye, then hang up).
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ToolCallContext } from '../plugins/api.ts';
import { TWILIO_ACTIONS, type TwilioActionHost, type TwilioToolAction } from './twilio-actions.ts';

export type ToolAction =
  | { type: 'end_call'; reason: string }
  | { type: 'take_message'; name: string; callback: string; message: string }
  // transfer_call, send_sms, press_keys (twilio-actions.ts)
  | TwilioToolAction;

export type ToolActionType = ToolAction['type'];

/** What the core does for actions (app.ts provides it; tests may pass a stand-in). */
export interface ActionHost extends TwilioActionHost {
  /** End the call: close its media stream (ends a `<Connect><Stream>` call) and hang up through Twilio when set up. */
  endCall(callSid: string, reason: string): Promise<void>;
  /** Keep a message for the owner: in the records (the GUI inbox, the export). */
  takeMessage(call: ToolCallContext, message: { name: string; callback: string; message: string; tool: string }): Promise<void>;
}

export interface ActionRun {
  call: ToolCallContext;
  /** The tool (and plugin) the action came from, for the records. */
  tool: string;
  host: ActionHost;
  log: Logger;
}

export interface ActionHandler<A extends ToolAction = ToolAction> {
  when: 'now' | 'after-reply';
  /** The action from a tool's result, checked and cleaned; a string says what is wrong with it. */
  parse(raw: Record<string, unknown>, call: ToolCallContext): A | string;
  run(action: A, run: ActionRun): Promise<void>;
}

const text = (v: unknown, max: number): string => (typeof v === 'string' ? v.trim().slice(0, max) : '');

export const ACTIONS: { [T in ToolActionType]: ActionHandler<Extract<ToolAction, { type: T }>> } = {
  end_call: {
    when: 'after-reply',
    parse: (raw) => ({ type: 'end_call', reason: text(raw.reason, 200) || 'the agent ended the call' }),
    run: (a, r) => r.host.endCall(r.call.callSid, a.reason),
  },
  take_message: {
    when: 'now',
    parse: (raw, call) => {
      const message = text(raw.message, 2_000);
      if (!message) return 'take_message needs the message itself ("message")';
      const callback = text(raw.callback, 40) || call.from || '';
      return { type: 'take_message', name: text(raw.name, 200), callback, message };
    },
    run: (a, r) => r.host.takeMessage(r.call, { name: a.name, callback: a.callback, message: a.message, tool: r.tool }),
  },
  ...TWILIO_ACTIONS,
};

/** Parses and runs actions; `register` adds (or replaces) an action type for this dispatcher. */
export class ActionDispatcher {
  readonly #handlers = new Map<string, ActionHandler<any>>(Object.entries(ACTIONS));

  register<A extends { type: string }>(type: A['type'], handler: ActionHandler<any>): void {
    this.#handlers.set(type, handler);
  }

  /** A tool result's `actions`, checked: the good ones (with when they run) and what was wrong with the others. */
  parse(raw: unknown, call: ToolCallContext): { actions: { action: ToolAction; when: 'now' | 'after-reply' }[]; problems: string[] } {
    const actions: { action: ToolAction; when: 'now' | 'after-reply' }[] = [];
    const problems: string[] = [];
    if (raw === undefined) return { actions, problems };
    if (!Array.isArray(raw)) return { actions, problems: ['"actions" must be a list'] };
    for (const item of raw.slice(0, 10)) {
      const type = (item as { type?: unknown } | null)?.type;
      const handler = typeof type === 'string' ? this.#handlers.get(type) : undefined;
      if (!handler) {
        problems.push(`unknown action ${JSON.stringify(type)} (known: ${[...this.#handlers.keys()].join(', ')})`);
        continue;
      }
      const parsed = handler.parse(item as Record<string, unknown>, call);
      if (typeof parsed === 'string') problems.push(parsed);
      else actions.push({ action: parsed as ToolAction, when: handler.when });
    }
    return { actions, problems };
  }

  /** Carry one action out; a failure is logged and reported back (never thrown: the call goes on). */
  async run(action: ToolAction, run: ActionRun): Promise<string | null> {
    const handler = this.#handlers.get(action.type);
    if (!handler) return `unknown action ${action.type}`;
    try {
      await handler.run(action, run);
      return null;
    } catch (err) {
      run.log.warn('a tool action failed', { action: action.type, tool: run.tool, error: errorMessage(err) });
      return errorMessage(err);
    }
  }
}
