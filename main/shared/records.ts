/**
 * What the call records hand out: to the GUI's History view (through IPC), the control API and the export.
 * Times are epoch milliseconds; JSON-safe throughout.
 */
import type { AnsweredBy, CallDirection, CallPlugins } from './events.ts';

export interface RecordingInfo {
  /** Relative to the data folder, e.g. `recordings/CA….wav`. */
  path: string;
  bytes: number | null;
  durationMs: number | null;
}

export interface CallSummary {
  sid: string;
  direction: CallDirection | null;
  from: string | null;
  to: string | null;
  startedAt: number;
  endedAt: number | null;
  /** Last known Twilio status (`in-progress` while live); the final one once ended. */
  status: string;
  /** Why the media stream ended (engine's reason), or `crashed` / `record-incomplete` (recovered at the next start). */
  endReason: string | null;
  durationMs: number | null;
  plugins: CallPlugins | null;
  models: Record<string, string> | null;
  turnCount: number;
  recording: RecordingInfo | null;
  /** The persona that took the call (null for calls recorded before personas). */
  persona: string | null;
  /** Outbound calls with answering-machine detection: who answered (from the `answered-by` event). */
  answeredBy?: AnsweredBy | null;
}

export interface TurnLatencies {
  endpointMs: number | null;
  sttMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstAudioMs: number | null;
  voiceToVoiceMs: number | null;
  engineOverheadMs: number | null;
}

export interface TurnRecord {
  turnId: number;
  callerText: string | null;
  /** What the caller actually heard of the agent's reply. */
  agentText: string | null;
  /** Everything the agent generated for the turn (longer than agentText when interrupted). */
  agentFullText: string | null;
  interrupted: boolean;
  callerAt: number | null;
  agentAt: number | null;
  /** From `turn.metrics`; null when the engine reported none for the turn. */
  latencies: TurnLatencies | null;
}

export type EventRecordType = 'started' | 'status' | 'dtmf' | 'interrupted' | 'backchannel' | 'error' | 'ended' | 'answered-by' | 'transfer' | 'sms' | 'keys' | 'whisper' | 'turn-end' | 'tool' | 'message' | 'approval' | 'takeover' | 'desk';

export interface EventRecord {
  id: number;
  at: number;
  type: EventRecordType;
  data: Record<string, unknown>;
}

export interface CallDetail extends CallSummary {
  streamSid: string | null;
  turns: TurnRecord[];
  /** Also holds the call's tool calls (`tool`: name, arguments, state, result/error, durationMs, turnId) and taken messages (`message`). */
  events: EventRecord[];
  /** Messages taken on this call (the take_message tool), oldest first. */
  messages?: MessageRecord[];
}

/** A message taken for the owner during a call: the GUI's Inbox, the export. */
export interface MessageRecord {
  id: number;
  callSid: string;
  /** The caller's name as they gave it (may be empty). */
  name: string;
  /** The number to call back (default: the caller's ID). */
  callback: string;
  message: string;
  at: number;
  done: boolean;
  /** When it was marked done, or null. */
  doneAt: number | null;
}

export interface MessageList {
  /** Newest first. */
  messages: MessageRecord[];
  /** Messages not yet marked done (the new-message badge). */
  undone: number;
}

export interface CallQuery {
  /** Free text: matches what was said (either side) and the numbers. */
  q?: string;
  /** started_at >= from (epoch ms). */
  from?: number;
  /** started_at < to (epoch ms). */
  to?: number;
  /** A phone number or part of one; punctuation and spaces are ignored. */
  number?: string;
  status?: string | string[];
  direction?: CallDirection;
  /** 1..500, default 50. */
  limit?: number;
  offset?: number;
}

export interface CallPage {
  calls: CallSummary[];
  /** Matching calls in all pages. */
  total: number;
  limit: number;
  offset: number;
}
