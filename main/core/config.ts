/**
 * One validated configuration: defaults < settings file (<dataDir>/settings.json, written from Settings) <
 * environment (and `.env`) < CLI flags. Every setting is declared once in SETTINGS (config-schema.ts): its env
 * name, its flag, its type and its default; the settings file is read and written by settings.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { DEFAULTS, SETTINGS, parseValue, type Config, type SettingDef } from './config-schema.ts';
import { ParleyError } from './errors.ts';
import type { PluginKind } from './plugins/api.ts';
import { readSettingsFile } from './settings.ts';

export * from './config-schema.ts';
export { settingsFilePath } from './settings.ts';

export interface ConfigSources {
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Read `.env` in the working directory (default true unless env is given explicitly). */
  dotenv?: boolean | string;
  /** Values from the GUI's settings file; read from <dataDir>/settings.json when not given. */
  file?: Partial<Config> | null;
  /** Programmatic overrides (tests, the Electron shell). */
  overrides?: Partial<Config>;
}

export interface ParsedArgs {
  values: Map<string, string>;
  sets: string[];
  help: boolean;
}

/** `--flag value`, `--flag=value`, repeatable `--set a.b=c`, boolean `--flag` for bools. Unknown flags are errors. */
export function parseArgs(argv: string[], extraFlags: readonly string[] = []): ParsedArgs {
  const known = new Map(SETTINGS.filter((d) => d.flag).map((d) => [d.flag!, d]));
  const values = new Map<string, string>();
  const sets: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new ParleyError('CONFIG_INVALID', `Unexpected argument ${JSON.stringify(arg)}. Run with --help for the options.`);
    const name = m[1]!;
    let value = m[2];
    const def = known.get(name);
    if (!def && name !== 'set' && !extraFlags.includes(name)) throw new ParleyError('CONFIG_INVALID', `Unknown option --${name}. Run with --help for the options.`);
    if (value === undefined) {
      const next = argv[i + 1];
      if (def?.type === 'bool' && (next === undefined || next.startsWith('--'))) value = 'true';
      else if (next === undefined) throw new ParleyError('CONFIG_INVALID', `--${name} needs a value.`);
      else value = argv[++i]!;
    }
    if (name === 'set') sets.push(value);
    else values.set(name, value);
  }
  return { values, sets, help };
}

/** `plugin.setting=value` → nested record. */
export function parseSets(sets: string[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of sets) {
    const m = /^([a-z0-9]+(?:-[a-z0-9]+)*)\.([A-Za-z0-9_]+)=(.*)$/s.exec(s);
    if (!m) throw new ParleyError('CONFIG_INVALID', `--set ${JSON.stringify(s)} must look like <plugin>.<setting>=<value>, e.g. --set llama-llm.threads=2.`);
    (out[m[1]!] ??= {})[m[2]!] = m[3]!;
  }
  return out;
}

function readDotenv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const argv = parseArgs(sources.argv ?? []);
  const useDotenv = sources.dotenv ?? sources.env === undefined;
  const env = { ...(useDotenv ? readDotenv(typeof useDotenv === 'string' ? useDotenv : resolve('.env')) : {}), ...(sources.env ?? process.env) };
  const config: Record<string, unknown> = { ...DEFAULTS };
  const apply = (layer: Record<string, unknown>, source: string, nameOf: (d: SettingDef) => string | undefined) => {
    for (const def of SETTINGS) {
      const name = nameOf(def);
      if (name === undefined || layer[name] === undefined) continue;
      // An empty value (as in a copied .env.example) means "not set" for everything but free text.
      if (layer[name] === '' && def.type !== 'string') continue;
      config[def.key] = parseValue(def, layer[name], source);
    }
  };
  // The data dir decides where the settings file is, so resolve it first.
  apply(env, 'env', (d) => d.env);
  apply(Object.fromEntries(argv.values), 'flag', (d) => d.flag);
  const file = sources.file === undefined ? readSettingsFile(config.dataDir as string) : sources.file ?? {};
  // Precedence: defaults < file < env < flags < overrides.
  Object.assign(config, DEFAULTS);
  apply(file as Record<string, unknown>, 'file', (d) => d.key);
  apply(env, 'env', (d) => d.env);
  apply(Object.fromEntries(argv.values), 'flag', (d) => d.flag);
  const fileSets = (file as { pluginSettings?: Config['pluginSettings'] }).pluginSettings ?? {};
  const pluginSettings: Config['pluginSettings'] = structuredClone(fileSets);
  for (const [plugin, values] of Object.entries(parseSets(argv.sets))) pluginSettings[plugin] = { ...pluginSettings[plugin], ...values };
  Object.assign(config, sources.overrides ?? {});
  config.pluginSettings = { ...pluginSettings, ...(sources.overrides?.pluginSettings ?? {}) };
  if (!config.userPluginsDir) config.userPluginsDir = resolve(config.dataDir as string, 'plugins');
  return config as unknown as Config;
}

export function activePlugins(config: Config): Partial<Record<PluginKind, string>> {
  return Object.fromEntries((['stt', 'llm', 'tts', 'turn'] as const).filter((k) => config[k]).map((k) => [k, config[k]]));
}

/** `--help` text, generated from SETTINGS. */
export function helpText(command: string, extra = ''): string {
  const lines = SETTINGS.filter((d) => d.flag).map((d) => {
    const arg = d.type === 'bool' ? '' : d.type === 'enum' ? ` ${d.values!.join('|')}` : d.type === 'int' ? ' N' : d.type === 'number' ? ' X' : ' VALUE';
    return `  --${d.flag}${arg}`.padEnd(34) + `${d.help}${d.env ? ` [${d.env}]` : ''}`;
  });
  return `Usage: ${command} [options]\n\n${lines.join('\n')}\n  --set PLUGIN.SETTING=VALUE`.padEnd(0) + `    A plugin setting (repeatable), e.g. --set llama-llm.threads=2\n${extra}`;
}
