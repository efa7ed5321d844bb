/** The rig for test/core/tools: a core with the scripted LLM and a user's tool plugin, and one call placed on it. */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../../main/core/config.ts';
import type { EventOf } from '../../../main/core/event-bus.ts';
import type { ChatMessage, ToolSpec } from '../../../main/core/plugins/api.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import type { CoreOptions } from '../../../main/core/app.ts';
import { startTestCore, until, type TestCore } from '../../helpers/core.ts';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/plugins-tools');
export const FROM = '+15551230000';
export const TO = '+15559990000';
export const KIT_TOOLS = ['book_table', 'explode', 'garbage', 'hang_forever', 'lookup_order', 'pick_slot', 'slow_lookup'];

export type Step = { toolCalls: { id: string; name: string; arguments: Record<string, unknown> }[] } | { text: string };
export interface Chat {
  callSid: string | null;
  tools: ToolSpec[] | null;
  messages: ChatMessage[];
}
export interface ToolNote {
  callSid: string | null;
  name: string;
  args: Record<string, unknown>;
  phase: 'start' | 'end' | 'aborted';
}
export type AgentLine = Extract<EventOf<'transcript'>, { role: 'agent' }>;

/**
 * A core whose user plugins folder holds the test LLM, the user's tool plugin (tools-kit), copies of two built-in
 * tools and of any `builtins` named; `work` is where the fixtures read their scripts and write what they saw.
 */
export async function toolsCore(overrides: Partial<Config> = {}, builtins: string[] = [], options: CoreOptions = {}): Promise<{ t: TestCore; work: string }> {
  const work = mkdtempSync(join(tmpdir(), 'parley-tools-'));
  const plugins = join(work, 'plugins');
  mkdirSync(plugins);
  for (const name of ['tools-llm', 'tools-kit']) cpSync(join(FIXTURES, name), join(plugins, name), { recursive: true });
  for (const name of ['end-call', 'take-message', ...builtins]) cpSync(join(ROOT, 'plugins', name), join(plugins, name), { recursive: true });
  const t = await startTestCore({
    greeting: '',
    llm: 'tools-llm',
    userPluginsDir: plugins,
    ...overrides,
    pluginSettings: { 'tools-llm': { dir: work }, 'tools-kit': { dir: work }, ...overrides.pluginSettings },
  }, options);
  return { t, work };
}

function lines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** One call: the script the test LLM follows for it (turn by turn, step by step), and readers for what happened. */
export async function placeCall(t: TestCore, work: string, turns: Step[][], noTools?: string, connect: { callSid?: string; headers?: Record<string, string> } = {}) {
  const callSid = connect.callSid ?? 'CA' + randomBytes(16).toString('hex');
  writeFileSync(join(work, `script-${callSid}.json`), JSON.stringify({ turns, noTools }));
  const caller = await TwilioCaller.connect({ url: t.wsUrl, callSid, from: FROM, to: TO, ...(connect.headers ? { headers: connect.headers } : {}) });
  await until(() => t.core.calls().some((c) => c.callSid === callSid && c.state === 'listening'), 'the call to connect');
  const mine = () => t.events.filter((e) => 'callSid' in e && e.callSid === callSid);
  return {
    callSid,
    caller,
    chats: () => lines<Chat>(join(work, 'chats.jsonl')).filter((c) => c.callSid === callSid),
    toolNotes: () => lines<ToolNote>(join(work, 'tool-calls.jsonl')).filter((n) => n.callSid === callSid),
    events: mine,
    tools: () => mine().filter((e): e is EventOf<'call.tool'> => e.type === 'call.tool'),
    agentFinals: () => mine().filter((e): e is AgentLine => e.type === 'transcript' && e.role === 'agent' && e.final),
    agentSaid: (text: string) => until(() => mine().some((e) => e.type === 'transcript' && e.role === 'agent' && e.final && e.text.includes(text)), `the agent to say "${text}"`, 20_000),
  };
}

export const toolMessages = (messages: ChatMessage[]) => messages.filter((m): m is Extract<ChatMessage, { role: 'tool' }> => m.role === 'tool');
