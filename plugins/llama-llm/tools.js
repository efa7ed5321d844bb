// Tools for llama-llm (extension to plugin API v1), inside the child process: Parley's tool specs as
// node-llama-cpp functions, Parley's messages (assistant `toolCalls`, `tool` results) as node-llama-cpp chat
// history, and the chat-template wrapper that can force a function call.

/** Parley's messages as node-llama-cpp chat history, ending with the model response to generate (or continue). */
export function toHistory(messages) {
  const history = [];
  const results = new Map();
  for (const m of messages) if (m.role === 'tool') results.set(m.toolCallId, m.content);
  const model = () => {
    // Only a response that called tools goes on in the next assistant message (two plain assistant messages in a
    // row stay two responses, as before tools existed).
    const last = history.at(-1);
    if (last?.type === 'model' && last.response.some((r) => typeof r === 'object' && r?.type === 'functionCall')) return last;
    const item = { type: 'model', response: [] };
    history.push(item);
    return item;
  };
  for (const m of messages) {
    if (m.role === 'system') history.push({ type: 'system', text: m.content });
    else if (m.role === 'user') history.push({ type: 'user', text: m.content });
    else if (m.role === 'assistant') {
      // An assistant step that called tools, the tools' results and the text after them are one model response.
      const item = model();
      if (m.content) item.response.push(m.content);
      for (const call of m.toolCalls ?? []) {
        const result = results.get(call.id);
        item.response.push({ type: 'functionCall', name: call.name, params: call.arguments ?? {}, result: result ?? 'Error: no result' });
      }
    }
    // role "tool": carried in its call's functionCall item above.
  }
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

/** The tools offered this turn as node-llama-cpp functions (no handler: a call is handed back, never run here). */
export function toFunctions(tools) {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const functions = {};
  for (const tool of tools) {
    if (!tool || typeof tool.name !== 'string') continue;
    const params = toGrammarSchema(tool.parameters);
    const empty = params.type === 'object' && Object.keys(params.properties ?? {}).length === 0;
    functions[tool.name] = { description: typeof tool.description === 'string' ? tool.description : '', ...(empty ? {} : { params }) };
  }
  return Object.keys(functions).length > 0 ? functions : undefined;
}

const ANY = { type: ['string', 'number', 'boolean', 'null'] };
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);

/**
 * A tool's JSON Schema in the subset node-llama-cpp turns into a grammar (GbnfJsonSchema). Keywords outside it
 * (minimum, pattern, …) are dropped: the grammar is looser than the schema there, and Parley checks every call's
 * arguments against the full schema before the tool runs.
 */
export function toGrammarSchema(schema, depth = 0) {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema) || depth > 8) return ANY;
  const description = typeof schema.description === 'string' ? { description: schema.description } : {};
  if ('const' in schema) return { const: schema.const, ...description };
  const values = Array.isArray(schema.enum) ? schema.enum.filter((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v)) : [];
  if (values.length > 0) return { enum: values, ...description };
  const variants = Array.isArray(schema.oneOf) ? schema.oneOf : Array.isArray(schema.anyOf) ? schema.anyOf : null;
  if (variants && variants.length > 0) return { oneOf: variants.map((v) => toGrammarSchema(v, depth + 1)), ...description };
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter((t) => TYPES.has(t));
  if (types.length !== 1) {
    const simple = types.filter((t) => t !== 'object' && t !== 'array');
    return simple.length > 0 && simple.length === types.length ? { type: simple, ...description } : { ...ANY, ...description };
  }
  const type = types[0];
  if (type === 'object') {
    const properties = {};
    for (const [key, sub] of Object.entries(schema.properties ?? {})) properties[key] = toGrammarSchema(sub, depth + 1);
    const required = Array.isArray(schema.required) ? schema.required.filter((k) => k in properties) : [];
    return { type: 'object', properties, required, ...(schema.additionalProperties === true ? { additionalProperties: true } : {}), ...description };
  }
  if (type === 'array') {
    const out = { type: 'array', items: toGrammarSchema(schema.items, depth + 1), ...description };
    if (Number.isInteger(schema.minItems)) out.minItems = schema.minItems;
    if (Number.isInteger(schema.maxItems)) out.maxItems = schema.maxItems;
    return out;
  }
  if (type === 'string') {
    if (['date-time', 'time', 'date'].includes(schema.format)) return { type: 'string', format: schema.format, ...description };
    const out = { type: 'string', ...description };
    if (Number.isInteger(schema.minLength)) out.minLength = schema.minLength;
    if (Number.isInteger(schema.maxLength)) out.maxLength = schema.maxLength;
    return out;
  }
  return { type, ...description };
}

/**
 * The model's chat template, unchanged unless `control.forceFunctionCall` is set for a request: then the context
 * state says function calling is engaged from the first generated token (node-llama-cpp's `functionCall.
 * initiallyEngaged`), so llama.cpp generates a function name from the offered ones and its arguments under the
 * grammar node-llama-cpp builds from their schemas — a call is certain, not the model's choice.
 */
export function forcingWrapper(inner, control) {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'generateContextState' || !control.forceFunctionCall) return Reflect.get(target, prop, receiver);
      return (options) => {
        const state = target.generateContextState.call(receiver, options);
        return {
          contextText: state.contextText,
          stopGenerationTriggers: state.stopGenerationTriggers,
          ...(state.ignoreStartText ? { ignoreStartText: state.ignoreStartText } : {}),
          functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
        };
      };
    },
  });
}
