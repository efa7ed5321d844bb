/** Helpers for driving the TTS plugins directly (contexts come from plugin-context.ts). */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginContext, PluginManifest, TtsInstance } from '../../main/core/plugins/api.ts';
import { importPlugin, makePluginContext, rejection, type ContextOptions, type LogLine, type TestPluginContext } from './plugin-context.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function ttsPluginDir(name: 'melo-tts' | 'piper-tts'): string {
  return join(ROOT, 'plugins', name);
}

export type TtsTestContext = TestPluginContext & { manifest: PluginManifest; /** Same array as `logs`. */ lines: LogLine[] };

export type TtsContextOptions = Omit<ContextOptions, 'pluginDir'>;

/** A context for a TTS plugin (see makePluginContext), with its log lines also under `lines`. */
export async function makeTtsContext(pluginDir: string, options: TtsContextOptions = {}): Promise<TtsTestContext> {
  const ctx = await makePluginContext({ pluginDir, ...options });
  return Object.assign(ctx, { lines: ctx.logs });
}

/** Create a TTS instance from a plugin folder the way the host does: import its main file by URL. */
export async function createTts(pluginDir: string, ctx: PluginContext): Promise<TtsInstance> {
  return (await (await importPlugin(pluginDir)).create(ctx)) as TtsInstance;
}

export interface Spoken {
  chunks: Float32Array[];
  sampleRate: number;
  /** ms from the call to synthesize() until each chunk arrived. */
  arrivals: number[];
  samples: Float32Array;
}

/** Run synthesize() to the end, keeping every chunk and when it came. */
export async function speakAll(tts: TtsInstance, text: string, signal: AbortSignal = new AbortController().signal): Promise<Spoken> {
  const t0 = performance.now();
  const chunks: Float32Array[] = [];
  const arrivals: number[] = [];
  let sampleRate = 0;
  for await (const chunk of tts.synthesize(text, { signal })) {
    arrivals.push(performance.now() - t0);
    chunks.push(chunk.samples);
    sampleRate = chunk.sampleRate;
  }
  const samples = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    samples.set(c, offset);
    offset += c.length;
  }
  return { chunks, sampleRate, arrivals, samples };
}


/**
 * Take the first chunk of a three-sentence text, then abort 20 ms into the next run: how long the first run took
 * (the next one is in flight about as long), what the iterator rejected with, and how soon after the abort.
 */
export async function abortMidRun(tts: TtsInstance): Promise<{ runMs: number; err: Error; stoppedMs: number }> {
  const ac = new AbortController();
  const it = tts.synthesize('Hello world. Thank you for calling. Goodbye.', { signal: ac.signal })[Symbol.asyncIterator]();
  const t0 = performance.now();
  await it.next();
  const runMs = performance.now() - t0;
  let abortedAt = 0;
  setTimeout(() => {
    abortedAt = performance.now();
    ac.abort();
  }, 20);
  const err = await rejection(it.next());
  return { runMs, err, stoppedMs: performance.now() - abortedAt };
}
