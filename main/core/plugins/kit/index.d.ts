// Types of the plugin kit (index.js), `await ctx.import('parley:kit')`. See docs/plugins.md.
import type { Stats } from 'node:fs';
import type { PluginContext, PluginLog } from '../api.ts';

export * from './clauses.js';

/** The kit's own version; it grows only by additions. */
export const version: 1;

export interface PluginError extends Error {
  code: string;
  details?: Record<string, unknown>;
}

/** An Error with a `code` the host understands (MODEL_MISSING, MODEL_CORRUPT, PLUGIN_FAILED, ...). */
export function pluginError(code: string, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }): PluginError;
/** `name === 'AbortError'`, `code === 'ABORT_ERR'`, with the signal's reason as its cause. */
export function abortError(signal?: AbortSignal): Error & { code: 'ABORT_ERR' };
/** Settles like `promise`, or rejects with an AbortError as soon as `signal` aborts (calling `onAbort` first). */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal, onAbort?: () => void): Promise<T>;
/** Wait `ms`, or reject with an AbortError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void>;

/** The file's stats, or null when there is nothing at `path`. */
export function statOrNull(path: string): Stats | null;
/** MODEL_MISSING naming the pull command and the file looked for; `details: { model, file }`. */
export function modelMissing(modelId: string, file: string): PluginError;

export interface OnnxFeed {
  type: 'int64' | 'float32';
  data: BigInt64Array | Float32Array;
  dims: number[];
}

export interface OnnxSession {
  readonly mode: 'child-process' | 'in-process';
  /** The model process's id ('child-process' mode), for logs. */
  readonly pid?: number;
  readonly inputNames: string[];
  readonly outputNames: string[];
  readonly inputMetadata: { name: string; type?: string; shape?: unknown[] }[];
  /** One run; resolves with the first output. Rejects at once with an AbortError when `signal` aborts. */
  run(feeds: Record<string, OnnxFeed>, signal?: AbortSignal): Promise<{ data: Float32Array; dims: number[] }>;
  dispose(): Promise<void>;
}

/**
 * Open an ONNX model with the host's onnxruntime-node, in a child process of its own when `ctx.resolve` is there
 * (a run never blocks the plugin's process, a crash costs one run), in-process otherwise. MODEL_CORRUPT when
 * onnxruntime cannot load it.
 */
export function openOnnxSession(options: { ctx: Pick<PluginContext, 'import' | 'resolve'> & { log: PluginLog }; modelPath: string; sessionOptions?: Record<string, unknown> }): Promise<OnnxSession>;
/** onnxruntime's intra-op threads: `setting` when a positive integer, else half the cores (1-4). */
export function threadCount(setting: unknown): number;

/** `await work(item, signal)` for each item in order, one item ahead of the consumer; `undefined` results skipped. */
export function runAhead<I, R>(items: readonly I[], work: (item: I, signal: AbortSignal) => Promise<R | undefined>, signal?: AbortSignal): AsyncGenerator<R>;

/** Written English made speakable: numbers, times, money, phone numbers, abbreviations, symbols. */
export function normalizeEnglish(text: string): string;
export function numberToWords(value: number | bigint | string): string;
export function integerToWords(n: number): string;
export function ordinalToWords(n: number | bigint): string;
export function digitsToWords(digits: string): string;
