/**
 * A persona as the GUI and the control API see it (main/core/personas.ts checks and uses it): who answers a call —
 * its name, prompt, greeting, voice, tools, numbers. Plain data, JSON-safe.
 */
export interface PersonaVoice {
  /** TTS plugin name ('' = the app's active TTS plugin). */
  plugin: string;
  /** That plugin's settings for this persona (model, speaker, speed…), over the app's. */
  settings: Record<string, unknown>;
}

export interface Persona {
  name: string;
  systemPrompt: string;
  greeting: string;
  voice: PersonaVoice;
  /** BCP-47-ish language tag ('' = the app's). */
  language: string;
  /** Tool names / tool-plugin names, comma-separated, as PARLEY_TOOLS ('' = all; 'none' = no tools). */
  tools: string;
  transferNumber: string;
  voicemailMessage: string;
  /** Where take_message texts messages ('' = nowhere). */
  ownerNumber: string;
  /** May send_sms text numbers other than the caller's? null = the global smsToAnyNumber setting. */
  smsToAnyNumber: boolean | null;
  /** The numbers (E.164) this persona answers; the default persona (the first) also answers everything else. */
  numbers: string[];
}

/** `GET /settings/personas`, `personas.list` and `personas.save`: the list, the default first. */
export interface PersonaList {
  personas: Persona[];
}
