/**
 * The IPC messages between the app's PluginProxy (plugin-proxy.ts) and the plugin host in a plugin's child
 * process (plugin-host.ts). Errors cross as plain objects and are rebuilt on the other side.
 */
import type { PluginKind, ToolCallContext, ToolSpec } from './api.ts';

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/**
 * Largest IPC message a plugin's process may send (an audio chunk, a transcript, a log line with its fields):
 * the app's process holds a whole message in memory before it sees it, so the plugin host refuses to send a
 * bigger one and fails that request instead. 16 MB is ~90 s of 44.1 kHz float audio in one chunk.
 */
export const MAX_PLUGIN_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The instance methods the app calls. `prepare` and `endCall` are optional (LLM extensions to v1); `call` is a tool's. */
export type PluginMethod = 'transcribe' | 'chat' | 'synthesize' | 'predict' | 'prepare' | 'endCall' | 'call';

/** Methods that answer with one result (the others stream items). */
export const SINGLE_RESULT_METHODS: readonly PluginMethod[] = ['transcribe', 'predict', 'prepare', 'endCall', 'call'];

/** Optional methods: a plugin without one answers as if it did nothing (a no-op), never with an error. */
export const OPTIONAL_METHODS: readonly PluginMethod[] = ['prepare', 'endCall'];

/**
 * What a call carries besides its arguments and signal (extensions to v1). Sent only when set, and handed to
 * the plugin only when set: a plugin that does not use them gets exactly `{ signal }`, as before.
 */
export interface CallExtras {
  callSid?: string;
  /** `chat`: the tools the LLM may call. */
  tools?: ToolSpec[];
  /** A tool's `call`: the call it runs for. */
  call?: ToolCallContext;
}

/** App → plugin host. */
export type ToPluginHost =
  | { t: 'init'; name: string; kind: PluginKind; dir: string; main: string; settings: Record<string, unknown>; modelDir: string; maxMessageBytes?: number }
  | { t: 'inspect'; dir: string; main: string }
  | { t: 'call'; id: number; method: PluginMethod; args: unknown[]; options?: CallExtras }
  | { t: 'next'; id: number }
  | { t: 'abort'; id: number; reason: string }
  | { t: 'return'; id: number }
  | { t: 'ping'; id: number }
  | { t: 'dispose' };

/** Plugin host → app. */
export type FromPluginHost =
  | { t: 'ready'; /** A tool plugin's tools (checked by the host). */ tools?: ToolSpec[] }
  | { t: 'init-error'; error: SerializedError }
  | { t: 'inspected'; error: SerializedError | null }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'item'; id: number; value: unknown }
  | { t: 'done'; id: number }
  | { t: 'error'; id: number; error: SerializedError }
  | { t: 'pong'; id: number }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  | { t: 'disposed' };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : `non-Error thrown: ${String(err)}` };
}

export function deserializeError(e: SerializedError): Error & { code?: string } {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code) err.code = e.code;
  if (e.stack) err.stack = e.stack;
  return err;
}
