/**
 * The model catalogue: every model offered by the plugins' manifests (`models` lists), with the plugin that
 * offers it. Built from manifests, never hard-coded, so a third-party plugin's models are pulled the same way.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage } from '../errors.ts';
import type { ModelFileSpec, PluginKind, PluginManifest } from '../plugins/api.ts';
import { readManifest } from '../plugins/manifest.ts';
import type { CatalogEntry } from '../../shared/models.ts';

export type { CatalogEntry } from '../../shared/models.ts';

export interface CatalogProblem {
  /** The plugin folder (or plugins folder) concerned. */
  dir: string;
  message: string;
}

export interface Catalog {
  entries: CatalogEntry[];
  /** Duplicate ids with different files, unreadable folders: reported, never fatal. */
  problems: CatalogProblem[];
}

function sameFiles(a: ModelFileSpec[], b: ModelFileSpec[]): boolean {
  return a.length === b.length && a.every((f, i) => f.path === b[i]!.path && f.url === b[i]!.url && f.sha256 === b[i]!.sha256);
}

export function buildCatalog(plugins: readonly { manifest: PluginManifest; dir?: string }[]): Catalog {
  const entries = new Map<string, CatalogEntry>();
  const problems: CatalogProblem[] = [];
  for (const { manifest, dir } of plugins) {
    for (const model of manifest.models) {
      const existing = entries.get(model.id);
      if (existing) {
        // A built-in plugin copied into the user's plugins folder lists the same models: harmless.
        if (!sameFiles(existing.files, model.files)) {
          problems.push({
            dir: dir ?? manifest.name,
            message: `plugin ${manifest.name} lists model ${model.id} with different files than plugin ${existing.plugin}; using ${existing.plugin}'s`,
          });
        }
        continue;
      }
      const fileSizes = model.files.map((f) => f.size);
      const summed = fileSizes.every((s) => s !== undefined) ? fileSizes.reduce<number>((a, s) => a + (s ?? 0), 0) : null;
      entries.set(model.id, {
        id: model.id,
        plugin: manifest.name,
        kind: manifest.kind,
        ...(model.description !== undefined ? { description: model.description } : {}),
        ...(model.license !== undefined ? { license: model.license } : {}),
        size: model.size ?? summed,
        files: model.files.map((f) => ({ ...f })),
        isDefault: model.default === true,
      });
    }
  }
  return { entries: [...entries.values()], problems };
}

/**
 * Read `manifest.json` from every sub-folder of each plugins folder. A broken manifest is reported (with
 * readManifest's message, which names the file and field) and skipped.
 */
export async function readPluginManifests(pluginsDirs: readonly string[]): Promise<{ plugins: { dir: string; manifest: PluginManifest }[]; problems: CatalogProblem[] }> {
  const plugins: { dir: string; manifest: PluginManifest }[] = [];
  const problems: CatalogProblem[] = [];
  for (const root of pluginsDirs.map((d) => resolve(d))) {
    let names: string[];
    try {
      names = (await readdir(root, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
        .map((e) => e.name)
        .sort();
    } catch (err) {
      problems.push({ dir: root, message: `cannot read plugins folder ${root}: ${errorMessage(err)}` });
      continue;
    }
    for (const name of names) {
      const dir = join(root, name);
      try {
        plugins.push({ dir, manifest: await readManifest(dir) });
      } catch (err) {
        problems.push({ dir, message: errorMessage(err) });
      }
    }
  }
  return { plugins, problems };
}

/** Catalogue straight from plugins folders: what the CLI uses; the core builds it from its plugin registry. */
export async function loadCatalog(pluginsDirs: readonly string[]): Promise<Catalog> {
  const { plugins, problems } = await readPluginManifests(pluginsDirs);
  const catalog = buildCatalog(plugins);
  return { entries: catalog.entries, problems: [...problems, ...catalog.problems] };
}

/** Model folders on disk that no catalogue entry claims (a removed plugin's weights): for `list`. */
export async function strayModelFolders(modelsDir: string, catalog: readonly CatalogEntry[]): Promise<string[]> {
  const known = new Set(catalog.map((e) => e.id));
  try {
    return (await readdir(modelsDir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.') && !known.has(e.name)).map((e) => e.name);
  } catch {
    return [];
  }
}
