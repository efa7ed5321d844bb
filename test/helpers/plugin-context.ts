/**
 * A `PluginContext` for driving a plugin directly from a test, built the way the host builds it: manifest
 * defaults merged with the test's settings (path settings resolved to absolute paths), `import(name)` and
 * `resolve(name)` answered by the host's own plugin-imports.ts (the host runtimes, the plugin kit), and a log that
 * records every line so a test can assert on what the plugin told the user.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PluginContext, PluginLog, PluginModule } from '../../main/core/plugins/api.ts';
import { importForPlugin, resolveForPlugin } from '../../main/core/plugins/plugin-imports.ts';
import { effectiveSettings, readManifest } from '../../main/core/plugins/manifest.ts';
import type { PluginManifest } from '../../main/core/plugins/api.ts';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

export interface TestPluginContext extends PluginContext {
  /** Everything the plugin logged, in order. */
  logs: LogLine[];
  /** `resolve` is always present in tests. */
  resolve(name: string): string;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The folder of a built-in plugin, e.g. `pluginFolder('llama-llm')`. */
export function pluginFolder(name: string): string {
  return join(ROOT, 'plugins', name);
}

export function makeLog(lines: LogLine[], echo = process.env.PARLEY_TEST_LOG === '1'): PluginLog {
  const at = (level: LogLine['level']) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(fields === undefined ? { level, msg } : { level, msg, fields });
    if (echo) console.log(`[plugin ${level}] ${msg}`, fields ?? '');
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface ContextOptions {
  /** The plugin folder (its manifest supplies setting defaults). */
  pluginDir: string;
  /** User settings, as the host would receive them (strings are coerced like `--set` values). */
  settings?: Record<string, unknown>;
  /** The models root; defaults to an empty folder that certainly holds no models. */
  modelDir?: string;
  /** Relative `path` settings are resolved against this (the host uses the working directory). */
  baseDir?: string;
  /** Leave out ctx.resolve, as a host without that extension would. */
  withoutResolve?: boolean;
  /** Host runtimes this "host" pretends not to have. */
  withoutRuntimes?: string[];
}

export async function makePluginContext(options: ContextOptions): Promise<TestPluginContext & { manifest: PluginManifest }> {
  const manifest = await readManifest(options.pluginDir);
  const logs: LogLine[] = [];
  const missing = (name: string) => (options.withoutRuntimes ?? []).includes(name);
  const refuse = (name: string) => new Error(`"${name}" is not a host runtime here: this test's host leaves it out`);
  const ctx: TestPluginContext & { manifest: PluginManifest } = {
    manifest,
    settings: effectiveSettings(manifest, options.settings ?? {}, options.baseDir ?? process.cwd()),
    modelDir: options.modelDir ?? join(ROOT, 'test', 'fixtures', 'no-models-here'),
    pluginDir: options.pluginDir,
    log: makeLog(logs),
    logs,
    async import(name: string) {
      if (missing(name)) throw refuse(name);
      return importForPlugin(name);
    },
    resolve(name: string) {
      if (missing(name)) throw refuse(name);
      return resolveForPlugin(name);
    },
  };
  if (options.withoutResolve) delete (ctx as Partial<TestPluginContext>).resolve;
  return ctx;
}

/** What `promise` rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Import a plugin's main module the way the host does: by file URL, from its own folder. */
export async function importPlugin(pluginDir: string): Promise<PluginModule> {
  const manifest = await readManifest(pluginDir);
  const mod = (await import(pathToFileURL(join(pluginDir, manifest.main)).href)) as { default: PluginModule };
  return mod.default;
}

/**
 * Module specifiers in a plugin folder's .js files that reach outside it: anything but `node:` built-ins and
 * `./<file>` inside the folder (static imports, dynamic import() and new URL(..., import.meta.url)).
 * (`ctx.import(...)` is the sanctioned way to get a runtime and is not an import.)
 */
export function foreignImports(pluginDir: string): string[] {
  const files = readdirSync(pluginDir).filter((f) => f.endsWith('.js'));
  const foreign: string[] = [];
  for (const file of files) {
    const source = readFileSync(join(pluginDir, file), 'utf8');
    const specifiers = [...source.matchAll(/\bfrom\s+['"]([^'"]+)['"]|(?<![.\w$])import\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]|new URL\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
    for (const spec of specifiers) {
      const inside = /^\.\/[^/]+$/.test(spec) && files.concat('manifest.json').includes(spec.slice(2));
      if (!spec.startsWith('node:') && !inside) foreign.push(`${file}: ${spec}`);
    }
  }
  return foreign;
}
