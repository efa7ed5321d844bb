/**
 * The LLM section of `npm run bench -- plugins --standin`: a random-weight Qwen2.5-0.5B-Instruct of the real shapes
 * (qwen-gguf.ts) run through the real llama-llm plugin, in its worker process (PluginProxy, as the app and
 * bench/plugins.ts run it) and the plugin's own llama.cpp child under it, on the CPU with threads = cores.
 *
 * Measured at the edge the engine stands on (chat() to the first text delta), with the plugin's per-turn stats
 * (its debug log "llama turn") for token counts:
 * - a ~400-token prompt on an empty cache: first token and prompt evaluation tokens/s;
 * - decode tokens/s over the rest of that reply (random weights never pick EOS: it runs to maxTokens);
 * - a call kept by callSid: prepare(system prompt + greeting), turn 1, then turn 2 adding ≈40 tokens — its first
 *   token is the budget's "LLM first token", or, if the plugin re-reads the history, that re-evaluation cost;
 * - the llama child's resident memory (a grandchild of this process, found in /proc);
 * - the same prompt and decode on an all-Q4_0 file, the plain 4-bit floor;
 * - bench/llm-turns.ts (turn 8 against turn 1) on the same file, when it exists.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage } from '../../main/core/plugins/api.ts';
import { PluginProxy } from '../../main/core/plugins/plugin-proxy.ts';
import type { LogRecord, Logger } from '../../main/core/log.ts';
import { effectiveSettings, readManifest } from '../../main/core/plugins/manifest.ts';
import { STANDIN_LABEL, type StandinSection } from './types.ts';
import { QWEN25_05B, writeQwenStandin, type QwenStandinFile, type QwenStandinLayout } from './qwen-gguf.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PLUGIN_DIR = join(ROOT, 'plugins', 'llama-llm');
/** Longest reply (the plugin's maxTokens): the decode rate is measured over this many tokens. */
const DECODE_TOKENS = 96;

// The prompts use words the stand-in vocabulary holds as one token each (qwen-gguf.ts STANDIN_WORDS and every
// 1–3 letter word), so their token counts are about what the real tokenizer gives English.
const SYSTEM_LONG = [
  'you answer the phone for the bakery on main street. keep every answer to one or two short spoken sentences, with no lists and no markdown.',
  'the shop is open monday to friday from seven in the morning until six, saturday from eight until four, and sunday from nine until noon.',
  'we are closed on every holiday. we bake fresh bread every morning: sourdough, rye, and a small white loaf. sourdough is sold out by noon on the weekend.',
  'a large sourdough loaf is six dollars and a small one is four. croissants are three dollars each. coffee and tea are two dollars.',
  'we take cash and every card. we do not offer delivery, but a customer can order by phone and pick the order up at the shop.',
  'birthday cake orders need two days: ask the caller for the day, the time of pick up, the number of people, the kind of cake and what to write on it.',
  'we have chocolate, lemon, and fruit cake. we can make a vegan cake and a gluten free cake, but we bake with nuts, milk, eggs, butter and flour in the same shop, so a caller with a nut allergy should know that.',
  'if a caller asks for the owner or the staff, take a name and a phone number and say someone will call back later today.',
  'if you do not know an answer, say so and offer to take a message. never make up a price or a time. be kind, thank the caller, and keep it short.',
  'when the caller is done, thank them for calling the bakery and say good bye.',
].join(' ');
const GREETING = 'hi, thanks for calling the bakery on main street. how can i help you today?';
const QUESTION = 'hi, are you open on sunday morning, and do you have sourdough bread?';
// Turn 2's caller words: with the chat template around them (≈10 tokens) and turn 1's end, ≈40 tokens new to the cache.
const FOLLOW_UP = 'great, thanks. can i order a large chocolate birthday cake for next friday, for twelve people, with happy birthday on it?';
export const LLM_STANDIN_PROMPTS = { system: SYSTEM_LONG, greeting: GREETING, question: QUESTION, followUp: FOLLOW_UP };

export interface LlmTurnMeasure {
  /** chat() to the first delta, at the engine's side of the worker. */
  firstTokenMs: number;
  promptTokens: number;
  evaluatedPromptTokens: number;
  outputTokens: number;
  /** Decode rate inside the llama child: tokens after the first over the time after the first. */
  decodeTokensPerSecond: number;
  text: string;
}

interface PluginRun {
  loadMs: number;
  cold: LlmTurnMeasure;
  kept?: { prepareMs: number; prepared: number; turn1: LlmTurnMeasure; turn2: LlmTurnMeasure };
  memory: LlamaMemory | null;
  chatWrapper?: string;
  contextSize?: number;
  maxCalls?: number;
}

export interface LlamaMemory {
  pid: number;
  rssMb: number;
  peakMb: number;
  /** Of the RSS: file-backed pages (the mapped model, binaries); the rest is llama.cpp's buffers and KV cache. */
  fileMb: number;
}

export async function runLlmStandin(log: (line: string) => void): Promise<StandinSection> {
  const threads = availableParallelism();
  const loadBefore = loadavg()[0]!;
  const lines: string[] = [];
  const tag = `(${STANDIN_LABEL})`;

  const main = standinFile('q4_k_m', log);
  const shape = `qwen2, ${QWEN25_05B.nLayer} × ${QWEN25_05B.nEmbd}, ${QWEN25_05B.nHead}/${QWEN25_05B.nHeadKv} heads, FFN ${QWEN25_05B.nFf}, vocab ${QWEN25_05B.nVocab.toLocaleString('en')}`;
  lines.push(`  model: Qwen2.5-0.5B-Instruct stand-in (${shape}), llama.cpp's Q4_K_M mix for these shapes (token_embd Q8_0; Q5_0, Q8_0, Q4_K, Q6_K), ${mb(main.bytes)} MB ${main.writeMs ? `written in ${(main.writeMs / 1000).toFixed(1)} s` : 'reused'} at ${main.path}`);
  lines.push(`  run: the real llama-llm plugin in its worker process, llama.cpp on the CPU, threads ${threads} (= cores), maxTokens ${DECODE_TOKENS}`);

  log(`llm stand-in: ${main.path} through llama-llm (threads ${threads})`);
  const run = await runThroughPlugin(main.path, threads, { kept: true, log });
  const { cold } = run;
  lines.push(`  loaded in ${run.loadMs} ms (chat wrapper ${run.chatWrapper ?? '?'})`);
  lines.push(`  prompt ${cold.promptTokens} tokens, empty cache: first token ${ms(cold.firstTokenMs)}, prompt evaluation ${rate(cold.evaluatedPromptTokens / (cold.firstTokenMs / 1000))} tokens/s ${tag}`);
  lines.push(`  decode: ${rate(cold.decodeTokensPerSecond)} tokens/s over ${cold.outputTokens} tokens ${tag}`);

  let llmFirstTokenMs: number | undefined;
  if (run.kept) {
    const { turn1, turn2, prepareMs, prepared } = run.kept;
    lines.push(`  call opening prepared (system prompt + greeting, before the caller speaks): ${prepared} tokens in ${ms(prepareMs)}, ${rate(prepared / (prepareMs / 1000))} tokens/s ${tag}`);
    lines.push(`  ${keptRow('turn 1', turn1)} ${tag}`);
    lines.push(`  ${keptRow('turn 2', turn2)} ${tag}`);
    llmFirstTokenMs = turn2.firstTokenMs;
  }
  if (run.memory) {
    const m = run.memory;
    const kv = run.contextSize && run.maxCalls ? ` (${run.maxCalls} calls × ${run.contextSize} tokens)` : '';
    lines.push(`  memory: llama child (pid ${m.pid}) RSS ${m.rssMb} MB, peak ${m.peakMb} MB; ${m.fileMb} MB of it mapped files (the model, node and llama.cpp's binaries), the rest llama.cpp's compute buffers and KV cache${kv} ${tag}`);
  } else lines.push('  memory: — (no llama child found under this process in /proc; Linux only)');

  // The plain 4-bit floor: every matrix Q4_0, token_embd included.
  try {
    const floor = standinFile('q4_0', log);
    log(`llm stand-in: ${floor.path} (all Q4_0)`);
    const f = await runThroughPlugin(floor.path, threads, { kept: false, log });
    lines.push(`  all-Q4_0 variant (${mb(floor.bytes)} MB): prompt ${f.cold.promptTokens} tokens first token ${ms(f.cold.firstTokenMs)}, prompt evaluation ${rate(f.cold.evaluatedPromptTokens / (f.cold.firstTokenMs / 1000))} tokens/s, decode ${rate(f.cold.decodeTokensPerSecond)} tokens/s ${tag}`);
  } catch (err) {
    lines.push(`  all-Q4_0 variant: not measured: ${err instanceof Error ? err.message : String(err)}`);
  }

  const turnsFile = fileURLToPath(new URL('../llm-turns.ts', import.meta.url));
  if (existsSync(turnsFile)) {
    try {
      log('llm stand-in: bench/llm-turns.ts (turn 8 against turn 1)');
      const mod = (await import(turnsFile)) as { runLlmTurnBench?: (path: string, o?: { threads?: number }) => Promise<{ text: string }> };
      if (!mod.runLlmTurnBench) throw new Error('bench/llm-turns.ts exports no runLlmTurnBench');
      const turns = await mod.runLlmTurnBench(main.path, { threads });
      lines.push(`  bench/llm-turns.ts on this stand-in ${tag}:`, ...turns.text.split('\n').map((l) => `  ${l}`));
    } catch (err) {
      lines.push(`  turn 8 vs turn 1 (bench/llm-turns.ts): not measured: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const loadAfter = loadavg()[0]!;
  lines.push(`  machine: ${threads} cores, load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (above ${threads} the numbers are pessimistic)`);
  return { title: `LLM (llama-llm, Qwen2.5-0.5B-Instruct shapes) — ${STANDIN_LABEL}`, lines, budget: llmFirstTokenMs === undefined ? {} : { llmFirstTokenMs } };
}

function standinFile(layout: QwenStandinLayout, log: (line: string) => void): QwenStandinFile {
  log(`llm stand-in: writing the ${layout} file (reused when already there)`);
  return writeQwenStandin({ layout });
}

function keptRow(label: string, t: LlmTurnMeasure): string {
  const kept = t.evaluatedPromptTokens < t.promptTokens * 0.5;
  const how = kept
    ? `kept cache, ${t.evaluatedPromptTokens} new of ${t.promptTokens} tokens`
    : `cache NOT kept: re-evaluated ${t.evaluatedPromptTokens} of ${t.promptTokens} tokens`;
  return `${label} of a call (${how}): first token ${ms(t.firstTokenMs)}`;
}

async function runThroughPlugin(modelPath: string, threads: number, o: { kept: boolean; log: (line: string) => void }): Promise<PluginRun> {
  const manifest = await readManifest(PLUGIN_DIR);
  const turns: LogRecord[] = [];
  const prepares: LogRecord[] = [];
  let ready: LogRecord | null = null;
  const logger = rawLogger((r) => {
    if (r.msg === 'llama turn') turns.push(r);
    else if (r.msg === 'llama prepare') prepares.push(r);
    else if (r.msg === 'llama model loaded') ready = r;
    else if (r.level === 'warn' || r.level === 'error') o.log(`  [${r.level}] ${r.msg}`);
  });
  const settings = effectiveSettings(manifest, { model: modelPath, threads, gpu: false, maxTokens: DECODE_TOKENS }, ROOT);
  const worker = new PluginProxy({ name: manifest.name, kind: manifest.kind, dir: PLUGIN_DIR, main: manifest.main, settings, modelDir: join(ROOT, 'models') }, logger, {
    loadTimeoutMs: 600_000,
    // The per-turn stats arrive as debug lines: none may be dropped.
    logLinesPerSecond: 1_000_000,
  });
  const signal = AbortSignal.timeout(1_800_000);
  try {
    const started = performance.now();
    await worker.start();
    const loadMs = Math.round(performance.now() - started);
    const cold = await timedTurn(worker, [{ role: 'system', content: SYSTEM_LONG }, { role: 'user', content: QUESTION }], 'standin-cold', turns, signal);
    await worker.endCall('standin-cold');
    let kept: PluginRun['kept'];
    if (o.kept) {
      const history: ChatMessage[] = [
        { role: 'system', content: SYSTEM_LONG },
        { role: 'assistant', content: GREETING },
      ];
      const t0 = performance.now();
      await worker.prepare(history, { signal, callSid: 'standin-call' });
      const prepareMs = performance.now() - t0;
      const prepared = await statAfter(prepares, 0);
      history.push({ role: 'user', content: QUESTION });
      const turn1 = await timedTurn(worker, history, 'standin-call', turns, signal);
      history.push({ role: 'assistant', content: turn1.text }, { role: 'user', content: FOLLOW_UP });
      const turn2 = await timedTurn(worker, history, 'standin-call', turns, signal);
      kept = { prepareMs, prepared: Number(prepared?.evaluated ?? prepared?.tokens ?? 0), turn1, turn2 };
    }
    const memory = llamaChildMemory();
    await worker.endCall('standin-call');
    const info = ready as LogRecord | null;
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
    return { loadMs, cold, kept, memory, chatWrapper: typeof info?.chatWrapper === 'string' ? info.chatWrapper : undefined, contextSize: num(info?.contextSize), maxCalls: num(info?.maxCalls) };
  } finally {
    await worker.dispose();
  }
}

/**
 * A Logger that hands records over with their fields as sent. The core logger (main/core/log.ts) redacts keys
 * matching /token/i as secrets, which blanks llama-llm's promptTokens / evaluatedPromptTokens / outputTokens.
 */
function rawLogger(sink: (r: LogRecord) => void, bindings: Record<string, unknown> = {}): Logger {
  const at = (level: LogRecord['level']) => (msg: string, fields?: Record<string, unknown>) => sink({ time: new Date().toISOString(), level, msg, ...bindings, ...fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => rawLogger(sink, { ...bindings, ...more }) };
}

/** The stats record number `index`, waiting briefly: it travels on the same IPC as the reply, a hair later. */
async function statAfter(records: LogRecord[], index: number): Promise<LogRecord | undefined> {
  for (let i = 0; i < 100 && records.length <= index; i++) await new Promise((r) => setTimeout(r, 10));
  return records[index];
}

async function timedTurn(llm: PluginProxy, messages: ChatMessage[], callSid: string, turns: LogRecord[], signal: AbortSignal): Promise<LlmTurnMeasure> {
  const seen = turns.length;
  const started = performance.now();
  let firstTokenMs = -1;
  let text = '';
  for await (const delta of llm.chat(messages, { signal, callSid })) {
    if (firstTokenMs < 0) firstTokenMs = performance.now() - started;
    text += delta;
  }
  const s = await statAfter(turns, seen);
  if (!s) throw new Error('llama-llm sent no per-turn stats (its "llama turn" debug log); cannot count tokens');
  const outputTokens = Number(s.outputTokens);
  const decodeMs = Number(s.totalMs) - Number(s.firstTokenMs);
  return {
    firstTokenMs,
    promptTokens: Number(s.promptTokens),
    evaluatedPromptTokens: Number(s.evaluatedPromptTokens),
    outputTokens,
    decodeTokensPerSecond: outputTokens > 1 && decodeMs > 0 ? (outputTokens - 1) / (decodeMs / 1000) : 0,
    text,
  };
}

/** The llama-llm child (plugins/llama-llm/child.js) among this process's descendants, and its memory from /proc. */
export function llamaChildMemory(root = process.pid): LlamaMemory | null {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return null;
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone
    }
  }
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((a) => a.endsWith(join('llama-llm', 'child.js')))) {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
        return { pid, rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024), fileMb: Math.round(kb('RssFile') / 1024) };
      }
    } catch {
      // gone
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return null;
}

const mb = (bytes: number) => Math.round(bytes / 1e6);
const ms = (x: number) => `${Math.round(x)} ms`;
const rate = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
