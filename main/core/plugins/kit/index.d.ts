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

/** Speech-like sound check (20 ms frames: loud enough, not hiss-like) before an STT model runs. */
export function speechCheck(samples: Float32Array, sampleRate: number, options?: { minRms?: number; minSpeechMs?: number }): { speech: boolean; reason: 'speech' | 'silence' | 'noise' | 'too short'; speechMs: number; rms: number };
/** A transcript without known hallucinations (non-speech tags, subtitle credits, stock phrases, loops). */
export function cleanTranscript(raw: string): { text: string; removed: string[] };

/** STT plugins on transformers.js (asr.js). */
export const ASR_SAMPLE_RATE: 16000;
export const DTYPE_SUFFIX: Record<'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4', string>;
/** The files transformers.js loads for a seq2seq ASR pipeline (Whisper, Moonshine) with this dtype. */
export function asrModelFiles(dtype: string): string[];
export interface AsrModelFolder {
  dir: string;
  /** The catalogue model's id, or null for the user's own folder. */
  id: string | null;
  dtype: string;
}
/** The `model` setting's folder or the catalogue default, complete; MODEL_MISSING naming the files and the fix. */
export function resolveAsrModelFolder(settings: Record<string, unknown>, modelDir: string, options: { plugin: string; label: string; manifestUrl: URL }): AsrModelFolder;
/** The ASR pipeline, local files only, on the CPU; MODEL_CORRUPT when unloadable or not a `modelType` model. */
export function loadAsrPipeline(options: { transformers: unknown; folder: AsrModelFolder; plugin: string; label: string; modelType: string; threads?: number }): Promise<any>;
export function speechGuardSettings(settings: Record<string, unknown>): { minRms: number; minSpeechMs: number };
/** transcribe() around a model run: input checks, length cap, speech guard, one at a time, abort, cleaning. */
export class GuardedTranscriber {
  constructor(options: {
    log: PluginLog;
    plugin: string;
    label: string;
    guard: { minRms: number; minSpeechMs: number };
    run: (samples: Float32Array, stop: { interrupted: boolean; interrupt(): void } | null) => Promise<string>;
    newStop: () => { interrupted: boolean; interrupt(): void };
    maxSeconds?: number;
  });
  readonly disposed: boolean;
  warmUp(): Promise<void>;
  transcribe(audio: { samples: Float32Array; sampleRate: number }, options?: { signal?: AbortSignal }): Promise<{ text: string }>;
  dispose(release?: () => Promise<void> | void): Promise<void>;
}

/** Whisper's log-mel front end (log-mel.js), shared by whisper-stt's features and smart-turn. */
export const MEL_FLOOR: number;
/** A periodic Hann window of `n` samples (as torch.hann_window(n, periodic=True)). */
export function periodicHann(n: number): Float64Array;
/** Slaney-scale mel filters, [nMels][nFft / 2 + 1]. */
export function slaneyMelFilters(options: { nMels: number; nFft: number; sampleRate: number; fMin?: number; fMax?: number }): Float64Array[];
/**
 * A log-mel function for one configuration (Whisper's: reflect-padded STFT, power, mel, log10 with MEL_FLOOR, clamp
 * to max − 8, (x + 4) / 4): `compute(samples, isStopped)` resolves to [n_mels][frames] for `samples` padded or cut
 * to `windowSamples`, or null once `isStopped()` is true. Frames over trailing zero padding are skipped unless
 * `allFrames`.
 */
export function logMelSpectrogram(options: { nFft: number; hop: number; window: ArrayLike<number>; melFilters: ArrayLike<number>[]; windowSamples: number; frames?: number; allFrames?: boolean }): (samples: Float32Array, isStopped?: () => boolean) => Promise<Float32Array | null>;
