/** Helpers for driving the TTS plugins directly (contexts come from plugin-context.ts). */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginContext, PluginManifest, TtsInstance } from '../../main/core/plugins/api.ts';
import { importPlugin, makePluginContext, type ContextOptions, type LogLine, type TestPluginContext } from './plugin-context.ts';

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

