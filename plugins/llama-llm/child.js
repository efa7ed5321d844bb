// The llama.cpp child process. Started by index.js with child_process.fork; it imports node-llama-cpp from the
// path the host resolved (ctx.resolve), loads one model into one context with one sequence per live call
// (sequences.js), and answers chats over IPC: turns of one call in order, different calls side by side. Anything
// fatal here (a malformed file, a native crash) ends this process only; the parent restarts it at the next turn.
import { availableParallelism, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import { CallQueues, SequencePool } from './sequences.js';
import { forcingWrapper, toFunctions, toHistory } from './tools.js';

/** @type {{ llama: any, model: any, context: any, pool: SequencePool, chatWrapper: any, settings: any, lastFunctions: any } | null} */
let state = null;
/** Loading happens once, before anything else; after it, calls run side by side (one sequence each). */
let loaded = Promise.resolve();
const queues = new CallQueues();
/** In-flight work by request id: its abort controller and the call (key) it belongs to. */
const running = new Map();
/** Each LlamaChat's switch for a forced tool call (see makeChat). */
const forcing = new WeakMap();

function send(msg) {
  if (process.connected) process.send(msg);
}

function log(level, msg, fields) {
  send({ t: 'log', level, msg, fields });
}

// Orphaned (parent gone): exit rather than hold memory.
process.on('disconnect', () => process.exit(0));

async function load(msg) {
  const started = performance.now();
  let runtime;
  let llama;
  try {
    runtime = await import(pathToFileURL(msg.runtime).href);
    llama = await runtime.getLlama({
      build: 'never',
      gpu: msg.gpu,
      maxThreads: msg.threads,
      progressLogs: false,
      logLevel: runtime.LlamaLogLevel.warn,
      logger: (level, text) => {
        const line = String(text).trim();
        if (line) log(level === 'error' || level === 'fatal' ? 'warn' : 'debug', `llama.cpp: ${line}`);
      },
    });
  } catch (err) {
    return send({
      t: 'load-error',
      code: 'PLUGIN_FAILED',
      message: `llama.cpp runtime unavailable (gpu: ${JSON.stringify(msg.gpu)}): ${err?.message ?? err}. Parley uses only prebuilt llama.cpp binaries (build: never); set llama-llm.gpu to false to use the CPU build.`,
    });
  }
  let model;
  try {
    model = await llama.loadModel({ modelPath: msg.model, gpuLayers: msg.gpu === false ? 0 : 'auto' });
  } catch (err) {
    return send({ t: 'load-error', code: 'MODEL_CORRUPT', message: `llama.cpp could not load ${msg.model}: ${err?.message ?? err}. The file is damaged or not a model this llama.cpp supports; re-download it or choose another .gguf.` });
  }
  const calls = msg.maxCalls > 0 ? msg.maxCalls : 1;
  const perCall = Math.min(msg.contextSize, model.trainContextSize || msg.contextSize);
  const held = await checkContextFits(llama, model, perCall, calls, msg);
  if (held.error) return send({ t: 'load-error', code: 'PLUGIN_FAILED', message: held.error });
  let context;
  try {
    // contextSize is per sequence: llama.cpp allocates contextSize × sequences cells, one block per call.
    context = await model.createContext({ contextSize: perCall, sequences: calls, threads: msg.threads });
  } catch (err) {
    return send({ t: 'load-error', code: 'PLUGIN_FAILED', message: `${cannotHold(perCall, calls, msg.model, held.bytes)}: ${err?.message ?? err}. Lower llama-llm.maxCalls or llama-llm.contextSize.` });
  }
  // The chat template node-llama-cpp picks for the model ('auto'), behind a wrapper that only acts when a request
  // forces a tool call (llama-llm.toolChoice = required; tools.js): otherwise exactly the template's behaviour.
  const makeChat = (sequence) => {
    const control = { forceFunctionCall: false };
    const chat = new runtime.LlamaChat({ contextSequence: sequence, chatWrapper: forcingWrapper(runtime.resolveChatWrapper(model), control) });
    forcing.set(chat, control);
    return chat;
  };
  const pool = new SequencePool(context, makeChat, log);
  // Warm up: one token through the chat template pages the weights in and proves the template renders.
  let chatWrapper;
  try {
    const { slot } = await pool.acquire('\0warm-up');
    chatWrapper = slot.chat.chatWrapper;
    await slot.chat.generateResponse([{ type: 'user', text: 'Hi' }, { type: 'model', response: [] }], { maxTokens: 1 });
    pool.release(slot);
    await pool.end('\0warm-up');
  } catch (err) {
    return send({ t: 'load-error', code: 'MODEL_CORRUPT', message: `${msg.model} loaded but failed to generate (${err?.message ?? err}); its chat template or weights are broken.` });
  }
  state = { llama, model, context, pool, chatWrapper, settings: msg, lastFunctions: undefined };
  send({
    t: 'ready',
    info: {
      chatWrapper: chatWrapper.wrapperName,
      gpu: llama.gpu,
      threads: msg.threads,
      contextSize: context.contextSize,
      maxCalls: context.totalSequences,
      trainContextSize: model.trainContextSize,
      loadMs: Math.round(performance.now() - started),
    },
  });
}

function cannotHold(perCall, calls, model, bytes) {
  const size = bytes ? ` (about ${Math.ceil(bytes / 2 ** 20)} MB)` : '';
  return `llama.cpp cannot hold ${calls} calls × ${perCall} tokens of context${size} for ${model}`;
}

/** Refuse settings whose KV cache cannot fit this machine before llama.cpp tries to allocate it. */
async function checkContextFits(llama, model, perCall, calls, msg) {
  let estimate;
  try {
    estimate = await model.fileInsights.estimateContextResourceRequirementsV2({ contextSize: perCall, sequences: calls, modelGpuLayers: model.gpuLayers });
  } catch {
    return {}; // no estimate: let createContext decide
  }
  const bytes = estimate.cpuRam + estimate.gpuVram;
  const ram = totalmem();
  const vram = model.gpuLayers > 0 ? (await llama.getVramState().catch(() => ({ total: 0 }))).total : 0;
  if (estimate.cpuRam > ram || (vram > 0 && estimate.gpuVram > vram)) {
    const have = vram > 0 ? `${Math.round(ram / 2 ** 20)} MB of RAM and ${Math.round(vram / 2 ** 20)} MB of VRAM` : `${Math.round(ram / 2 ** 20)} MB of RAM`;
    return { bytes, error: `${cannotHold(perCall, calls, msg.model, bytes)}: this computer has ${have}. Lower llama-llm.maxCalls (calls answered at the same time) or llama-llm.contextSize (tokens each call keeps).` };
  }
  return { bytes };
}

/** The prompt's length in tokens, with the tools' documentation the template adds when there are any. */
function promptTokens(history, functions) {
  const { contextText } = state.chatWrapper.generateContextState({ chatHistory: history, ...(functions ? { availableFunctions: functions, documentFunctionParams: true } : {}) });
  return contextText.tokenize(state.model.tokenizer).length;
}

/**
 * Per call: the first turn kept the last time its history had to be cut to fit the context. Later turns keep
 * cutting there while that fits, so the prompt starts the same way and the call's cached tokens stay valid.
 */
const heads = new Map();

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The history from the call's remembered head on (system messages kept), or null if it no longer holds it. */
function fromHead(history, key) {
  const head = heads.get(key);
  const at = head === undefined ? -1 : history.findIndex((item) => item.type !== 'system' && same(item, head));
  return at === -1 ? null : history.filter((item, i) => item.type === 'system' || i >= at);
}

/** Drop the oldest non-system turn, and a model turn the conversation would then resume with; null if none can go. */
function dropOldest(h) {
  // Keep the final user message and the (empty) model item after it.
  const lastUser = h.findLastIndex((item) => item.type === 'user');
  const victim = h.findIndex((item, i) => item.type !== 'system' && i < lastUser);
  if (victim === -1) return null;
  let next = h.filter((_, i) => i !== victim);
  // A conversation should not resume with the model speaking first.
  while (true) {
    const first = next.findIndex((item) => item.type !== 'system');
    if (first === -1 || next[first].type !== 'model' || first === next.length - 1) return next;
    next = next.filter((_, i) => i !== first);
  }
}

/**
 * Fit prompt + reply in the context: the cut made for this call before, while it fits (its start is what the
 * sequence holds); else the whole history when it fits; else a new cut that drops the oldest turns (system messages
 * and the last turn stay) until the prompt leaves half of the free room for the turns to come, so the new start
 * holds for several turns instead of moving (and re-evaluating everything) at each one.
 */
function fitHistory(history, maxTokens, functions, key) {
  const limit = state.context.contextSize - 1;
  const fitted = (h, tokens) => ({ history: h, dropped: history.length - h.length, promptTokens: tokens, maxTokens: Math.min(maxTokens, limit - tokens) });
  const kept = fromHead(history, key);
  if (kept && kept.length < history.length) {
    const tokens = promptTokens(kept, functions);
    if (tokens + maxTokens <= limit) return fitted(kept, tokens);
  }
  let tokens = promptTokens(history, functions);
  if (tokens + maxTokens <= limit) {
    heads.delete(key);
    return fitted(history, tokens);
  }
  let least = history;
  for (let next = dropOldest(least); next; next = dropOldest(least)) least = next;
  const base = promptTokens(least, functions);
  const target = base + Math.max(0, Math.floor((limit - maxTokens - base) / 2));
  let h = history;
  while (tokens > target) {
    const next = dropOldest(h);
    if (!next) break;
    h = next;
    tokens = promptTokens(h, functions);
  }
  const head = h.find((item) => item.type !== 'system');
  if (head) heads.set(key, head);
  return { ...fitted(h, tokens), cut: true };
}

/** What runs for one request: its controller, and the call it belongs to ('' for requests without a callSid). */
function track(msg) {
  const controller = new AbortController();
  running.set(msg.id, { controller, key: msg.callSid ?? '' });
  return controller;
}

async function runChat(msg, controller) {
  if (controller.signal.aborted) return send({ t: 'done', id: msg.id, aborted: true });
  if (!state) return send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: 'llama.cpp is not loaded' });
  const started = performance.now();
  const key = msg.callSid ?? '';
  let slot = null;
  try {
    // Tools (extension to v1): offered as node-llama-cpp functions without handlers, so a call ends the response
    // (stopReason "functionCalls") and is handed to the host; nothing runs here.
    let functions = toFunctions(msg.tools);
    if (functions) state.lastFunctions = functions;
    const history = toHistory(msg.messages);
    let fitted = fitHistory(history, msg.maxTokens, functions, key);
    if (functions && fitted.promptTokens + msg.maxTokens > state.context.contextSize - 1) {
      // The tools' documentation leaves no room for the reply even with the old turns dropped: answer without
      // tools (allowed by the contract) rather than not at all.
      log('info', 'the tools do not fit llama-llm.contextSize; this turn is answered without them', { promptTokens: fitted.promptTokens, contextSize: state.context.contextSize, tools: Object.keys(functions).length });
      functions = undefined;
      fitted = fitHistory(history, msg.maxTokens, undefined, key);
    }
    if (fitted.maxTokens < 1) {
      return send({
        t: 'error',
        id: msg.id,
        code: 'PLUGIN_FAILED',
        message: `the conversation needs ${fitted.promptTokens} tokens, more than llama-llm.contextSize (${state.context.contextSize}) allows even after dropping old turns; raise llama-llm.contextSize.`,
      });
    }
    if (fitted.cut) log('info', 'history trimmed to fit the context', { dropped: fitted.dropped, promptTokens: fitted.promptTokens, contextSize: state.context.contextSize });
    const taken = await state.pool.acquire(key, controller.signal);
    slot = taken.slot;
    const sequence = slot.sequence;
    const cachedBefore = sequence.nextTokenIndex;
    const inputBefore = sequence.tokenMeter.usedInputTokens;
    const outputBefore = sequence.tokenMeter.usedOutputTokens;
    let evaluatedPromptTokens = null;
    let firstTokenMs = null;
    let chunks = 0;
    // toolChoice "required": the caller's turn must start with a call of one of the tools. The function-calling
    // mode is entered at once and the name and arguments are generated under node-llama-cpp's grammar.
    const control = forcing.get(slot.chat);
    const opening = fitted.history.at(-1)?.type === 'model' && fitted.history.at(-1).response.length === 0 && fitted.history.at(-2)?.type === 'user';
    if (control) control.forceFunctionCall = !!functions && msg.toolChoice === 'required' && opening;
    const result = await slot.chat.generateResponse(fitted.history, {
      ...(functions ? { functions, documentFunctionParams: true } : {}),
      maxTokens: fitted.maxTokens,
      temperature: msg.temperature,
      signal: controller.signal,
      stopOnAbortSignal: true,
      onToken: () => {
        // The first sampled token: everything evaluated so far was this turn's prompt.
        evaluatedPromptTokens ??= sequence.tokenMeter.usedInputTokens - inputBefore;
      },
      onTextChunk: (text) => {
        if (!text) return;
        firstTokenMs ??= performance.now() - started;
        chunks++;
        send({ t: 'delta', id: msg.id, text });
      },
    });
    for (const [i, call] of (result.functionCalls ?? []).entries()) {
      if (controller.signal.aborted) break;
      send({ t: 'tool_call', id: msg.id, call: { id: `call_${msg.id}_${i}_${Math.random().toString(36).slice(2, 8)}`, name: call.functionName, arguments: call.params ?? {} } });
    }
    send({
      t: 'done',
      id: msg.id,
      aborted: controller.signal.aborted,
      stats: {
        callSid: msg.callSid ?? null,
        sequence: slot.index,
        evicted: taken.evicted === null ? undefined : taken.evicted || null,
        promptTokens: fitted.promptTokens,
        cachedTokens: cachedBefore,
        evaluatedPromptTokens: evaluatedPromptTokens ?? sequence.tokenMeter.usedInputTokens - inputBefore,
        droppedTurns: fitted.dropped,
        historyCut: fitted.cut,
        firstTokenMs: firstTokenMs === null ? null : Math.round(firstTokenMs),
        totalMs: Math.round(performance.now() - started),
        chunks,
        outputTokens: sequence.tokenMeter.usedOutputTokens - outputBefore,
        stopReason: result.metadata?.stopReason,
        toolCalls: result.functionCalls?.length || undefined,
      },
    });
  } catch (err) {
    if (controller.signal.aborted) send({ t: 'done', id: msg.id, aborted: true });
    else send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: `llama.cpp failed while answering: ${err?.message ?? err}` });
  } finally {
    const control = slot ? forcing.get(slot.chat) : undefined;
    if (control) control.forceFunctionCall = false;
    if (slot) state.pool.release(slot);
    running.delete(msg.id);
  }
}

/**
 * The tokens that every next turn of this conversation starts with: the messages rendered once with two different
 * user turns after them, cut where the two renderings part.
 */
function stablePrefixTokens(messages, key) {
  const all = toHistory(messages).filter((item) => !(item.type === 'model' && item.response.length === 0));
  // Where the call's turns are cut to fit the context, they start at the same turn (fitHistory).
  const history = fromHead(all, key) ?? all;
  const render = (text) => {
    // With the tools the last chat was offered (calls of one app are offered the same ones): the prefix the
    // next turn's prompt, which documents them in the system message, starts with.
    const functions = state.lastFunctions ? { availableFunctions: state.lastFunctions, documentFunctionParams: true } : {};
    const { contextText } = state.chatWrapper.generateContextState({ chatHistory: [...history, { type: 'user', text }, { type: 'model', response: [] }], ...functions });
    return contextText.tokenize(state.model.tokenizer);
  };
  const a = render('yes');
  const b = render('Could you help me, please?');
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return a.slice(0, n);
}

/** Evaluate the call's opening (system prompt, greeting) into its sequence before the caller speaks. */
async function runPrepare(msg, controller) {
  if (controller.signal.aborted) return send({ t: 'prepared', id: msg.id, aborted: true });
  if (!state) return send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: 'llama.cpp is not loaded' });
  let slot = null;
  try {
    const tokens = stablePrefixTokens(msg.messages, msg.callSid);
    // Leave room for a turn: an opening that fills the context would only be trimmed away again.
    if (tokens.length + msg.maxTokens >= state.context.contextSize) {
      log('info', 'prepare skipped: the opening is too long to keep', { callSid: msg.callSid, tokens: tokens.length, contextSize: state.context.contextSize });
      return send({ t: 'prepared', id: msg.id, stats: { tokens: tokens.length, evaluated: 0 } });
    }
    ({ slot } = await state.pool.acquire(msg.callSid, controller.signal));
    const sequence = slot.sequence;
    await sequence.adaptStateToTokens(tokens, false);
    const rest = tokens.slice(sequence.nextTokenIndex);
    if (rest.length > 0 && !controller.signal.aborted) await sequence.evaluateWithoutGeneratingNewTokens(rest);
    send({ t: 'prepared', id: msg.id, aborted: controller.signal.aborted, stats: { callSid: msg.callSid, sequence: slot.index, tokens: tokens.length, evaluated: rest.length } });
  } catch (err) {
    if (controller.signal.aborted) send({ t: 'prepared', id: msg.id, aborted: true });
    else send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: `llama.cpp failed while preparing the call: ${err?.message ?? err}` });
  } finally {
    if (slot) state.pool.release(slot);
    running.delete(msg.id);
  }
}

/** The call ended: stop what it still has running, then clear its sequence for the next call. */
async function runEndCall(msg) {
  try {
    heads.delete(msg.callSid);
    const freed = state ? await state.pool.end(msg.callSid) : false;
    send({ t: 'ended', id: msg.id, freed });
  } catch (err) {
    send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: `llama.cpp failed to free the call's sequence: ${err?.message ?? err}` });
  }
}

process.on('message', (msg) => {
  switch (msg?.t) {
    case 'load':
      loaded = loaded.then(() => load({ ...msg, threads: msg.threads > 0 ? msg.threads : Math.max(1, Math.min(4, availableParallelism())) }));
      break;
    case 'chat': {
      const controller = track(msg);
      loaded.then(() => queues.run(msg.callSid ?? '', () => runChat(msg, controller)));
      break;
    }
    case 'prepare': {
      const controller = track(msg);
      loaded.then(() => queues.run(msg.callSid, () => runPrepare(msg, controller)));
      break;
    }
    case 'end-call':
      for (const work of running.values()) if (work.key === msg.callSid) work.controller.abort();
      loaded.then(() => queues.run(msg.callSid, () => runEndCall(msg)));
      break;
    case 'abort':
      running.get(msg.id)?.controller.abort();
      break;
    default:
      break;
  }
});
