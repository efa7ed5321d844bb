/**
 * A PluginContext for driving the TTS plugins directly, built as the host builds one: manifest defaults merged
 * with the test's settings (path settings made absolute), `import` and `resolve` limited to the host runtimes,
 * and a log that keeps every line for assertions.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PluginContext, PluginLog, PluginManifest, TtsInstance } from '../../main/core/plugins/api.ts';
import { HOST_RUNTIMES } from '../../main/core/plugins/api.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function ttsPluginDir(name: 'melo-tts' | 'piper-tts'): string {
  return join(ROOT, 'plugins', name);
}

export interface LoggedLine {
  level: keyof PluginLog;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface TtsTestContext extends PluginContext {
  lines: LoggedLine[];
}

export interface TtsContextOptions {
  settings?: Record<string, unknown>;
  modelDir?: string;
  /** Leave out ctx.resolve, as a host without the extension would: the plugin must then run in-process. */
  withoutResolve?: boolean;
  /** Host runtimes this "host" pretends not to have. */
  withoutRuntimes?: string[];
}

export async function makeTtsContext(pluginDir: string, options: TtsContextOptions = {}): Promise<TtsTestContext> {
  const manifest = JSON.parse(await readFile(join(pluginDir, 'manifest.json'), 'utf8')) as PluginManifest;
  const settings: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(manifest.settings)) if (spec.default !== undefined) settings[key] = spec.default;
  for (const [key, value] of Object.entries(options.settings ?? {})) {
    settings[key] = manifest.settings[key]?.type === 'path' && typeof value === 'string' && value !== '' && !isAbsolute(value) ? resolvePath(value) : value;
  }
  const lines: LoggedLine[] = [];
  const at = (level: keyof PluginLog) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(fields === undefined ? { level, msg } : { level, msg, fields });
    if (process.env.PARLEY_TEST_LOG === '1') console.log(`[${level}] ${msg}`, fields ?? '');
  };
  const allowed = (name: string) => (HOST_RUNTIMES as readonly string[]).includes(name) && !(options.withoutRuntimes ?? []).includes(name);
  const ctx: TtsTestContext = {
    settings,
    modelDir: options.modelDir ?? join(ROOT, 'test', 'fixtures', 'no-models-here'),
    pluginDir,
    lines,
    log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    async import(name: string) {
      if (!allowed(name)) throw new Error(`"${name}" is not a host runtime here`);
      return import(name);
    },
  };
  if (!options.withoutResolve) {
    ctx.resolve = (name: string) => {
      if (!allowed(name)) throw new Error(`"${name}" is not a host runtime here`);
      return fileURLToPath(import.meta.resolve(name));
    };
  }
  return ctx;
}

/** Create a TTS instance from a plugin folder the way the host does: import its main file by URL. */
export async function createTts(pluginDir: string, ctx: PluginContext): Promise<TtsInstance> {
  const mod = (await import(pathToFileURL(join(pluginDir, 'index.js')).href)) as { default: { create(ctx: PluginContext): Promise<TtsInstance> } };
  return mod.default.create(ctx);
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
 * Module specifiers in a plugin folder's .js files that reach outside it: anything but `node:` built-ins and
 * `./<file>` inside the folder (static imports, dynamic import() and new URL(..., import.meta.url)).
 */
export async function foreignSpecifiers(pluginDir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(pluginDir)).filter((f) => f.endsWith('.js'));
  const out: string[] = [];
  for (const file of files) {
    const src = await readFile(join(pluginDir, file), 'utf8');
    const specs = [...src.matchAll(/\bfrom\s+['"]([^'"]+)['"]|(?<![.\w$])import\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]|new URL\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
    for (const spec of specs) {
      const inside = /^\.\/[^/]+$/.test(spec) && files.concat('manifest.json').includes(spec.slice(2));
      if (!spec.startsWith('node:') && !inside) out.push(`${file}: ${spec}`);
    }
  }
  return out;
}
