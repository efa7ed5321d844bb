/**
 * The tool loop: one agent reply as text for Speech, through as many LLM steps as its tool calls need. The LLM
 * is offered the call's tools; when it yields tool calls, each one is run (call-tools.ts) and `chat` is called
 * again with the assistant's `toolCalls` and the `tool` results, until it answers in text (or the step limit
 * is reached: then it is asked once more without tools).
 *
 * - A prepared reply (dialogue.ts `prepare`) runs behind a shut gate and may be discarded: no tool runs before
 *   `committed` says the turn is the caller's. A discarded reply never acts.
 * - A tool that runs longer than `fillerMs` makes the agent say `filler` ("One moment.") once per reply; an
 *   ask-first tool (approvals.ts) makes it say the approval filler at once, while the desk decides.
 * - A barge-in aborts `signal`: the tool in flight is cancelled and nothing after it runs; what already ran is
 *   kept in `added` (the history), so the LLM knows it was done.
 */
import type { Logger } from '../log.ts';
import type { ChatMessage, ChatOptions, LlmInstance, ToolCall, ToolSpec } from '../plugins/api.ts';
import type { CallTools } from './call-tools.ts';

export const DEFAULT_MAX_TOOL_STEPS = 4;
/** How often an empty delta goes out while an ask-first tool waits (well under any sensible --plugin-timeout-ms). */
const KEEPALIVE_MS = 1_000;

export interface ToolLoopOptions {
  llm: LlmInstance;
  messages: ChatMessage[];
  /** The reply's signal (and callSid): a barge-in or the call's end aborts it. */
  options: { signal: AbortSignal; callSid?: string };
  tools: CallTools;
  /** Settles true when the turn is the caller's (at once for a serial reply), false when the reply was dropped. */
  committed: Promise<boolean>;
  /** The reply's turn number (known once committed). */
  turnId(): number;
  maxSteps?: number;
  log: Logger;
}

export class ToolLoop implements AsyncIterable<string> {
  readonly #o: ToolLoopOptions;
  /** What the tools added to the conversation (assistant `toolCalls` and `tool` results), for the history. */
  readonly added: ChatMessage[] = [];
  /** Any tool ran (its actions may wait for the end of this reply). */
  usedTools = false;

  constructor(options: ToolLoopOptions) {
    this.#o = options;
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    return this.#run();
  }

  async *#run(): AsyncGenerator<string> {
    const o = this.#o;
    const { signal } = o.options;
    const offered = await o.tools.offered();
    if (offered.length === 0) {
      // No tools: exactly the call the LLM always got.
      yield* o.llm.chat(o.messages, o.options);
      return;
    }
    const maxSteps = o.maxSteps ?? DEFAULT_MAX_TOOL_STEPS;
    let saidFiller = false;
    for (let step = 0; ; step++) {
      const tools: ToolSpec[] | undefined = step < maxSteps ? offered : undefined;
      const options: ChatOptions = tools ? { ...o.options, tools } : o.options;
      const calls: ToolCall[] = [];
      for await (const item of o.llm.chat([...o.messages, ...this.added], options)) {
        const call = toolCallOf(item, step, calls.length);
        if (!call) {
          // Text (or garbage, which Speech reports as the LLM's failure).
          yield item as string;
          continue;
        }
        if (tools) calls.push(call);
        else o.log.warn('the LLM called a tool when none was offered; ignored', { tool: call.name });
      }
      if (calls.length === 0 || signal.aborted) return;
      // Nothing acts for a reply the caller may never get.
      if (!(await o.committed) || signal.aborted) return;
      this.usedTools = true;
      this.added.push({ role: 'assistant', content: '', toolCalls: calls });
      // Every tool call gets a result in the history, even when a barge-in ends the reply mid-step: the dialogue
      // takes `added` as soon as the reply stops, which can be before the tool in flight has settled.
      const unanswered = [...calls];
      const answerAll = () => {
        for (const [i, c] of unanswered.entries()) {
          const content = i === 0 ? 'Error: the caller interrupted before it finished; it may not have been done' : 'Error: not run: the caller interrupted before it started';
          this.added.push({ role: 'tool', toolCallId: c.id, name: c.name, content });
        }
        unanswered.length = 0;
      };
      signal.addEventListener('abort', answerAll, { once: true });
      for (const call of calls) {
        let asked!: () => void;
        let waitingForDesk = false;
        const asking = new Promise<'ask'>((r) => (asked = () => r('ask')));
        const running = o.tools.run(call, o.turnId(), signal, {
          onAsk: () => {
            waitingForDesk = true;
            asked();
          },
        });
        const filler = o.tools.filler.trim();
        const askFiller = o.tools.approvalFiller.trim();
        if (!saidFiller && (filler || askFiller)) {
          // An ask-first tool says its phrase at once (the desk takes seconds); any other says the filler when slow.
          let timer: NodeJS.Timeout | undefined;
          const slow = new Promise<'slow'>((r) => {
            if (filler) timer = setTimeout(() => r('slow'), o.tools.fillerMs);
          });
          const first = await Promise.race([running.then(() => 'done' as const), asking, slow]);
          clearTimeout(timer);
          const say = first === 'ask' ? askFiller || filler : first === 'slow' ? filler : '';
          if (say && !signal.aborted) {
            saidFiller = true;
            yield `${say} `;
          }
        }
        // While the desk decides (up to --approval-timeout-ms), an empty delta now and then tells Speech the reply
        // is alive: its per-delta plugin timeout is for a stuck LLM, and the wait has its own deadline.
        for (;;) {
          let timer: NodeJS.Timeout | undefined;
          const done = await Promise.race([running.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), KEEPALIVE_MS)))]);
          clearTimeout(timer);
          if (done || signal.aborted) break;
          if (waitingForDesk) yield '';
        }
        const outcome = await running;
        if (unanswered[0] !== call) return; // interrupted: answerAll gave it (and the rest) a result
        unanswered.shift();
        this.added.push({ role: 'tool', toolCallId: call.id, name: call.name, content: outcome.content });
        if (signal.aborted) return;
      }
      signal.removeEventListener('abort', answerAll);
    }
  }
}

/** A tool call the LLM yielded, made safe (an id, a name, arguments as an object), or null for anything else. */
function toolCallOf(item: unknown, step: number, index: number): ToolCall | null {
  if (!item || typeof item !== 'object' || (item as { type?: unknown }).type !== 'tool_call') return null;
  const x = item as { id?: unknown; name?: unknown; arguments?: unknown };
  let args: unknown = x.arguments ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args || '{}');
    } catch {
      args = { _unparsed: args };
    }
  }
  return {
    id: typeof x.id === 'string' && x.id ? x.id.slice(0, 100) : `call_${step}_${index}`,
    name: typeof x.name === 'string' ? x.name.slice(0, 100) : '',
    arguments: args && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : { _value: args },
  };
}
