/**
 * Finding plugins: every sub-folder of the built-in and the user plugins folders that holds a manifest.json.
 * A broken folder becomes an error entry (file, field, fix) and is skipped — never fatal.
 */
import { readdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { errorMessage } from '../errors.ts';
import type { PluginManifest } from './api.ts';
import { readManifest } from './manifest.ts';
import type { PluginProblem, PluginSource } from '../../shared/plugins.ts';

export type { PluginProblem, PluginSource } from '../../shared/plugins.ts';

export interface FoundPlugin {
  manifest: PluginManifest;
  dir: string;
  source: PluginSource;
  /** Changes whenever any file of the plugin changes: the registry reloads on a new fingerprint. */
  fingerprint: string;
}

export interface ScanResult {
  plugins: FoundPlugin[];
  problems: PluginProblem[];
}

const MAX_FILES = 500;

/** Hash of the names, sizes and mtimes of a folder's files (node_modules and dot-folders skipped). */
export async function fingerprintDir(dir: string): Promise<string> {
  const hash = createHash('sha1');
  let count = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (count >= MAX_FILES || e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const s = await stat(p).catch(() => null);
        if (!s) continue;
        count++;
        hash.update(`${relative(dir, p)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  await walk(dir);
  return hash.digest('hex').slice(0, 16);
}

async function scanDir(root: string, source: PluginSource, out: ScanResult): Promise<void> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') out.problems.push({ dir: root, source, message: `cannot read plugins folder ${root}: ${errorMessage(err)}` });
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules') continue;
    const dir = join(root, e.name);
    try {
      const manifest = await readManifest(dir);
      out.plugins.push({ manifest, dir, source, fingerprint: await fingerprintDir(dir) });
    } catch (err) {
      out.problems.push({ dir, source, message: errorMessage(err) });
    }
  }
}

/**
 * Scan the built-in folder first, then the user folder. A user plugin with a built-in's name replaces it
 * (that is how a user swaps a built-in for their own build); two user plugins with one name is a problem.
 */
export async function scanPlugins(builtinDir: string | null, userDir: string | null): Promise<ScanResult> {
  const builtin: ScanResult = { plugins: [], problems: [] };
  const user: ScanResult = { plugins: [], problems: [] };
  if (builtinDir) await scanDir(builtinDir, 'builtin', builtin);
  if (userDir && userDir !== builtinDir) await scanDir(userDir, 'user', user);
  const byName = new Map<string, FoundPlugin>();
  const problems = [...builtin.problems, ...user.problems];
  for (const p of builtin.plugins) byName.set(p.manifest.name, p);
  const seenUser = new Set<string>();
  for (const p of user.plugins) {
    if (seenUser.has(p.manifest.name)) {
      problems.push({ dir: p.dir, source: 'user', message: `${p.dir}: another plugin in ${userDir} is already named "${p.manifest.name}". Rename one (manifest "name").` });
      continue;
    }
    seenUser.add(p.manifest.name);
    byName.set(p.manifest.name, p);
  }
  return { plugins: [...byName.values()].sort((a, b) => a.manifest.name.localeCompare(b.manifest.name)), problems };
}
