/**
 * The Settings view's shapes, as the GUI (settings.get / settings.save) and the control API (GET / PUT
 * /settings) exchange them. main/core/settings.ts builds the view and saves patches.
 */
import type { PluginInfo } from './plugins.ts';

/** Settings the GUI edits directly (config.ts SETTINGS keys). Plugin settings go in `pluginValues`. */
export const GUI_SETTINGS = [
  'twilioAccountSid',
  'twilioPhoneNumber',
  'publicUrl',
  'systemPrompt',
  'greeting',
  'silenceMs',
  'bargeInMinMs',
  'recordCalls',
  'retentionDays',
  'tts',
] as const;
export type GuiSettingKey = (typeof GUI_SETTINGS)[number];

/** Secrets: written once, never read back by the GUI. */
export const SECRET_SETTINGS = ['twilioAuthToken', 'ngrokAuthtoken'] as const;
export type SecretKey = (typeof SECRET_SETTINGS)[number];

export interface SecretStatus {
  set: boolean;
  /** `keychain`: saved by the app with the OS keychain (safeStorage); `environment`: from env / .env. */
  source: 'keychain' | 'environment' | null;
}

export interface SettingsView {
  values: Record<GuiSettingKey, string | number | boolean>;
  secrets: Record<SecretKey, SecretStatus>;
  /** Whether secrets can be saved from the GUI here, and if not why (and what to do instead). */
  secretStorage: { writable: boolean; detail: string };
  /** The local control API's bearer token, shown so the user can script Parley ('' = none configured). */
  controlToken: string;
  /** Settings whose environment variable is set: a saved value applies now, the variable wins at the next start. */
  fromEnvironment: GuiSettingKey[];
  /** The active TTS plugin's settings the GUI offers (voice = its `model`, `speaker`, `speed`), with values. */
  voice: { plugin: string | null; settings: PluginInfo['settings']; values: Record<string, unknown>; models: { id: string; description?: string }[] };
}

export interface SettingsPatch {
  values?: Partial<Record<GuiSettingKey, unknown>>;
  /** New secret values ('' is refused: use `clearSecrets`). */
  secrets?: Partial<Record<SecretKey, string>>;
  clearSecrets?: SecretKey[];
  /** Plugin settings to change, merged into what the user set before: { plugin: { setting: value } }. */
  pluginValues?: Record<string, Record<string, unknown>>;
}
