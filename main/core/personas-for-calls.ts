/**
 * The persona a call gets, from the running config plus the personas saved in settings.json. The fallback for
 * every field a persona leaves out is the live config (env and flags included), so a setup without personas
 * behaves exactly as before.
 *
 * `CallPersonas` remembers, per call, the persona a dial named (until its stream opens, and again when it comes
 * back from an unanswered transfer) and the persona the call got, so what happens later on the call — transfer,
 * text messages, voicemail, a message for the owner — uses that persona's numbers and wording.
 */
import type { Config } from './config.ts';
import { errorMessage } from './errors.ts';
import { defaultPersonaFrom, personaByName, personaForInbound, personasFromSettings, type Persona, type PersonaSourceSettings } from './personas.ts';
import { readSettingsFile, savePersonas } from './settings.ts';

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

/** How long a call's persona is remembered (a transfer may bring the caller back an hour later). */
const REMEMBER_MS = 6 * 60 * 60_000;
/** At most this many calls remembered: the oldest go first. */
const MAX_REMEMBERED = 2_000;

class Memo<T> {
  readonly #m = new Map<string, { value: T; at: number }>();
  set(key: string, value: T): void {
    const now = Date.now();
    this.#m.delete(key);
    for (const [k, e] of this.#m) {
      if (e.at > now - REMEMBER_MS && this.#m.size < MAX_REMEMBERED) break;
      this.#m.delete(k);
    }
    this.#m.set(key, { value, at: now });
  }
  get(key: string): T | undefined {
    const e = this.#m.get(key);
    return e && e.at > Date.now() - REMEMBER_MS ? e.value : undefined;
  }
}

/** One core's memory of which persona each call has (nothing global: two cores share nothing). */
export class CallPersonas {
  readonly #config: Config;
  readonly #dialled = new Memo<string>();
  readonly #calls = new Memo<Persona>();

  readonly #onSaved: ((personas: Persona[]) => void) | undefined;

  /** `onSaved`: a new list was saved (the core warms the personas' voices, so a first call does not wait for them). */
  constructor(config: Config, onSaved?: (personas: Persona[]) => void) {
    this.#config = config;
    this.#onSaved = onSaved;
  }

  /** All personas, the default first (CONFIG_INVALID when settings.json holds a broken list). */
  list(): Persona[] {
    return callPersonas(this.#config);
  }

  /**
   * Replace the list (GUI, PUT /settings/personas): checked whole, and saved only when all of it is valid —
   * CONFIG_INVALID naming the persona and field otherwise, with nothing changed. New calls get the new list.
   */
  save(personas: unknown): Persona[] {
    savePersonas(this.#config.dataDir, personas);
    const saved = this.list();
    this.#onSaved?.(saved);
    return saved;
  }

  /** The persona a dial names (case-insensitive; none = the default). Unknown: BAD_REQUEST naming the known ones. */
  forDial(name: string | null | undefined): Persona {
    return personaByName(this.list(), name);
  }

  /** A placed call will be answered by this persona. */
  dialled(callSid: string, persona: Pick<Persona, 'name'>): void {
    this.#dialled.set(callSid, persona.name);
  }

  /**
   * The persona of a call whose stream opens: outbound, the one its dial named (else the default); inbound, the one
   * that answers the number called. Never throws: a broken or changed settings file gives the default, with `problem`.
   */
  open(callSid: string, direction: 'inbound' | 'outbound', to: string | null): Persona & { problem?: string } {
    let persona: Persona & { problem?: string };
    const named = direction === 'outbound' ? this.#dialled.get(callSid) : undefined;
    if (named !== undefined) {
      try {
        persona = this.forDial(named);
      } catch (err) {
        persona = { ...callPersona(this.#config, null), problem: errorMessage(err) };
      }
    } else persona = callPersona(this.#config, direction === 'inbound' ? to : null);
    this.#calls.set(callSid, persona);
    return persona;
  }

  /**
   * The persona a call has (or, before its stream opened, will have): for what happens later on the call. Read
   * afresh (settings change at run time, and a Default persona follows the app's settings); one renamed or
   * deleted since the call opened stays as it was then.
   */
  of(callSid: string): Persona {
    const got = this.#calls.get(callSid);
    if (got) {
      try {
        return this.list().find((p) => p.name.toLowerCase() === got.name.toLowerCase()) ?? got;
      } catch {
        return got;
      }
    }
    const named = this.#dialled.get(callSid);
    try {
      return named !== undefined ? this.forDial(named) : callPersona(this.#config, null);
    } catch {
      return callPersona(this.#config, null);
    }
  }
}
