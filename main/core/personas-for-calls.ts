/**
 * The persona a call gets, from the running config plus the personas saved in settings.json. The fallback for
 * every field a persona leaves out is the live config (env and flags included), so a setup without personas
 * behaves exactly as before.
 */
import type { Config } from './config.ts';
import { errorMessage } from './errors.ts';
import { defaultPersonaFrom, personaForInbound, personasFromSettings, type Persona, type PersonaSourceSettings } from './personas.ts';
import { readSettingsFile } from './settings.ts';

export function callPersonas(config: Config): Persona[] {
  const saved = (readSettingsFile(config.dataDir) as PersonaSourceSettings).personas;
  return personasFromSettings({ ...(config as unknown as PersonaSourceSettings), personas: saved });
}

/**
 * Inbound: the persona that answers `to`, else the default; outbound (to = null): the default. A settings file
 * broken since start-up must not kill a call: the call gets today's settings, and `problem` says why.
 */
export function callPersona(config: Config, to: string | null): Persona & { problem?: string } {
  try {
    return personaForInbound(callPersonas(config), to);
  } catch (err) {
    return { ...defaultPersonaFrom(config as unknown as PersonaSourceSettings), problem: errorMessage(err) };
  }
}
