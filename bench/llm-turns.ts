/**
 * LLM first token as a call goes on, on a kept KV cache (issue 12 §2: turn 8 ≤ 1.2 × turn 1).
 *
 * `runLlmTurnBench(modelPath)` runs the real llama-llm plugin (its child process, node-llama-cpp) in this process on
 * `modelPath`: a call prepared with a system prompt and greeting, then 8 caller turns; each turn's first token is
 * timed from chat() to the first delta (what the engine sees). The conversation runs on `calls` calls one after
 * another (default 5; temperature 0, so each says the same) and each turn's figure is the median over them: one
 * turn-1 sample against one turn-8 sample moved the ratio between 1.06 and 1.33 from run to run. For contrast, turn 8's history is then answered
 * once on a new call with no cache (what every turn cost before per-call sequences). Use a stand-in with the
 * default model's shapes (`npm run bench -- plugins --standin`) for numbers that mean something.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, LlmInstance, PluginLog, PluginModule } from '../main/core/plugins/api.ts';
import { effectiveSettings, readManifest } from '../main/core/plugins/manifest.ts';
import { importForPlugin, resolveForPlugin } from '../main/core/plugins/plugin-imports.ts';

const PLUGIN_DIR = fileURLToPath(new URL('../plugins/llama-llm/', import.meta.url));

const SYSTEM = 'You answer the phone for Rosa\'s Bakery on Main Street. Keep every answer to one or two short spoken sentences, no lists, no markdown.';
const GREETING = "Hi, thanks for calling Rosa's Bakery, how can I help you today?";
// Caller lines of ordinary words the stand-in's vocabulary holds (bench/standins/qwen-gguf.ts STANDIN_WORDS). What
// the ratio measures is what a longer conversation costs, not which question happened to be longer, so turn 1 and
// turn 8 have lines of the same length (13 tokens on the stand-in's tokenizer). Each reply's end and the template
// before the next line are prepared while the caller speaks (as the engine does), so a turn evaluates its line and
// the template after it (4 tokens). With lines of any length the ratio moved between 1.06 and 1.57.
const CALLER = [
  'good morning are you open this sunday for bread?',
  'do you have fresh sourdough bread on sunday?',
  'how much is one large sourdough loaf today?',
  'can you make a birthday cake for friday?',
  'chocolate cake with fresh butter for nine people?',
  'can you write her name on the cake?',
  'what time can we pick the cake up?',
  'great thanks and do you take cards today?',
];

export interface LlmTurn {
  turn: number;
  firstTokenMs: number;
  promptTokens: number;
  evaluatedPromptTokens: number;
}

export interface LlmTurnBench {
  model: string;
  threads: number;
  turns: LlmTurn[];
  /** Turn 8's first token over turn 1's (target ≤ 1.2). */
  ratio: number;
  /** Turn 8's history on a call with no cache: what a turn cost when calls threw each other's cache away. */
  coldTurn8: LlmTurn;
  /** The same new tokens evaluated straight on node-llama-cpp after turn 1's and turn 8's cached prompt. */
  runtimeAlone: RuntimeAlone;
  text: string;
}

export async function runLlmTurnBench(modelPath: string, options: { threads?: number; maxTokens?: number; calls?: number } = {}): Promise<LlmTurnBench> {
  const threads = options.threads ?? 2;
  const calls = Math.max(1, options.calls ?? 5);
  const stats: Record<string, unknown>[] = [];
  const quiet = () => {};
  const log: PluginLog = { debug: (msg, fields) => void (msg === 'llama turn' && fields && stats.push(fields)), info: quiet, warn: quiet, error: quiet };
  const manifest = await readManifest(PLUGIN_DIR);
  const plugin = ((await import(join(PLUGIN_DIR, 'index.js'))) as { default: PluginModule }).default;
  const llm = (await plugin.create({
    settings: effectiveSettings(manifest, { model: modelPath, threads, gpu: false, temperature: 0, maxTokens: options.maxTokens ?? 40, maxCalls: 2 }, process.cwd()),
    modelDir: join(process.cwd(), 'models'),
    pluginDir: PLUGIN_DIR,
    log,
    import: importForPlugin,
    resolve: resolveForPlugin,
  })) as LlmInstance;
  let disposed = false;
  try {
    const signal = AbortSignal.timeout(600_000);
    const runs: LlmTurn[][] = [];
    let history: ChatMessage[] = [];
    for (let c = 0; c < calls; c++) {
      const callSid = `bench-call-${c}`;
      history = [
        { role: 'system', content: SYSTEM },
        { role: 'assistant', content: GREETING },
      ];
      await llm.prepare?.(history, { signal, callSid });
      const run: LlmTurn[] = [];
      for (const [i, words] of CALLER.entries()) {
        history.push({ role: 'user', content: words });
        const { text, turn } = await timedTurn(llm, history, callSid, stats, signal);
        run.push({ ...turn, turn: i + 1 });
        history.push({ role: 'assistant', content: text });
        // What the engine does after each reply, while the caller speaks (Dialogue #prepareAhead).
        await llm.prepare?.(history, { signal, callSid });
      }
      await llm.endCall?.(callSid);
      runs.push(run);
    }
    const turns: LlmTurn[] = CALLER.map((_, i) => ({ ...runs[0]![i]!, firstTokenMs: median(runs.map((r) => r[i]!.firstTokenMs)) }));
    history.pop(); // turn 8's history, before its answer
    const cold = await timedTurn(llm, history, 'bench-cold', stats, signal);
    await llm.endCall?.('bench-cold');
    const ratio = turns[7]!.firstTokenMs / turns[0]!.firstTokenMs;
    const coldTurn8 = { ...cold.turn, turn: 8 };
    await llm.dispose?.(); // its child's model and context out of memory before the runtime loads the model again
    disposed = true;
    const alone = await runtimeAlone(modelPath, threads, turns[7]!.evaluatedPromptTokens, turns[0]!.promptTokens, turns[7]!.promptTokens);
    const row = (t: LlmTurn, label: string) => `  ${label.padEnd(18)} first token ${t.firstTokenMs.toFixed(0).padStart(6)} ms   prompt ${String(t.promptTokens).padStart(5)} tokens, evaluated ${String(t.evaluatedPromptTokens).padStart(5)}`;
    const text = [
      `LLM first token per turn on a kept KV cache (${modelPath}, threads ${threads}; median of ${calls} calls)`,
      ...turns.map((t) => row(t, `turn ${t.turn}`)),
      row(coldTurn8, 'turn 8, no cache'),
      `  turn 8 / turn 1 = ${ratio.toFixed(2)} (target ≤ 1.20)`,
      `  llama.cpp alone, ${alone.tokens} tokens after ${alone.short} vs ${alone.long} cached: ${alone.shortMs.toFixed(0)} vs ${alone.longMs.toFixed(0)} ms = ${alone.ratio.toFixed(2)} (attention over the longer context; no template, no IPC)`,
    ].join('\n');
    return { model: modelPath, threads, turns, ratio, coldTurn8, runtimeAlone: alone, text };
  } finally {
    if (!disposed) await llm.dispose?.();
  }
}

async function timedTurn(llm: LlmInstance, history: ChatMessage[], callSid: string, stats: Record<string, unknown>[], signal: AbortSignal) {
  const started = performance.now();
  let firstTokenMs = -1;
  let text = '';
  for await (const delta of llm.chat(history, { signal, callSid })) {
    if (firstTokenMs < 0) firstTokenMs = performance.now() - started;
    text += delta;
  }
  const s = stats.at(-1) as { promptTokens: number; evaluatedPromptTokens: number };
  return { text, turn: { firstTokenMs, promptTokens: s.promptTokens, evaluatedPromptTokens: s.evaluatedPromptTokens } };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface RuntimeAlone {
  tokens: number;
  short: number;
  long: number;
  shortMs: number;
  longMs: number;
  ratio: number;
}

/**
 * What llama.cpp itself charges for a longer context: `tokens` new tokens evaluated on node-llama-cpp directly (no
 * chat template, no child process) after `short` and after `long` tokens already in the sequence, alternating,
 * median of 9 each. The turn ratio above cannot be lower than this by any work around the runtime.
 */
async function runtimeAlone(modelPath: string, threads: number, tokens: number, short: number, long: number): Promise<RuntimeAlone> {
  const runtime = (await importForPlugin('node-llama-cpp')) as typeof import('node-llama-cpp');
  const llama = await runtime.getLlama({ gpu: false, build: 'never', logLevel: runtime.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  try {
    const context = await model.createContext({ contextSize: 2048, sequences: 1, threads });
    const sequence = context.getSequence();
    let text = CALLER.join(' ');
    while (model.tokenize(text).length < long + tokens) text += ` ${text}`;
    const all = model.tokenize(text).slice(0, long + tokens);
    const times: Record<'short' | 'long', number[]> = { short: [], long: [] };
    for (let r = 0; r < 9; r++) {
      for (const [which, at] of [['short', short], ['long', long]] as const) {
        await sequence.eraseContextTokenRanges([{ start: at, end: sequence.nextTokenIndex }]);
        if (sequence.nextTokenIndex < at) await sequence.evaluateWithoutGeneratingNewTokens(all.slice(sequence.nextTokenIndex, at));
        const started = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(all.slice(at, at + tokens));
        times[which].push(performance.now() - started);
      }
    }
    const shortMs = median(times.short);
    const longMs = median(times.long);
    return { tokens, short, long, shortMs, longMs, ratio: longMs / shortMs };
  } finally {
    await model.dispose();
    await llama.dispose();
  }
}
