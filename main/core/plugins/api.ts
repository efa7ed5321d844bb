/**
 * The plugin contract, API version 1. Built-in and third-party plugins use exactly this; docs/plugins.md is
 * the prose version. Extend only by adding optional members — never rename or reshape what is here.
 */
import type { ModelSpec, PluginKind, SettingSpec, ToolSpec } from '../../shared/plugins.ts';

// The shapes the GUI sees too live in main/shared/plugins.ts; they are part of this contract all the same.
export type { ModelFileSpec, ModelSpec, PluginKind, SettingSpec, ToolSpec } from '../../shared/plugins.ts';

export const PLUGIN_API_VERSION = 1;

export const PLUGIN_KINDS: readonly PluginKind[] = ['stt', 'llm', 'tts', 'turn', 'tool'];

/**
 * Kinds a call cannot do without. The others (`turn`, `tool`) are optional: a call runs without one (`none`).
 * A `tool` kind has no single active plugin: every selected tool plugin is active at once.
 */
export const REQUIRED_PLUGIN_KINDS: readonly PluginKind[] = ['stt', 'llm', 'tts'];

export interface PluginManifest {
  name: string;
  kind: PluginKind;
  version: string;
  apiVersion: number;
  main: string;
  description: string;
  settings: Record<string, SettingSpec>;
  models: ModelSpec[];
}

/** A tool call the LLM made (extension to v1), as it appears in an assistant message. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/**
 * Extension to v1: besides text, messages may hold an assistant message with `toolCalls` and the tools' results
 * (`role: 'tool'`). An LLM that is never offered tools never sees either.
 */
export type ChatMessage =
  | { role: 'system' | 'user' | 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string };

/** What `chat` may yield besides text deltas (extension to v1): a call of one of the offered tools. */
export interface ToolCallItem extends ToolCall {
  type: 'tool_call';
}

export interface CallOptions {
  signal: AbortSignal;
  /**
   * Extension to v1: the call this request belongs to, when the host knows it. A plugin may keep per-call state
   * under it (llama-llm keeps each call's KV cache); plugins that ignore it work unchanged.
   */
  callSid?: string;
}

/** Extension to v1: `chat` options may carry the tools the LLM may call this turn. */
export interface ChatOptions extends CallOptions {
  tools?: ToolSpec[];
}

/** The call a tool runs for (extension to v1). */
export interface ToolCallContext {
  callSid: string;
  from: string | null;
  to: string | null;
  direction: 'inbound' | 'outbound';
}

export interface ToolCallOptions {
  signal: AbortSignal;
  call: ToolCallContext;
}

export interface AudioChunk {
  samples: Float32Array;
  sampleRate: number;
}

export interface SttInstance {
  transcribe(audio: { samples: Float32Array; sampleRate: 16000 }, options: CallOptions): Promise<{ text: string }>;
  dispose?(): Promise<void>;
}

export interface LlmInstance {
  /** Text deltas; with `options.tools`, also tool calls (a plugin that ignores tools yields strings only). */
  chat(messages: ChatMessage[], options: CallOptions & { tools?: undefined }): AsyncIterable<string>;
  chat(messages: ChatMessage[], options: ChatOptions): AsyncIterable<string | ToolCallItem>;
  /**
   * Extension to v1, optional: evaluate these messages ahead of time (the system prompt and the greeting, when
   * the call starts), so the first turn pays only for its new tokens. Resolves when done; never required.
   */
  prepare?(messages: ChatMessage[], options: CallOptions): Promise<void>;
  /** Extension to v1, optional: the call ended; free what was kept for it (its KV cache, its sequence). */
  endCall?(callSid: string): Promise<void>;
  dispose?(): Promise<void>;
}

export interface TtsInstance {
  synthesize(text: string, options: CallOptions): AsyncIterable<AudioChunk>;
  dispose?(): Promise<void>;
}

/**
 * Extension to v1, `"kind": "turn"`: a turn model. Given the audio of the caller's current turn so far (16 kHz),
 * the probability in [0, 1] that the caller has finished. Asked after a short silence; the engine ends the turn
 * at once when it says complete, and waits up to the full end-of-turn silence when it says not.
 */
export interface TurnInstance {
  predict(audio: { samples: Float32Array; sampleRate: 16000 }, options: CallOptions): Promise<{ complete: number }>;
  dispose?(): Promise<void>;
}

/**
 * Extension to v1, `"kind": "tool"`: tools for the LLM. Any number of tool plugins are active at once. `call`
 * resolves with text for the LLM, or an object: `{ content, actions? }` (actions are carried out by the host,
 * see main/core/tools/actions.ts), or any other JSON value (sent to the LLM as JSON).
 */
export interface ToolInstance {
  tools: ToolSpec[];
  call(name: string, args: Record<string, unknown>, options: ToolCallOptions): Promise<unknown>;
  dispose?(): Promise<void>;
}

export type PluginInstance = SttInstance | LlmInstance | TtsInstance | TurnInstance | ToolInstance;

export interface InstanceByKind {
  stt: SttInstance;
  llm: LlmInstance;
  tts: TtsInstance;
  turn: TurnInstance;
  tool: ToolInstance;
}

/** Runtimes the host hands to plugins through `ctx.import(name)`, so plugin folders carry no node_modules. */
export const HOST_RUNTIMES = ['onnxruntime-node', '@huggingface/transformers', 'node-llama-cpp', 'phonemizer'] as const;
export type HostRuntime = (typeof HOST_RUNTIMES)[number];

/**
 * Extension to the v1 contract: `ctx.import(PLUGIN_KIT)` is the plugin kit (kit/index.js), the helpers plugins
 * share instead of copying — errors, the ONNX child-process runner, text normalization, the clause splitter.
 */
export const PLUGIN_KIT = 'parley:kit';

export interface PluginLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface PluginContext {
  /** Manifest defaults merged with the user's settings for this plugin. */
  settings: Record<string, unknown>;
  /** The models folder; a model with id X lives in `join(modelDir, X)` with its files laid out as in `ModelSpec.files`. */
  modelDir: string;
  log: PluginLog;
  /** One of the host's runtimes (HOST_RUNTIMES), or the plugin kit (PLUGIN_KIT). Anything else rejects with a clear error. */
  import(name: string): Promise<any>;
  /**
   * Extension to the v1 contract: the absolute file path of a host runtime's entry, for plugins that run a
   * runtime in a child process of their own (llama.cpp does, so a native crash costs one turn, not the app).
   */
  resolve?(name: string): string;
  /** Extension: the plugin's own folder. */
  pluginDir?: string;
}

export interface PluginModule {
  create(ctx: PluginContext): Promise<PluginInstance>;
}
