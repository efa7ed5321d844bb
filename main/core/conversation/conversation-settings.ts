/** The settings a call takes from the config when it starts (GUI edits apply to the next call). */
import type { Config } from '../config.ts';

export const CONVERSATION_KEYS = [
  'greeting',
  'systemPrompt',
  'maxHistory',
  'silenceMs',
  'minSpeechMs',
  'bargeInMinMs',
  'maxTurnMs',
  'speculativeMs',
  'turnMinMs',
  'turnThreshold',
  'preemptive',
  'backchannel',
  'backchannelWords',
  'backchannelMaxMs',
  'echoGuard',
  'pluginTimeoutMs',
  'leadMs',
  'apology',
  'idleRepromptMs',
  'idleHangupMs',
  'maxCallMs',
  'idlePrompt',
  'idleGoodbye',
  'maxCallGoodbye',
] as const satisfies readonly (keyof Config)[];

export type ConversationSettings = Pick<Config, (typeof CONVERSATION_KEYS)[number]>;

export function conversationSettings(config: Config): ConversationSettings {
  const out = Object.fromEntries(CONVERSATION_KEYS.map((k) => [k, config[k]])) as ConversationSettings;
  // Speculative transcription can't start later than the end of the turn.
  out.speculativeMs = Math.min(out.speculativeMs, out.silenceMs);
  return out;
}
