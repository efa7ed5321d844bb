/**
 * Reading and validating a plugin's manifest.json. Every error names the file, the field and what is expected,
 * because the person reading it is usually someone who just dropped a folder into their plugins directory.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { ParleyError } from '../errors.ts';
import { PLUGIN_API_VERSION, PLUGIN_KINDS, type ModelSpec, type PluginManifest, type SettingSpec } from './api.ts';

const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const SEMVER = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;
const SETTING_TYPES = ['string', 'number', 'integer', 'boolean', 'enum', 'path', 'secret'];

/** What a secret setting's value is shown as once set (lists, the control API, the GUI, logs): never the value. */
export const SECRET_SHOWN = '[set]';

/** A setting whose value is a secret (an API key): the plugin gets it, nothing that shows or logs settings does. */
export function isSecretSetting(spec: SettingSpec | undefined): boolean {
  // 'secret' is checked as a string: main/shared/plugins.ts (the GUI's copy of the type) may not list it yet.
  return (spec?.type as string | undefined) === 'secret';
}

/** Settings values fit to show or log: each secret becomes SECRET_SHOWN when set, '' when not. */
export function redactSettings(specs: Record<string, SettingSpec>, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values };
  for (const [key, spec] of Object.entries(specs)) if (isSecretSetting(spec) && key in out) out[key] = out[key] === '' || out[key] == null ? '' : SECRET_SHOWN;
  return out;
}

class ManifestProblem extends Error {}

function fail(field: string, expected: string, got: unknown): never {
  const shown = got === undefined ? 'nothing' : JSON.stringify(got)?.slice(0, 80);
  throw new ManifestProblem(`field "${field}" must be ${expected} (got ${shown})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateSetting(key: string, spec: unknown): SettingSpec {
  const field = `settings.${key}`;
  if (!isObject(spec)) fail(field, 'an object like { "type": "number", "default": 1 }', spec);
  if (typeof spec.type !== 'string' || !SETTING_TYPES.includes(spec.type)) fail(`${field}.type`, `one of ${SETTING_TYPES.join(', ')}`, spec.type);
  if (spec.type === 'enum' && (!Array.isArray(spec.values) || spec.values.length === 0)) fail(`${field}.values`, 'a non-empty array for an enum setting', spec.values);
  // A default in a manifest is public: a secret's default can only be "no secret".
  if (spec.type === 'secret' && spec.default !== undefined && spec.default !== '') fail(`${field}.default`, '"" or nothing for a secret setting (a default in a manifest is not secret)', spec.default);
  return spec as unknown as SettingSpec;
}

function validateModel(index: number, model: unknown): ModelSpec {
  const field = `models[${index}]`;
  if (!isObject(model)) fail(field, 'an object { "id", "files": [...] }', model);
  if (typeof model.id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(model.id)) fail(`${field}.id`, 'a string of letters, digits, ".", "_" or "-"', model.id);
  if (!Array.isArray(model.files) || model.files.length === 0) fail(`${field}.files`, 'a non-empty array of { "path", "url" }', model.files);
  model.files.forEach((file: unknown, j: number) => {
    const f = `${field}.files[${j}]`;
    if (!isObject(file)) fail(f, 'an object { "path", "url", "sha256"?, "size"? }', file);
    if (typeof file.path !== 'string' || file.path === '' || file.path.split(/[\\/]/).includes('..') || file.path.startsWith('/')) {
      fail(`${f}.path`, 'a relative path inside the model folder', file.path);
    }
    if (typeof file.url !== 'string' || !/^https?:\/\//.test(file.url)) fail(`${f}.url`, 'an http(s) URL', file.url);
    if (file.sha256 !== undefined && (typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256))) fail(`${f}.sha256`, '64 lowercase hex digits', file.sha256);
    if (file.size !== undefined && (typeof file.size !== 'number' || file.size < 0)) fail(`${f}.size`, 'a byte count', file.size);
  });
  return model as unknown as ModelSpec;
}

/** Validate a parsed manifest object. `dir` is the plugin folder (to check that `main` exists). */
export function validateManifest(raw: unknown, dir: string): PluginManifest {
  if (!isObject(raw)) fail('(root)', 'a JSON object', raw);
  if (typeof raw.name !== 'string' || !NAME.test(raw.name)) fail('name', 'lowercase letters, digits and dashes, like "my-voice"', raw.name);
  if (typeof raw.kind !== 'string' || !(PLUGIN_KINDS as readonly string[]).includes(raw.kind)) fail('kind', `one of ${PLUGIN_KINDS.map((k) => `"${k}"`).join(', ')}`, raw.kind);
  if (typeof raw.version !== 'string' || !SEMVER.test(raw.version)) fail('version', 'a version like "1.0.0"', raw.version);
  if (raw.apiVersion !== PLUGIN_API_VERSION) fail('apiVersion', `${PLUGIN_API_VERSION} (the plugin API this Parley speaks)`, raw.apiVersion);
  const main = raw.main ?? 'index.js';
  if (typeof main !== 'string' || main === '') fail('main', 'the module file name, like "index.js"', raw.main);
  const mainPath = resolve(dir, main);
  if (!mainPath.startsWith(resolve(dir) + sep)) fail('main', 'a file inside the plugin folder', main);
  if (!existsSync(mainPath)) fail('main', `a file that exists (${mainPath} is missing)`, main);
  if (raw.description !== undefined && typeof raw.description !== 'string') fail('description', 'a string', raw.description);
  const settings = raw.settings ?? {};
  if (!isObject(settings)) fail('settings', 'an object of { "<name>": { "type", "default" } }', settings);
  const models = raw.models ?? [];
  if (!Array.isArray(models)) fail('models', 'an array', models);
  return {
    name: raw.name,
    kind: raw.kind as PluginManifest['kind'],
    version: raw.version,
    apiVersion: raw.apiVersion as number,
    main,
    description: (raw.description as string | undefined) ?? '',
    settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, validateSetting(k, v)])),
    models: models.map((m, i) => validateModel(i, m)),
  };
}

/** Read and validate `<dir>/manifest.json`; throws MANIFEST_INVALID naming the file, the field and the fix. */
export async function readManifest(dir: string): Promise<PluginManifest> {
  const file = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ParleyError('MANIFEST_INVALID', `${file}: missing. A plugin folder needs a manifest.json (see docs/plugins.md).`, { details: { file } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ParleyError('MANIFEST_INVALID', `${file}: not valid JSON (${(err as Error).message}). Fix the syntax and save; Parley reloads it.`, { details: { file } });
  }
  try {
    return validateManifest(raw, dir);
  } catch (err) {
    if (!(err instanceof ManifestProblem)) throw err;
    throw new ParleyError('MANIFEST_INVALID', `${file}: ${err.message}. Fix the manifest and save; Parley reloads it.`, { details: { file } });
  }
}

/** Manifest defaults merged with user settings; `path` settings resolved against `baseDir`. */
export function effectiveSettings(manifest: PluginManifest, user: Record<string, unknown> = {}, baseDir = process.cwd()): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(manifest.settings)) if (spec.default !== undefined) out[key] = spec.default;
  for (const [key, value] of Object.entries(user)) {
    const spec = manifest.settings[key];
    out[key] = coerceSetting(spec, value);
    if (spec?.type === 'path' && typeof out[key] === 'string' && out[key] !== '') out[key] = resolve(baseDir, out[key] as string);
  }
  return out;
}

/** CLI and env values arrive as strings: turn them into what the manifest declares. */
export function coerceSetting(spec: SettingSpec | undefined, value: unknown): unknown {
  if (typeof value !== 'string' || !spec) return value;
  switch (spec.type) {
    case 'number':
    case 'integer': {
      const n = Number(value);
      return Number.isFinite(n) ? n : value;
    }
    case 'boolean':
      return value === 'true' || value === '1' || value === 'yes' ? true : value === 'false' || value === '0' || value === 'no' ? false : value;
    case 'enum': {
      const match = spec.values?.find((v) => String(v) === value);
      return match ?? value;
    }
    default:
      return value;
  }
}
