/**
 * Settings, both ways: the one module that reads and writes <dataDir>/settings.json — read at start-up (by
 * loadConfig), written when a setting is saved from the GUI (IPC) or the control API (PUT /settings) — and the
 * Settings view those two show: values, and secrets only as "set" / "not set" with where they come from.
 *
 * Saving is validated field by field (each error lands next to its field) and all or nothing; then it is
 * applied to the running core (`applySettings`) and persisted atomically, readable by this user only. Secrets
 * never go to settings.json: they go to the host's SecretStore (Electron: safeStorage; headless, and any core
 * not given one: not writable — the environment / .env only).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ensurePrivateDir } from './private-files.ts';
import { dirname, resolve } from 'node:path';
import { SETTINGS, validatePatch, type Config } from './config-schema.ts';
import { ParleyError, errorMessage } from './errors.ts';
import { defaultPersonaFrom, personasFromSettings, validatePersonas, type Persona, type PersonaSourceSettings } from './personas.ts';
import type { PluginRegistry } from './plugins/registry.ts';
import type { SettingSpec } from '../shared/plugins.ts';
import { GUI_SETTINGS, SECRET_SETTINGS, type SecretKey, type SettingsPatch, type SettingsView } from '../shared/settings-view.ts';

/** Where the app keeps secrets the user typed into Settings. */
export interface SecretStore {
  /** Can secrets be saved here? When not, `detail` says why and what to do instead. */
  writable(): { writable: boolean; detail: string };
  /** Saved by the app (as opposed to coming from the environment). */
  has(key: SecretKey): boolean;
  save(key: SecretKey, value: string): void;
  clear(key: SecretKey): void;
}

export const HEADLESS_SECRETS_DETAIL =
  'In headless mode Parley reads secrets only from the environment or .env (TWILIO_AUTH_TOKEN, NGROK_AUTHTOKEN) and never saves them: add the line to .env and restart. The desktop app stores them with the OS keychain.';

/**
 * No keychain to put secrets in, and a plain-text file is exactly what we promise not to make: secrets come
 * from the environment / .env only. The store of headless mode, and of a core given none.
 */
export const environmentOnlySecrets: SecretStore = {
  writable: () => ({ writable: false, detail: HEADLESS_SECRETS_DETAIL }),
  has: () => false,
  save: () => {
    throw new Error(HEADLESS_SECRETS_DETAIL);
  },
  clear: () => {
    throw new Error(HEADLESS_SECRETS_DETAIL);
  },
};

/** What the Settings view and saving need of the running core (a Core is one). */
export interface SettingsTarget {
  readonly config: Config;
  readonly plugins: Pick<PluginRegistry, 'list' | 'activeName'>;
  applySettings(patch: Record<string, unknown>): Partial<Config>;
}

// ---------------------------------------------------------------------------------------------------------------
// The file.

export function settingsFilePath(dataDir: string): string {
  return resolve(dataDir, 'settings.json');
}

/** What was saved before ({} when nothing was); an unreadable file is CONFIG_INVALID saying what to do. */
export function readSettingsFile(dataDir: string): Partial<Config> {
  const path = settingsFilePath(dataDir);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<Config>;
  } catch (err) {
    throw new ParleyError('CONFIG_INVALID', `${path} is not valid JSON (${(err as Error).message}). Fix or delete it; the GUI rewrites it on save.`);
  }
}

/**
 * The personas saved in <dataDir>/settings.json; a file from before personas (or none) gives one "Default"
 * persona built from its systemPrompt / greeting / tts / tools / transferNumber / voicemailMessage.
 */
export function readPersonas(dataDir: string): Persona[] {
  return personasFromSettings(readSettingsFile(dataDir) as PersonaSourceSettings);
}

/** Validate and save the personas (all or nothing; CONFIG_INVALID naming the persona and field). */
export function savePersonas(dataDir: string, personas: unknown): Persona[] {
  const valid = validatePersonas(personas, defaultPersonaFrom(readSettingsFile(dataDir) as PersonaSourceSettings));
  if (valid.length === 0) throw new ParleyError('CONFIG_INVALID', 'Keep at least one persona: the first one answers every call no other persona claims.');
  persistSettings(dataDir, { personas: valid } as unknown as Partial<Config>);
  return valid;
}

const SECRET_KEYS = new Set(SETTINGS.filter((d) => d.secret).map((d) => d.key as string));

/**
 * Merge into <dataDir>/settings.json: written whole to a temporary file (mode 0600) and renamed over the old
 * one, so a crash never leaves half a file. Secret settings are never written, whatever is passed. A corrupt
 * file is kept as settings.json.bad rather than silently lost.
 */
export function persistSettings(dataDir: string, values: Partial<Config>, pluginSettings: Config['pluginSettings'] = {}): void {
  const file = settingsFilePath(dataDir);
  let current: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      current = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      renameSync(file, `${file}.bad`);
    }
  }
  for (const [k, v] of Object.entries(values)) if (!SECRET_KEYS.has(k) && k !== 'pluginSettings') current[k] = v;
  if (Object.keys(pluginSettings).length > 0) {
    const existing = (current.pluginSettings ?? {}) as Config['pluginSettings'];
    current.pluginSettings = { ...existing, ...pluginSettings };
  }
  ensurePrivateDir(dirname(file));
  writeFileSync(`${file}.tmp`, JSON.stringify(current, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

// ---------------------------------------------------------------------------------------------------------------
// The view and saving.

/** The voice settings the GUI offers for the active TTS plugin (when the plugin has them). */
const VOICE_SETTINGS = ['model', 'speaker', 'speed'] as const;

export function settingsView(core: SettingsTarget, secrets: SecretStore): SettingsView {
  const c = core.config;
  const values = Object.fromEntries(GUI_SETTINGS.map((k) => [k, c[k]])) as SettingsView['values'];
  values.tts = core.plugins.activeName('tts') ?? c.tts;
  const tts = core.plugins.list().find((p) => p.kind === 'tts' && p.active) ?? null;
  const voiceSettings = tts ? Object.fromEntries(VOICE_SETTINGS.filter((k) => k in tts.settings).map((k) => [k, tts.settings[k]!])) : {};
  return {
    values,
    secrets: Object.fromEntries(
      SECRET_SETTINGS.map((k) => [k, { set: Boolean(c[k]), source: secrets.has(k) ? 'keychain' : c[k] ? 'environment' : null }]),
    ) as SettingsView['secrets'],
    secretStorage: secrets.writable(),
    controlToken: c.controlToken,
    fromEnvironment: GUI_SETTINGS.filter((k) => {
      const env = SETTINGS.find((d) => d.key === k)?.env;
      return env !== undefined && !!process.env[env];
    }),
    voice: {
      plugin: tts?.name ?? null,
      settings: voiceSettings,
      values: tts ? Object.fromEntries(Object.keys(voiceSettings).map((k) => [k, (c.pluginSettings[tts.name] ?? {})[k] ?? tts.settings[k]?.default ?? ''])) : {},
      models: tts ? tts.models.map((m) => ({ id: m.id, ...(m.description ? { description: m.description } : {}) })) : [],
    },
  };
}

/** null when `value` fits the plugin's declared setting, else the sentence to show. */
export function pluginValueProblem(spec: SettingSpec | undefined, value: unknown): string | null {
  if (!spec) return 'not a setting of this plugin';
  switch (spec.type) {
    case 'number':
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) return 'must be a number';
      if (spec.type === 'integer' && !Number.isInteger(n)) return 'must be a whole number';
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return `must be between ${spec.min ?? '−∞'} and ${spec.max ?? '∞'}`;
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be on or off';
    case 'enum':
      return spec.values?.some((v) => String(v) === String(value)) ? null : `must be one of ${(spec.values ?? []).join(', ')}`;
    default:
      return typeof value === 'string' ? null : 'must be text';
  }
}

function coerce(spec: SettingSpec, value: unknown): unknown {
  if ((spec.type === 'number' || spec.type === 'integer') && typeof value === 'string') return Number(value);
  return value;
}

/**
 * Validate everything first (no half-applied saves), then store secrets, apply, persist. A bad patch is
 * CONFIG_INVALID with `details.fields = { field: message }` (plugin settings as `plugin.setting`).
 */
export async function saveSettings(core: SettingsTarget, secrets: SecretStore, patch: SettingsPatch): Promise<SettingsView> {
  const fields: Record<string, string> = {};
  const valid: Partial<Config> = {};
  for (const [key, value] of Object.entries(patch.values ?? {})) {
    if (value === undefined) continue;
    try {
      Object.assign(valid, validatePatch({ [key]: value }));
    } catch (err) {
      fields[key] = errorMessage(err).replace(/^settings "[^"]+" /, '');
    }
  }
  if (typeof valid.tts === 'string') {
    const tts = core.plugins.list().filter((p) => p.kind === 'tts');
    if (!tts.some((p) => p.name === valid.tts)) fields.tts = `no text-to-speech plugin "${valid.tts}" (installed: ${tts.map((p) => p.name).join(', ') || 'none'})`;
  }
  const pluginSettings: Config['pluginSettings'] = {};
  for (const [name, values] of Object.entries(patch.pluginValues ?? {})) {
    const info = core.plugins.list().find((p) => p.name === name);
    if (!info) {
      fields[`plugin:${name}`] = `no plugin named "${name}"`;
      continue;
    }
    const merged = { ...(core.config.pluginSettings[name] ?? {}) };
    for (const [key, value] of Object.entries(values)) {
      const problem = pluginValueProblem(info.settings[key], value);
      if (problem) fields[`${name}.${key}`] = problem;
      else merged[key] = coerce(info.settings[key]!, value);
    }
    pluginSettings[name] = merged;
  }
  const secretWrites = Object.entries(patch.secrets ?? {}).filter(([, v]) => typeof v === 'string') as [SecretKey, string][];
  const storage = secrets.writable();
  if ((secretWrites.length > 0 || (patch.clearSecrets?.length ?? 0) > 0) && !storage.writable) {
    for (const [k] of secretWrites) fields[k] = storage.detail;
    for (const k of patch.clearSecrets ?? []) fields[k] = storage.detail;
  }
  for (const [k, v] of secretWrites) if (v.trim() === '' && !fields[k]) fields[k] = 'is empty: use Remove to clear a saved secret';
  const problems = Object.entries(fields);
  if (problems.length > 0) {
    const summary = problems.length === 1 ? `${problems[0]![0]} ${problems[0]![1]}` : `${problems.length} settings need fixing: ${problems.map(([k]) => k).join(', ')}`;
    throw new ParleyError('CONFIG_INVALID', `Not saved: ${summary.replace(/\.$/, '')}.`, { details: { fields } });
  }

  for (const [k, v] of secretWrites) secrets.save(k, v.trim());
  for (const k of patch.clearSecrets ?? []) secrets.clear(k);
  const live: Record<string, unknown> = { ...valid };
  for (const [k, v] of secretWrites) live[k] = v.trim();
  for (const k of patch.clearSecrets ?? []) live[k] = '';
  if (Object.keys(pluginSettings).length > 0) live.pluginSettings = pluginSettings;
  if (Object.keys(live).length > 0) core.applySettings(live);
  persistSettings(core.config.dataDir, valid, pluginSettings);
  return settingsView(core, secrets);
}
