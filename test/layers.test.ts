/**
 * Layering (docs/architecture.md): the GUI contract and the data shapes it carries live in main/shared, which
 * imports nothing from the rest of main/ (nor any package: the renderer bundles it); the renderer imports
 * nothing from main/ but main/shared/contract.ts; and inside main/ no import runs back up a layer. Read from the
 * source text, so a new import that breaks a rule fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const MAIN = join(root, 'main');
const SHARED = join(MAIN, 'shared');
const CONTRACT = join(SHARED, 'contract.ts');

/** Every module specifier a TypeScript file names: static imports and re-exports, side-effect and dynamic imports. */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : sourceFiles(path);
    return /\.(ts|tsx|mts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

/** `file: specifier` for each import of `files` that `refused(resolvedPath | null, specifier)` refuses. */
function offending(files: string[], refused: (target: string | null, spec: string) => boolean): string[] {
  return files.flatMap((file) =>
    specifiers(readFileSync(file, 'utf8'))
      .filter((spec) => refused(spec.startsWith('.') ? resolve(dirname(file), spec) : null, spec))
      .map((spec) => `${relative(root, file)}: ${spec}`),
  );
}

const inside = (dir: string, path: string) => path === dir || path.startsWith(dir + sep);

describe('layering', () => {
  it('finds every kind of import (so the checks below can fail)', () => {
    const sample = [
      "import type { A } from '../../main/core/event-bus.ts';",
      "import {\n  b,\n  c,\n} from './x.ts';",
      "export { d } from '../y.ts';",
      "export * from 'z';",
      "import 'side-effect';",
      "const m = await import('./lazy.ts');",
    ].join('\n');
    expect(specifiers(sample)).toEqual(expect.arrayContaining(['../../main/core/event-bus.ts', './x.ts', '../y.ts', 'z', 'side-effect', './lazy.ts']));
    const bad = offending([join(root, 'renderer', 'src', 'store.ts')], () => true);
    expect(bad.length).toBeGreaterThan(0);
  });

  it('the renderer imports nothing from main/ but main/shared/contract.ts', () => {
    const files = sourceFiles(join(root, 'renderer'));
    expect(files.length).toBeGreaterThan(10);
    expect(offending(files, (target) => target !== null && inside(MAIN, target) && target !== CONTRACT)).toEqual([]);
    // …and it does use the contract.
    expect(offending(files, (target) => target === CONTRACT).length).toBeGreaterThan(5);
  });

  it('main/shared imports only its own files: nothing from main/core, main/ipc…, no packages, no node:', () => {
    const files = sourceFiles(SHARED);
    expect(files.map((f) => relative(SHARED, f))).toContain('contract.ts');
    expect(offending(files, (target) => target === null || !inside(SHARED, target))).toEqual([]);
  });

  it('no import in main/ runs back up a layer', () => {
    const files = sourceFiles(MAIN);
    expect(files.filter((f) => layerOf(f) === null).map((f) => relative(root, f))).toEqual([]);
    expect(files.flatMap((file) => upward(file, readFileSync(file, 'utf8')))).toEqual([]);
  });

  it('the layer check can fail: an upward import is caught, a downward one is not', () => {
    const mulaw = join(MAIN, 'core', 'audio', 'mulaw.ts');
    expect(upward(mulaw, "import type { Core } from '../app.ts';")).toEqual(['core/audio/mulaw.ts (basics) imports ../app.ts (wiring)']);
    expect(upward(join(MAIN, 'core', 'app.ts'), "import { encodeFloat } from './audio/mulaw.ts';")).toEqual([]);
  });
});

/** The imports of `file` (with text `source`) that go to a higher layer than its own, as sentences. */
function upward(file: string, source: string): string[] {
  const own = layerOf(file)!;
  return specifiers(source)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ spec, target: resolve(dirname(file), spec) }))
    .filter(({ target }) => inside(MAIN, target) && (layerOf(target) ?? Infinity) > own)
    .map(({ spec, target }) => `${relative(MAIN, file).split(sep).join('/')} (${LAYERS[own]![0]}) imports ${spec} (${LAYERS[layerOf(target) ?? -1]?.[0] ?? 'no layer'})`);
}

/**
 * The layers of main/, lowest first: a file may import from its own layer and those below. Each entry names
 * the paths (relative to main/, a folder or a file without extension) that belong to it.
 */
const LAYERS: [name: string, paths: string[]][] = [
  ['shared', ['shared']],
  ['basics', ['core/errors', 'core/log', 'core/event-bus', 'core/config-schema', 'core/audio', 'core/workers', 'core/control-token', 'core/private-files']],
  ['plugins', ['core/plugins']],
  ['config', ['core/config', 'core/settings', 'core/personas', 'core/personas-for-calls', 'core/env-example', 'core/status-board']],
  ['twilio, records, models', ['core/twilio', 'core/records', 'core/models']],
  ['tools', ['core/tools']],
  ['conversation', ['core/conversation']],
  ['calls', ['core/calls']],
  ['server', ['core/server']],
  ['tunnel', ['core/tunnel']],
  ['doctor', ['core/setup-doctor']],
  ['wiring', ['core/app']],
  ['hosts', ['ipc', 'sim']],
  ['shells', ['web', 'electron']],
  ['entry points', ['cli']],
];

function layerOf(file: string): number | null {
  const rel = relative(MAIN, file).split(sep).join('/').replace(/\.(d\.)?(ts|tsx|js|mjs)$/, '');
  const i = LAYERS.findIndex(([, paths]) => paths.some((p) => rel === p || rel.startsWith(p + '/')));
  return i === -1 ? null : i;
}
