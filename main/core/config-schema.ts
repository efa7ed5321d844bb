/**
 * Every setting, declared once: its env name, its flag, its type, its limits and its default, so `.env.example`,
 * `--help`, loading (config.ts) and saving (settings.ts) can never drift apart — and how a raw value becomes a
 * typed one, with an error that names the setting.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParleyError } from './errors.ts';

type Kind = 'string' | 'int' | 'number' | 'bool' | 'enum' | 'path' | 'url';

export interface SettingDef {
  key: keyof Config;
  env?: string;
  flag?: string;
  type: Kind;
  values?: readonly string[];
  min?: number;
  max?: number;
  secret?: boolean;
  help: string;
}

/** The repository / app root (two levels up from main/core, or the bundle's parent). */
export const APP_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), import.meta.url.endsWith('.ts') ? '../..' : '..');

export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  pluginsDir: string;
  userPluginsDir: string;
  stt: string;
  llm: string;
  tts: string;
  /** Turn model plugin name ('' = the built-in one when its model is installed, 'none' = turns end on silence). */
  turn: string;
  dataDir: string;
  modelsDir: string;
  vad: 'silero' | 'energy';
  silenceMs: number;
  minSpeechMs: number;
  bargeInMinMs: number;
  maxTurnMs: number;
  speculativeMs: number;
  turnMinMs: number;
  turnThreshold: number;
  preemptive: boolean;
  backchannel: boolean;
  backchannelWords: string;
  backchannelMaxMs: number;
  echoGuard: boolean;
  pluginTimeoutMs: number;
  leadMs: number;
  greeting: string;
  systemPrompt: string;
  apology: string;
  /** Idle caller / longest call (issue 14 §3): the agent asks once, then says goodbye and hangs up. */
  idleRepromptMs: number;
  idleHangupMs: number;
  maxCallMs: number;
  idlePrompt: string;
  idleGoodbye: string;
  maxCallGoodbye: string;
  /** Tools offered to the LLM: tool or tool-plugin names, comma-separated ('' = every tool; `none` = no tools). */
  tools: string;
  /** Longest one tool call may take before the LLM gets an error result instead, ms. */
  toolTimeoutMs: number;
  /** Said when a tool takes longer than about a second, so the line is not silent ('' = say nothing). */
  toolFiller: string;
  /** Tools that wait for Approve / Deny at the desk before they run: tool or tool-plugin names ('none' = never). */
  askFirst: string;
  /** How long an ask-first tool waits for a decision before it counts as denied, ms. */
  approvalTimeoutMs: number;
  /** Said once while an ask-first tool waits for the desk ('' = say nothing). */
  approvalFiller: string;
  maxHistory: number;
  twilioAccountSid: string;
  twilioAuthToken: string;
  twilioPhoneNumber: string;
  ngrokAuthtoken: string;
  ngrokDomain: string;
  updateTwilioNumber: boolean;
  validateSignatures: boolean;
  controlToken: string;
  dialRatePerMinute: number;
  maxStreams: number;
  /** Calls served at once (0 = from the machine's cores, see callCapacity); one more hears the busy notice. */
  maxCalls: number;
  /** Worker processes per speech-to-text plugin (0 = from the cores, see poolSize in plugins/worker-pool.ts). */
  sttWorkers: number;
  /** Worker processes per text-to-speech plugin (0 = from the cores). */
  ttsWorkers: number;
  maxConnectionsPerAddress: number;
  recordCalls: boolean;
  retentionDays: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  logFormat: 'pretty' | 'json';
  /** Where `transfer_call` puts the caller through (E.164; '' = no transfers). A persona may override it. */
  transferNumber: string;
  /** Spoken before a transfer ("connecting you"). */
  transferMessage: string;
  /** Spoken when the caller comes back because nobody answered the transfer. */
  transferNoAnswerMessage: string;
  /** `send_sms` may text numbers other than the caller's own. */
  smsToAnyNumber: boolean;
  /** Outbound calls ask Twilio for answering-machine detection (async, to the end of the greeting). */
  machineDetection: boolean;
  /** Left on an answering machine after the beep, then the call hangs up ('' = hang up without a message). */
  voicemailMessage: string;
  /** Per-plugin settings: `--set <plugin>.<setting>=<value>`. */
  pluginSettings: Record<string, Record<string, unknown>>;
}

export const DEFAULTS: Omit<Config, 'pluginSettings'> = {
  host: '127.0.0.1',
  port: 3000,
  publicUrl: '',
  pluginsDir: resolve(APP_ROOT, 'plugins'),
  userPluginsDir: '',
  stt: '',
  llm: '',
  tts: '',
  turn: '',
  dataDir: resolve('data'),
  modelsDir: resolve('models'),
  vad: 'silero',
  silenceMs: 600,
  minSpeechMs: 150,
  bargeInMinMs: 250,
  maxTurnMs: 30_000,
  speculativeMs: 200,
  turnMinMs: 200,
  turnThreshold: 0.5,
  preemptive: true,
  backchannel: true,
  backchannelWords: 'mm-hm, mhm, mm, hm, hmm, uh-huh, uh huh, yeah, yep, yes, okay, ok, right, sure, alright, all right, i see, got it, uh, um, ah, oh',
  backchannelMaxMs: 1_000,
  echoGuard: true,
  pluginTimeoutMs: 15_000,
  leadMs: 100,
  greeting: 'Hello! This is Parley. How can I help you today?',
  systemPrompt:
    'You are a friendly, helpful voice assistant on a phone call. Answer in one or two short spoken sentences. ' +
    'No lists, no markdown, no emoji. If you did not understand, ask the caller to repeat.',
  apology: 'Sorry, I had a problem there. Could you say that again?',
  idleRepromptMs: 8_000,
  idleHangupMs: 20_000,
  maxCallMs: 1_800_000,
  idlePrompt: 'Are you still there?',
  idleGoodbye: "I haven't heard anything, so I'll hang up now. Goodbye!",
  maxCallGoodbye: "Sorry, we've reached the time limit for this call. Goodbye!",
  tools: '',
  toolTimeoutMs: 10_000,
  toolFiller: 'One moment.',
  askFirst: 'transfer_call,send_sms',
  approvalTimeoutMs: 20_000,
  approvalFiller: 'One moment, let me check that.',
  maxHistory: 20,
  twilioAccountSid: '',
  twilioAuthToken: '',
  twilioPhoneNumber: '',
  ngrokAuthtoken: '',
  ngrokDomain: '',
  updateTwilioNumber: false,
  validateSignatures: true,
  controlToken: '',
  dialRatePerMinute: 5,
  maxStreams: 20,
  maxCalls: 0,
  sttWorkers: 0,
  ttsWorkers: 0,
  maxConnectionsPerAddress: 100,
  recordCalls: false,
  retentionDays: 0,
  logLevel: 'info',
  logFormat: 'pretty',
  transferNumber: '',
  transferMessage: 'Connecting you now. Please hold.',
  transferNoAnswerMessage: "Sorry, nobody picked up. I can take a message, or help you myself.",
  smsToAnyNumber: false,
  machineDetection: true,
  voicemailMessage: 'Hello, this is an automated assistant returning your call. Please call us back when you can. Goodbye.',
};

export const SETTINGS: readonly SettingDef[] = [
  { key: 'host', env: 'HOST', flag: 'host', type: 'string', help: 'Interface the server binds to (127.0.0.1 = this computer only; the ngrok tunnel reaches it there)' },
  { key: 'port', env: 'PORT', flag: 'port', type: 'int', min: 0, max: 65535, help: 'HTTP + WebSocket port (0 = any free port)' },
  { key: 'publicUrl', env: 'PUBLIC_URL', flag: 'public-url', type: 'url', help: 'Public https URL Twilio reaches this server at (set by the ngrok tunnel when NGROK_AUTHTOKEN is set)' },
  { key: 'pluginsDir', env: 'PARLEY_BUILTIN_PLUGINS_DIR', flag: 'plugins-dir', type: 'path', help: 'Built-in plugins folder (--plugins-dir replaces it)' },
  { key: 'userPluginsDir', env: 'PARLEY_PLUGINS_DIR', flag: 'user-plugins-dir', type: 'path', help: 'Your own plugins folder (default <data dir>/plugins); folders dropped in appear live' },
  { key: 'stt', env: 'PARLEY_STT', flag: 'stt', type: 'string', help: 'Speech-to-text plugin name (default: the only one, or moonshine-stt for English; whisper-stt for other languages)' },
  { key: 'llm', env: 'PARLEY_LLM', flag: 'llm', type: 'string', help: 'LLM plugin name (default: the only one, or llama-llm)' },
  { key: 'tts', env: 'PARLEY_TTS', flag: 'tts', type: 'string', help: 'Text-to-speech plugin name: piper-tts or melo-tts (default: the only one, or piper-tts)' },
  { key: 'turn', env: 'PARLEY_TURN', flag: 'turn', type: 'string', help: 'Turn model plugin that tells when the caller has finished (default: smart-turn when its model is installed; none = turns end after --silence-ms)' },
  { key: 'dataDir', env: 'PARLEY_DATA_DIR', flag: 'data-dir', type: 'path', help: 'Where settings, call records and recordings live (default ./data; the app uses its user-data folder)' },
  { key: 'modelsDir', env: 'PARLEY_MODELS_DIR', flag: 'models-dir', type: 'path', help: 'Where model files live (default ./models; the app uses its user-data folder)' },
  { key: 'vad', env: 'PARLEY_VAD', flag: 'vad', type: 'enum', values: ['silero', 'energy'], help: 'Voice activity detector: silero (accurate) or energy (fallback)' },
  { key: 'silenceMs', env: 'PARLEY_SILENCE_MS', flag: 'silence-ms', type: 'int', min: 100, max: 10_000, help: "Silence that ends the caller's turn, ms" },
  { key: 'minSpeechMs', env: 'PARLEY_MIN_SPEECH_MS', flag: 'min-speech-ms', type: 'int', min: 0, max: 5_000, help: 'Speech needed to start a turn, ms (coughs and clicks are shorter)' },
  { key: 'bargeInMinMs', env: 'PARLEY_BARGE_IN_MS', flag: 'barge-in-ms', type: 'int', min: 0, max: 5_000, help: 'Caller speech that interrupts the agent, ms (barge-in sensitivity)' },
  { key: 'maxTurnMs', env: 'PARLEY_MAX_TURN_MS', flag: 'max-turn-ms', type: 'int', min: 1_000, max: 300_000, help: "Longest caller turn before it is cut, ms" },
  { key: 'speculativeMs', env: 'PARLEY_SPECULATIVE_MS', flag: 'speculative-ms', type: 'int', min: 0, max: 10_000, help: 'Silence after which transcription starts early, ms (≤ silence-ms)' },
  { key: 'turnMinMs', env: 'PARLEY_TURN_MIN_MS', flag: 'turn-min-ms', type: 'int', min: 0, max: 10_000, help: 'Silence after which the turn model is asked whether the caller has finished, ms' },
  { key: 'turnThreshold', env: 'PARLEY_TURN_THRESHOLD', flag: 'turn-threshold', type: 'number', min: 0, max: 1, help: "Turn model probability at or above which the caller's turn ends at once (0..1)" },
  { key: 'preemptive', env: 'PARLEY_PREEMPTIVE', flag: 'preemptive', type: 'bool', help: 'Prepare the reply (STT → LLM → TTS) during the caller\'s pause, sent only once the turn really ends' },
  { key: 'backchannel', env: 'PARLEY_BACKCHANNEL', flag: 'backchannel', type: 'bool', help: 'A short "mm-hm" or noise over the agent pauses it, and the reply resumes where the caller stopped hearing it' },
  { key: 'backchannelWords', env: 'PARLEY_BACKCHANNEL_WORDS', flag: 'backchannel-words', type: 'string', help: 'Comma-separated words and phrases that count as a backchannel, not a turn' },
  { key: 'backchannelMaxMs', env: 'PARLEY_BACKCHANNEL_MAX_MS', flag: 'backchannel-max-ms', type: 'int', min: 0, max: 5_000, help: 'Longest caller sound over the agent that can be a backchannel, ms' },
  { key: 'echoGuard', env: 'PARLEY_ECHO_GUARD', flag: 'echo-guard', type: 'bool', help: "Ignore the agent's own voice coming back from a speakerphone (no self-interruption)" },
  { key: 'pluginTimeoutMs', env: 'PARLEY_PLUGIN_TIMEOUT_MS', flag: 'plugin-timeout-ms', type: 'int', min: 100, max: 600_000, help: 'Longest a plugin may take for one step before the turn is abandoned, ms' },
  { key: 'leadMs', env: 'PARLEY_LEAD_MS', flag: 'lead-ms', type: 'int', min: 20, max: 200, help: 'Agent audio queued at Twilio ahead of playback, ms (≤ 200)' },
  { key: 'greeting', env: 'PARLEY_GREETING', flag: 'greeting', type: 'string', help: 'Spoken when a call connects (empty = none)' },
  { key: 'systemPrompt', env: 'PARLEY_SYSTEM_PROMPT', flag: 'system-prompt', type: 'string', help: 'The system prompt given to the LLM' },
  { key: 'apology', env: 'PARLEY_APOLOGY', flag: 'apology', type: 'string', help: 'Spoken when a plugin fails during a turn' },
  { key: 'idleRepromptMs', env: 'PARLEY_IDLE_REPROMPT_MS', flag: 'idle-reprompt-ms', type: 'int', min: 0, max: 3_600_000, help: 'Caller silence (while the agent is not speaking, thinking or in a tool) after which the agent asks once if they are still there, ms (0 = never)' },
  { key: 'idleHangupMs', env: 'PARLEY_IDLE_HANGUP_MS', flag: 'idle-hangup-ms', type: 'int', min: 0, max: 3_600_000, help: 'Caller silence after which the agent says goodbye and ends the call (call.ended reason "idle"), ms (0 = never)' },
  { key: 'maxCallMs', env: 'PARLEY_MAX_CALL_MS', flag: 'max-call-ms', type: 'int', min: 0, max: 86_400_000, help: 'Longest call: then the agent says goodbye and ends it (call.ended reason "max-length"), ms (0 = no limit)' },
  { key: 'idlePrompt', env: 'PARLEY_IDLE_PROMPT', flag: 'idle-prompt', type: 'string', help: 'Said once after PARLEY_IDLE_REPROMPT_MS of caller silence' },
  { key: 'idleGoodbye', env: 'PARLEY_IDLE_GOODBYE', flag: 'idle-goodbye', type: 'string', help: 'Said before an idle caller is hung up (empty = hang up silently)' },
  { key: 'maxCallGoodbye', env: 'PARLEY_MAX_CALL_GOODBYE', flag: 'max-call-goodbye', type: 'string', help: 'Said before a call that reached PARLEY_MAX_CALL_MS is hung up (empty = hang up silently)' },
  { key: 'tools', env: 'PARLEY_TOOLS', flag: 'tools', type: 'string', help: 'Tools the agent may use: tool names or tool-plugin names, comma-separated (empty = all built-ins and every tool plugin; none = no tools)' },
  { key: 'toolTimeoutMs', env: 'PARLEY_TOOL_TIMEOUT_MS', flag: 'tool-timeout-ms', type: 'int', min: 100, max: 120_000, help: 'Longest one tool call may take; then the agent is told it failed and the call goes on, ms' },
  { key: 'toolFiller', env: 'PARLEY_TOOL_FILLER', flag: 'tool-filler', type: 'string', help: 'Said when a tool takes longer than about a second (empty = stay silent)' },
  { key: 'askFirst', env: 'PARLEY_ASK_FIRST', flag: 'ask-first', type: 'string', help: 'Tools that wait for Approve / Deny in the GUI (or POST /calls/:callSid/approvals/:id) before they run: tool or tool-plugin names, comma-separated (none = never ask). The default also asks for any tool whose plugin marks it askFirst' },
  { key: 'approvalTimeoutMs', env: 'PARLEY_APPROVAL_TIMEOUT_MS', flag: 'approval-timeout-ms', type: 'int', min: 1_000, max: 600_000, help: 'How long an ask-first tool waits for Approve / Deny; then it counts as denied and does not run, ms' },
  { key: 'approvalFiller', env: 'PARLEY_APPROVAL_FILLER', flag: 'approval-filler', type: 'string', help: 'Said once while an ask-first tool waits for the desk (empty = stay silent)' },
  { key: 'maxHistory', env: 'PARLEY_MAX_HISTORY', flag: 'max-history', type: 'int', min: 1, max: 1_000, help: 'Messages of history sent to the LLM, at most (when full, the oldest half is dropped at once, so the LLM keeps its cache of the call)' },
  { key: 'twilioAccountSid', env: 'TWILIO_ACCOUNT_SID', type: 'string', help: 'Twilio Account SID (AC…)' },
  { key: 'twilioAuthToken', env: 'TWILIO_AUTH_TOKEN', type: 'string', secret: true, help: 'Twilio Auth Token (also used to validate webhook signatures)' },
  { key: 'twilioPhoneNumber', env: 'TWILIO_PHONE_NUMBER', type: 'string', help: 'Your Twilio number in E.164 (+15551234567): caller ID for outbound calls' },
  { key: 'ngrokAuthtoken', env: 'NGROK_AUTHTOKEN', type: 'string', secret: true, help: 'ngrok authtoken: start a public tunnel at start-up' },
  { key: 'ngrokDomain', env: 'NGROK_DOMAIN', flag: 'ngrok-domain', type: 'string', help: 'Your reserved ngrok domain (e.g. you.ngrok-free.app): the tunnel URL stays the same across restarts (empty = a random one)' },
  { key: 'updateTwilioNumber', env: 'PARLEY_UPDATE_TWILIO_NUMBER', flag: 'update-twilio-number', type: 'bool', help: "Point your Twilio number's voice URL and status callback at this app's public URL when it starts or changes (edits your Twilio number; off unless you turn it on)" },
  { key: 'validateSignatures', env: 'PARLEY_VALIDATE_SIGNATURES', flag: 'validate-signatures', type: 'bool', help: 'Check X-Twilio-Signature on webhooks and the media socket (turning it off logs a loud warning)' },
  { key: 'controlToken', env: 'PARLEY_CONTROL_TOKEN', type: 'string', secret: true, help: 'Bearer token for the local control API (generated on first run when empty)' },
  { key: 'dialRatePerMinute', env: 'PARLEY_DIAL_RATE', flag: 'dial-rate', type: 'int', min: 1, max: 1_000, help: 'Outbound calls allowed per minute' },
  { key: 'maxStreams', env: 'PARLEY_MAX_STREAMS', flag: 'max-streams', type: 'int', min: 1, max: 10_000, help: 'Concurrent media streams (calls) accepted; more get a 503. The default is well above what one computer serves with real models (a few calls at once)' },
  { key: 'maxCalls', env: 'PARLEY_MAX_CALLS', flag: 'max-calls', type: 'int', min: 0, max: 1_000, help: 'Calls served at once; one more hears a short "all lines are busy" notice and is hung up (never a model run). 0 = from the cores: 2 on a machine with up to 4 cores, then one per 2 cores, at most 8. The 2 is measured (npm run bench -- concurrent --standin on 2 cores: 2 calls kept the 1-call voice-to-voice median, 4 did not); the step above 4 cores is extrapolated. Below PARLEY_MAX_STREAMS' },
  { key: 'sttWorkers', env: 'PARLEY_STT_WORKERS', flag: 'stt-workers', type: 'int', min: 0, max: 16, help: 'Worker processes for the speech-to-text plugin: that many calls are transcribed at once, the others wait their turn fairly (a hung-up or interrupted call leaves the queue at once). 0 = one per 2 cores, 1 to 4 (each model run already uses several threads). Each worker holds its own copy of the model' },
  { key: 'ttsWorkers', env: 'PARLEY_TTS_WORKERS', flag: 'tts-workers', type: 'int', min: 0, max: 16, help: 'Worker processes for the text-to-speech plugin, as --stt-workers. 0 = one per 2 cores, 1 to 4' },
  { key: 'maxConnectionsPerAddress', env: 'PARLEY_MAX_CONNECTIONS_PER_ADDRESS', flag: 'max-connections-per-address', type: 'int', min: 1, max: 100_000, help: 'Open connections one client address may hold on each listener (tunnelled and locally proxied traffic all comes from 127.0.0.1)' },
  { key: 'recordCalls', env: 'PARLEY_RECORD_CALLS', flag: 'record-calls', type: 'bool', help: 'Record calls to WAV (check the consent laws where you and your callers are)' },
  { key: 'retentionDays', env: 'PARLEY_RETENTION_DAYS', flag: 'retention-days', type: 'int', min: 0, max: 36_500, help: 'Delete call records older than this many days (0 = keep forever)' },
  { key: 'logLevel', env: 'PARLEY_LOG_LEVEL', flag: 'log-level', type: 'enum', values: ['debug', 'info', 'warn', 'error'], help: 'Log level' },
  { key: 'logFormat', env: 'PARLEY_LOG_FORMAT', flag: 'log-format', type: 'enum', values: ['pretty', 'json'], help: 'Log format on stderr' },
  { key: 'transferNumber', env: 'PARLEY_TRANSFER_NUMBER', flag: 'transfer-number', type: 'string', help: 'Number (E.164) the transfer_call tool puts callers through to; empty = no transfers' },
  { key: 'transferMessage', env: 'PARLEY_TRANSFER_MESSAGE', flag: 'transfer-message', type: 'string', help: 'Spoken before a transfer' },
  { key: 'transferNoAnswerMessage', env: 'PARLEY_TRANSFER_NO_ANSWER_MESSAGE', flag: 'transfer-no-answer-message', type: 'string', help: 'Spoken when the caller comes back to the agent because the transfer was not answered' },
  { key: 'smsToAnyNumber', env: 'PARLEY_SMS_TO_ANY_NUMBER', flag: 'sms-to-any-number', type: 'bool', help: "Let the send_sms tool text numbers other than the caller's own (off: the caller only)" },
  { key: 'machineDetection', env: 'PARLEY_MACHINE_DETECTION', flag: 'machine-detection', type: 'bool', help: "Outbound calls use Twilio's answering-machine detection (billed by Twilio per call): on a machine, the voicemail message is left after the beep" },
  { key: 'voicemailMessage', env: 'PARLEY_VOICEMAIL_MESSAGE', flag: 'voicemail-message', type: 'string', help: 'Left on an answering machine after the beep, then the call hangs up (empty = hang up without a message)' },
];

/**
 * How many calls are served at once: PARLEY_MAX_CALLS, or with 0 a guess from the cores. Each call runs its own
 * speech-to-text, LLM and speech turns on the CPU; nobody has measured what one costs with the real models yet,
 * so the guess is conservative (2 on 2–4 cores, one per 2 cores above, at most 8) until the concurrency bench
 * (issue 17) measures it.
 */
/** The default line count: 2 measured on 2 cores (docs/scaling.md §4); one per 2 cores above 4 cores is extrapolated. */
export function callCapacity(maxCalls: number, cores: number = availableParallelism()): number {
  if (maxCalls > 0) return maxCalls;
  return Math.min(8, Math.max(2, Math.floor(cores / 2)));
}

export function parseValue(def: SettingDef, raw: unknown, source: string): unknown {
  const name = source === 'flag' ? `--${def.flag}` : source === 'env' ? def.env : `settings "${def.key}"`;
  const fail = (expected: string): never => {
    throw new ParleyError('CONFIG_INVALID', `${name} must be ${expected} (got ${JSON.stringify(raw)}).`);
  };
  switch (def.type) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isInteger(n)) fail('a whole number');
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) fail(`between ${def.min} and ${def.max}`);
      return n;
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) fail('a number');
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) fail(`between ${def.min} and ${def.max}`);
      return n;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(0|false|no|off)$/i.test(raw)) return false;
      return fail('true or false');
    case 'enum':
      if (typeof raw !== 'string' || !def.values!.includes(raw)) fail(`one of ${def.values!.join(', ')}`);
      return raw;
    case 'url': {
      if (typeof raw !== 'string') return fail('a URL');
      if (raw === '') return '';
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        return fail('an absolute URL like https://example.ngrok.app');
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') fail('an http(s) URL');
      return raw.replace(/\/+$/, '');
    }
    case 'path':
      if (typeof raw !== 'string') return fail('a path');
      return raw === '' ? '' : resolve(raw);
    default:
      if (typeof raw !== 'string') return fail('text');
      return raw;
  }
}

/**
 * Validate a partial settings change (from the GUI or the control API) into typed values. Unknown keys and bad
 * values are CONFIG_INVALID errors naming the setting.
 */
export function validatePatch(patch: Record<string, unknown>): Partial<Config> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'pluginSettings') {
      if (!value || typeof value !== 'object') throw new ParleyError('CONFIG_INVALID', 'settings "pluginSettings" must be an object of { "<plugin>": { "<setting>": value } }');
      out.pluginSettings = value;
      continue;
    }
    const def = SETTINGS.find((d) => d.key === key);
    if (!def) throw new ParleyError('CONFIG_INVALID', `"${key}" is not a setting. Known settings: ${SETTINGS.map((d) => d.key).join(', ')}.`);
    out[key] = parseValue(def, value, 'file');
  }
  return out as Partial<Config>;
}

/** The config with secrets masked: for logs, the GUI and the doctor. */
export function publicConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const def of SETTINGS) if (def.secret) out[def.key] = config[def.key] ? '••••••' : '';
  return out;
}
