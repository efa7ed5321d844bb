/**
 * Personas: who answers. A persona bundles what a call is given — name, system prompt, greeting, voice (TTS
 * plugin + its settings), language, enabled tools, transfer number, voicemail message, the owner's number for
 * messages — and the numbers it answers (Twilio `To`).
 *
 * They are stored in settings.json as `personas`. A settings file from before personas has none: it loads as one
 * "Default" persona built from that file's systemPrompt / greeting / tts / tools / transferNumber /
 * voicemailMessage, so nothing is lost and old files keep working. The first persona is the default: it takes
 * every inbound call whose `To` no persona claims, and every outbound call that names none.
 *
 * Pure functions only: the callers (settings, call opening, POST /calls) decide what to do with the answer.
 */
import { ParleyError } from './errors.ts';

// The shapes are shared with the GUI (main/shared/personas.ts).
import type { Persona } from '../shared/personas.ts';
export type { Persona, PersonaList, PersonaVoice } from '../shared/personas.ts';

/** The settings a Default persona is built from (a subset of Config; all optional in an old file). */
export interface PersonaSourceSettings {
  systemPrompt?: string;
  greeting?: string;
  tts?: string;
  tools?: string;
  transferNumber?: string;
  voicemailMessage?: string;
  smsToAnyNumber?: boolean;
  pluginSettings?: Record<string, Record<string, unknown>>;
  personas?: unknown;
}

export const DEFAULT_PERSONA_NAME = 'Default';
const E164 = /^\+[1-9]\d{6,14}$/;

/** The "Default" persona an upgraded settings file gets: today's settings, unchanged. */
export function defaultPersonaFrom(s: PersonaSourceSettings): Persona {
  const tts = s.tts ?? '';
  return {
    name: DEFAULT_PERSONA_NAME,
    systemPrompt: s.systemPrompt ?? '',
    greeting: s.greeting ?? '',
    voice: { plugin: tts, settings: { ...(tts ? (s.pluginSettings?.[tts] ?? {}) : {}) } },
    language: '',
    tools: s.tools ?? '',
    transferNumber: s.transferNumber ?? '',
    voicemailMessage: s.voicemailMessage ?? '',
    ownerNumber: '',
    smsToAnyNumber: null,
    numbers: [],
  };
}

/**
 * The personas of a settings file: its validated `personas`, or — for a file from before personas, or an empty
 * list — the one Default persona built from its other settings. A malformed list is CONFIG_INVALID naming the
 * persona and field to fix.
 */
export function personasFromSettings(s: PersonaSourceSettings): Persona[] {
  if (s.personas === undefined || s.personas === null || (Array.isArray(s.personas) && s.personas.length === 0)) return [defaultPersonaFrom(s)];
  return validatePersonas(s.personas, defaultPersonaFrom(s));
}

function text(where: string, field: string, v: unknown, fallback: string): string {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw new ParleyError('CONFIG_INVALID', `${where}: "${field}" must be text.`, { details: { field } });
  return v;
}

/** Check and fill in a list of personas (fields left out take the fallback's value). */
export function validatePersonas(input: unknown, fallback: Persona = defaultPersonaFrom({})): Persona[] {
  if (!Array.isArray(input)) throw new ParleyError('CONFIG_INVALID', 'settings "personas" must be a list of personas ({ "name": …, … }).');
  const seenNames = new Map<string, number>();
  const seenNumbers = new Map<string, string>();
  return input.map((raw, i) => {
    const where = `persona ${i + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParleyError('CONFIG_INVALID', `${where} must be an object with at least a "name".`);
    const r = raw as Record<string, unknown>;
    const name = text(where, 'name', r.name, '').trim();
    if (!name) throw new ParleyError('CONFIG_INVALID', `${where} has no name: give every persona a name.`, { details: { field: 'name' } });
    const key = name.toLowerCase();
    if (seenNames.has(key)) throw new ParleyError('CONFIG_INVALID', `Two personas are named "${name}": rename one.`, { details: { field: 'name' } });
    seenNames.set(key, i);
    const at = `persona "${name}"`;
    const voiceRaw = (r.voice ?? {}) as Record<string, unknown>;
    if (typeof voiceRaw !== 'object' || Array.isArray(voiceRaw)) throw new ParleyError('CONFIG_INVALID', `${at}: "voice" must be { "plugin": …, "settings": { … } }.`);
    const voiceSettings = voiceRaw.settings ?? {};
    if (typeof voiceSettings !== 'object' || voiceSettings === null || Array.isArray(voiceSettings)) throw new ParleyError('CONFIG_INVALID', `${at}: "voice.settings" must be an object.`);
    const numbersRaw = r.numbers ?? [];
    if (!Array.isArray(numbersRaw)) throw new ParleyError('CONFIG_INVALID', `${at}: "numbers" must be a list of E.164 numbers like "+15551234567".`);
    const numbers = numbersRaw.map((n) => {
      const num = typeof n === 'string' ? n.replace(/[\s()-]/g, '') : '';
      if (!E164.test(num)) throw new ParleyError('CONFIG_INVALID', `${at}: ${JSON.stringify(n)} is not an E.164 number (write it like +15551234567).`, { details: { field: 'numbers' } });
      const other = seenNumbers.get(num);
      if (other !== undefined && other !== name) throw new ParleyError('CONFIG_INVALID', `${num} is answered by both "${other}" and "${name}": give it to one persona.`, { details: { field: 'numbers' } });
      seenNumbers.set(num, name);
      return num;
    });
    for (const field of ['transferNumber', 'ownerNumber'] as const) {
      const v = text(at, field, r[field], '').trim();
      if (v && !E164.test(v.replace(/[\s()-]/g, ''))) throw new ParleyError('CONFIG_INVALID', `${at}: "${field}" ${JSON.stringify(v)} is not an E.164 number (write it like +15551234567, or leave it empty).`, { details: { field } });
    }
    const sms = r.smsToAnyNumber;
    if (sms !== undefined && sms !== null && typeof sms !== 'boolean') throw new ParleyError('CONFIG_INVALID', `${at}: "smsToAnyNumber" must be true, false or null (= the global setting).`);
    return {
      name,
      systemPrompt: text(at, 'systemPrompt', r.systemPrompt, fallback.systemPrompt),
      greeting: text(at, 'greeting', r.greeting, fallback.greeting),
      voice: { plugin: text(at, 'voice.plugin', voiceRaw.plugin, fallback.voice.plugin), settings: { ...(voiceSettings as Record<string, unknown>) } },
      language: text(at, 'language', r.language, fallback.language),
      tools: text(at, 'tools', r.tools, fallback.tools),
      transferNumber: text(at, 'transferNumber', r.transferNumber, '').replace(/[\s()-]/g, ''),
      voicemailMessage: text(at, 'voicemailMessage', r.voicemailMessage, fallback.voicemailMessage),
      ownerNumber: text(at, 'ownerNumber', r.ownerNumber, '').replace(/[\s()-]/g, ''),
      smsToAnyNumber: sms === undefined ? null : (sms as boolean | null),
      numbers,
    };
  });
}

/** The persona an inbound call to `to` gets: the one that lists that number, else the default (the first). */
export function personaForInbound(personas: readonly Persona[], to: string | null | undefined): Persona {
  if (personas.length === 0) throw new ParleyError('CONFIG_INVALID', 'No personas: settings "personas" must hold at least one.');
  const num = (to ?? '').replace(/[\s()-]/g, '');
  return personas.find((p) => num !== '' && p.numbers.includes(num)) ?? personas[0]!;
}

/**
 * The persona an outbound call names (case-insensitive), or the default when it names none. An unknown name is
 * BAD_REQUEST naming the personas there are (the HTTP edge turns it into a 400).
 */
export function personaByName(personas: readonly Persona[], name: string | null | undefined): Persona {
  if (personas.length === 0) throw new ParleyError('CONFIG_INVALID', 'No personas: settings "personas" must hold at least one.');
  if (name === undefined || name === null || name.trim() === '') return personas[0]!;
  const found = personas.find((p) => p.name.toLowerCase() === name.trim().toLowerCase());
  if (!found) {
    throw new ParleyError('BAD_REQUEST', `No persona named "${name}". Known personas: ${personas.map((p) => `"${p.name}"`).join(', ')}.`, {
      details: { field: 'persona', known: personas.map((p) => p.name) },
    });
  }
  return found;
}

/** May send_sms text a number other than the caller's, for this persona? Its own choice, else the global one. */
export function smsToAnyNumberAllowed(persona: Pick<Persona, 'smsToAnyNumber'>, globalSetting: boolean): boolean {
  return persona.smsToAnyNumber ?? globalSetting;
}

/** Twilio's limit for one message body (twilio/messages.ts says the same; this layer can't import it). */
const SMS_MAX_CHARS = 1600;

/** The text a message taken on a call sends the persona's owner: "Message from NAME (CALLBACK): TEXT", cut to fit one SMS. */
export function ownerMessageText(m: { name: string; callback: string; message: string }): string {
  const who = m.name.trim() || 'a caller';
  const back = m.callback.trim() || 'no number given';
  const text = `Message from ${who} (${back}): ${m.message.trim()}`.replace(/\s+/g, ' ');
  return text.length <= SMS_MAX_CHARS ? text : `${text.slice(0, SMS_MAX_CHARS - 1)}…`;
}
