/** Renders `.env.example` from the settings table, so it documents every setting and can never drift. */
import { DEFAULTS, SETTINGS } from './config.ts';

export function renderEnvExample(): string {
  const lines = [
    '# Parley settings. Copy to .env (never commit .env) or set them in the environment; the GUI edits the same',
    '# settings (saved in <data dir>/settings.json, secrets encrypted). CLI flags override everything.',
    '',
  ];
  for (const def of SETTINGS) {
    if (!def.env) continue;
    const value = DEFAULTS[def.key as keyof typeof DEFAULTS];
    const shown = def.secret || def.key === 'pluginsDir' || def.key === 'dataDir' || def.key === 'modelsDir' ? '' : typeof value === 'string' ? value : String(value);
    lines.push(`# ${def.help}${def.flag ? ` (flag --${def.flag})` : ''}`);
    lines.push(`${def.env}=${/[\s#"']/.test(shown) ? JSON.stringify(shown) : shown}`);
    lines.push('');
  }
  lines.push('# Plugin settings have no variables: use `--set <plugin>.<setting>=<value>` or the GUI.');
  return lines.join('\n') + '\n';
}
