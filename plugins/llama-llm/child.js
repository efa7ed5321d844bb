// The llama.cpp child process. Started by index.js with child_process.fork; it imports node-llama-cpp from the
// path the host resolved (ctx.resolve), loads one model and answers one chat at a time over IPC. Anything fatal
// here (a malformed file, a native crash) ends this process only; the parent restarts it at the next turn.
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';

/** @type {{ llama: any, model: any, context: any, chat: any, settings: any } | null} */
let state = null;
/** Chats run strictly one after another on the single context sequence; abort controllers by chat id. */
let queue = Promise.resolve();
const controllers = new Map();

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
  let context;
  try {
    context = await model.createContext({ contextSize: Math.min(msg.contextSize, model.trainContextSize || msg.contextSize), threads: msg.threads, sequences: 1 });
  } catch (err) {
    return send({ t: 'load-error', code: 'PLUGIN_FAILED', message: `llama.cpp could not create a ${msg.contextSize}-token context for ${msg.model}: ${err?.message ?? err}. Lower llama-llm.contextSize.` });
  }
  const chat = new runtime.LlamaChat({ contextSequence: context.getSequence(), chatWrapper: 'auto' });
  state = { llama, model, context, chat, settings: msg };
  // Warm up: one token through the chat template pages the weights in and proves the template renders.
  try {
    await chat.generateResponse([{ type: 'user', text: 'Hi' }, { type: 'model', response: [] }], { maxTokens: 1 });
  } catch (err) {
    return send({ t: 'load-error', code: 'MODEL_CORRUPT', message: `${msg.model} loaded but failed to generate (${err?.message ?? err}); its chat template or weights are broken.` });
  }
  send({
    t: 'ready',
    info: {
      chatWrapper: chat.chatWrapper.wrapperName,
      gpu: llama.gpu,
      threads: msg.threads,
      contextSize: context.contextSize,
      trainContextSize: model.trainContextSize,
      loadMs: Math.round(performance.now() - started),
    },
  });
}

function toHistory(messages) {
  const history = messages.map((m) =>
    m.role === 'system' ? { type: 'system', text: m.content } : m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: 'user', text: m.content },
  );
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

function promptTokens(history) {
  const { contextText } = state.chat.chatWrapper.generateContextState({ chatHistory: history });
  return contextText.tokenize(state.model.tokenizer).length;
}

/** Drop the oldest non-system turns until prompt + reply fit the context; system messages and the last turn stay. */
function fitHistory(history, maxTokens) {
  const limit = state.context.contextSize - 1;
  let h = history;
  let dropped = 0;
  let tokens = promptTokens(h);
  while (tokens + maxTokens > limit) {
    // Keep the final user message and the (empty) model item after it.
    const lastUser = h.findLastIndex((item) => item.type === 'user');
    const victim = h.findIndex((item, i) => item.type !== 'system' && i < lastUser);
    if (victim === -1) break;
    h = h.filter((_, i) => i !== victim);
    // A conversation should not resume with the model speaking first.
    while (true) {
      const first = h.findIndex((item) => item.type !== 'system');
      if (first === -1 || h[first].type !== 'model' || first === h.length - 1) break;
      h = h.filter((_, i) => i !== first);
      dropped++;
    }
    dropped++;
    tokens = promptTokens(h);
  }
  const room = limit - tokens;
  return { history: h, dropped, promptTokens: tokens, maxTokens: Math.min(maxTokens, room) };
}

async function runChat(msg) {
  const controller = controllers.get(msg.id);
  if (!controller || controller.signal.aborted) {
    controllers.delete(msg.id);
    return send({ t: 'done', id: msg.id, aborted: true });
  }
  if (!state) return send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: 'llama.cpp is not loaded' });
  const started = performance.now();
  try {
    const fitted = fitHistory(toHistory(msg.messages), msg.maxTokens);
    if (fitted.maxTokens < 1) {
      return send({
        t: 'error',
        id: msg.id,
        code: 'PLUGIN_FAILED',
        message: `the conversation needs ${fitted.promptTokens} tokens, more than llama-llm.contextSize (${state.context.contextSize}) allows even after dropping old turns; raise llama-llm.contextSize.`,
      });
    }
    if (fitted.dropped > 0) log('info', 'history trimmed to fit the context', { dropped: fitted.dropped, promptTokens: fitted.promptTokens, contextSize: state.context.contextSize });
    const sequence = state.chat.sequence;
    const inputBefore = sequence.tokenMeter.usedInputTokens;
    const outputBefore = sequence.tokenMeter.usedOutputTokens;
    let firstTokenMs = null;
    let chunks = 0;
    const result = await state.chat.generateResponse(fitted.history, {
      maxTokens: fitted.maxTokens,
      temperature: msg.temperature,
      signal: controller.signal,
      stopOnAbortSignal: true,
      onTextChunk: (text) => {
        if (!text) return;
        firstTokenMs ??= performance.now() - started;
        chunks++;
        send({ t: 'delta', id: msg.id, text });
      },
    });
    const totalMs = performance.now() - started;
    send({
      t: 'done',
      id: msg.id,
      aborted: controller.signal.aborted,
      stats: {
        promptTokens: fitted.promptTokens,
        evaluatedPromptTokens: sequence.tokenMeter.usedInputTokens - inputBefore,
        droppedTurns: fitted.dropped,
        firstTokenMs: firstTokenMs === null ? null : Math.round(firstTokenMs),
        totalMs: Math.round(totalMs),
        chunks,
        outputTokens: sequence.tokenMeter.usedOutputTokens - outputBefore,
        stopReason: result.metadata?.stopReason,
      },
    });
  } catch (err) {
    if (controller.signal.aborted) send({ t: 'done', id: msg.id, aborted: true });
    else send({ t: 'error', id: msg.id, code: 'PLUGIN_FAILED', message: `llama.cpp failed while answering: ${err?.message ?? err}` });
  } finally {
    controllers.delete(msg.id);
  }
}

process.on('message', (msg) => {
  switch (msg?.t) {
    case 'load':
      queue = queue.then(() => load({ ...msg, threads: msg.threads > 0 ? msg.threads : Math.max(1, Math.min(4, availableParallelism())) }));
      break;
    case 'chat':
      controllers.set(msg.id, new AbortController());
      queue = queue.then(() => runChat(msg));
      break;
    case 'abort':
      controllers.get(msg.id)?.abort();
      break;
    default:
      break;
  }
});
