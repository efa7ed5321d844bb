/**
 * The core's typed events: what the GUI, the call records and the CLI all consume (the bus itself is
 * main/core/event-bus.ts). Add fields and event types freely, never rename or reshape existing ones.
 */
import type { PluginKind } from './plugins.ts';

export type CallDirection = 'inbound' | 'outbound';
export type AgentState = 'listening' | 'thinking' | 'speaking';
/** Twilio's call statuses plus our own `connected` (media stream started). */
export type CallStatus =
  | 'queued'
  | 'initiated'
  | 'ringing'
  | 'in-progress'
  | 'completed'
  | 'busy'
  | 'no-answer'
  | 'failed'
  | 'canceled';

export interface TurnMetrics {
  /** End of the caller's speech → the engine decided the turn was over (≈ silenceMs). */
  endpointMs: number;
  /** Speech-to-text time (0 when a speculative transcript was already ready). */
  sttMs: number;
  /** LLM request → first text delta. */
  llmFirstTokenMs: number | null;
  /** First clause handed to TTS → its first audio chunk. */
  ttsFirstAudioMs: number | null;
  /** End of the caller's speech → first agent audio frame sent to Twilio. */
  voiceToVoiceMs: number | null;
  /** Endpoint → first outbound frame minus plugin time: what the engine itself adds. */
  engineOverheadMs: number | null;
  /** How the caller's turn ended: after the silence, by the turn model's verdict, or cut at the longest turn. */
  endedBy?: 'silence' | 'turn-model' | 'max-length';
  /** The turn model's last probability that the caller had finished (null: not asked, or it failed). */
  turnProbability?: number | null;
  /** How long the turn model took for that answer, ms. */
  turnModelMs?: number | null;
  /** The reply was prepared during the caller's pause and went out when the turn ended. */
  preemptive?: boolean;
  /** Where the engine placed the end of the caller's speech, on the call's audio clock (ms since the stream began). */
  speechEndAudioMs?: number;
}

/** Who answered an outbound call, as Parley shows it. */
export type AnsweredBy = 'human' | 'machine' | 'unknown';

/** `dialing` first, then Twilio's DialCallStatus: answered-and-done is `completed`. */
export type TransferStage = 'dialing' | 'completed' | 'answered' | 'no-answer' | 'busy' | 'failed' | 'canceled';

export interface CallPlugins {
  stt: string;
  llm: string;
  tts: string;
  /** The turn model, when the call has one. */
  turn?: string;
}

export type CoreEvent =
  | {
      type: 'call.started';
      callSid: string;
      streamSid: string;
      direction: CallDirection;
      from: string | null;
      to: string | null;
      startedAt: number;
      customParameters: Record<string, string>;
      plugins: CallPlugins;
      /** The model each plugin runs (its `model` setting, or its catalogue default), when known. */
      models?: Partial<Record<PluginKind, string | null>>;
    }
  | { type: 'call.ended'; callSid: string; reason: string; endedAt: number; durationMs: number }
  /** The persona (main/core/personas.ts) that took the call: by the number called, or the one the dial named. */
  | { type: 'call.persona'; callSid: string; persona: string; at: number }
  | { type: 'call.state'; callSid: string; state: AgentState; at: number }
  | {
      /** From Twilio status callbacks and the REST API (outbound calls before their stream connects). */
      type: 'call.status';
      callSid: string;
      status: CallStatus;
      direction?: CallDirection;
      from?: string | null;
      to?: string | null;
      durationSec?: number;
      errorCode?: string;
      at: number;
    }
  | {
      type: 'transcript';
      callSid: string;
      turnId: number;
      role: 'caller';
      text: string;
      final: boolean;
      at: number;
    }
  | {
      type: 'transcript';
      callSid: string;
      turnId: number;
      role: 'agent';
      /** Everything the agent has generated for this turn so far. */
      text: string;
      /** The part Twilio confirmed as played (acknowledged marks). */
      heard: string;
      interrupted: boolean;
      final: boolean;
      /** `desk`: the person at the desk said it, while they had taken the call over (not the agent). */
      by?: 'desk';
      at: number;
    }
  | { type: 'turn.metrics'; callSid: string; turnId: number; metrics: TurnMetrics; at: number }
  | { type: 'call.dtmf'; callSid: string; digit: string; at: number }
  /**
   * Twilio's answering-machine verdict on an outbound call: `answeredBy` is Twilio's own value (human,
   * machine_end_beep, machine_end_silence, machine_end_other, machine_start, fax, unknown); `outcome` is what
   * Parley shows. `detectionMs`: how long Twilio took.
   */
  | { type: 'call.answered_by'; callSid: string; answeredBy: string; outcome: AnsweredBy; detectionMs?: number; at: number }
  /** A hand-off to a human: dialling them, then how it went (`returned`: the caller is back with the agent). */
  | { type: 'call.transfer'; callSid: string; to: string; stage: TransferStage; returned?: boolean; at: number }
  /** A text message sent (or refused) for a call. Never the message body: that is the caller's data. */
  | { type: 'call.sms'; callSid: string; to: string; status: 'sent' | 'refused' | 'failed'; detail?: string; at: number }
  /** The agent sent DTMF digits to the far end (navigating a phone menu). */
  | { type: 'call.keys'; callSid: string; digits: string; at: number }
  | { type: 'call.interrupted'; callSid: string; turnId: number; source: 'barge-in' | 'manual'; at: number }
  /** The person at the desk whispered a private note to the agent for its next reply (`turnId`); never spoken. */
  | { type: 'call.whisper'; callSid: string; turnId: number; text: string; at: number }
  /**
   * The person at the desk took the call over (`active`: they speak to the caller through their mic, the agent is
   * silent) or handed it back to the agent. `turnId`: the last turn at that moment.
   */
  | { type: 'call.takeover'; callSid: string; active: boolean; turnId: number; at: number }
  /** The caller only acknowledged ("mm-hm") over the agent: playback stopped for it and then went on. */
  | { type: 'call.backchannel'; callSid: string; turnId: number; text: string; at: number }
  /**
   * The agent used a tool during turn `turnId`: `running` when it starts, then one of done (with the `result`
   * the LLM got), failed or cancelled (with the `error`; cancelled: the caller interrupted). An action between
   * turns in the transcript and the records.
   */
  | {
      type: 'call.tool';
      callSid: string;
      turnId: number;
      toolCallId: string;
      name: string;
      arguments: Record<string, unknown>;
      state: 'running' | 'done' | 'failed' | 'cancelled';
      result?: string;
      error?: string;
      durationMs?: number;
      at: number;
    }
  /**
   * An "ask first" tool (`--ask-first`) waits for the person at the desk: `pending` (with its `deadline`) when
   * the LLM called it, then one of approved (the tool runs), denied (at the desk, or `cancelled` by a barge-in or
   * the call's end) or timed-out (nobody decided: counted as denied). `to`: who the tool would reach, when the
   * core knows (the transfer number, the number texted).
   */
  | {
      type: 'call.approval';
      callSid: string;
      approvalId: string;
      turnId: number;
      toolCallId: string;
      tool: string;
      arguments: Record<string, unknown>;
      state: 'pending' | 'approved' | 'denied' | 'timed-out';
      to?: string;
      deadline?: number;
      cancelled?: boolean;
      at: number;
    }
  /** A message was taken for the owner (the take_message tool): kept in the records, shown in the inbox. */
  | { type: 'call.message'; callSid: string; name: string; callback: string; message: string; at: number }
  /** The inbox changed (a message taken, marked done or deleted): the GUI re-reads it. */
  | { type: 'messages.changed'; at: number }
  | { type: 'call.error'; callSid: string | null; code: string; message: string; at: number }
  | { type: 'plugins.changed'; at: number }
  | {
      /** Settings changed at run time (GUI / control API): names of the changed settings, never their values. */
      type: 'config.changed';
      keys: string[];
      at: number;
    }
  | {
      type: 'model.progress';
      modelId: string;
      state: 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled';
      bytes: number;
      total: number | null;
      rate: number | null;
      etaSec: number | null;
      error?: string;
      at: number;
    }
  | { type: 'server.status'; component: 'server' | 'tunnel' | 'twilio' | 'records'; ok: boolean; detail: string; url?: string; /** records only */ failedWrites?: number; at: number };

export type CoreEventType = CoreEvent['type'];
export type EventOf<T extends CoreEventType> = Extract<CoreEvent, { type: T }>;

/** What a status callback (or a REST lookup) says about a call: a `call.status` event without its envelope. */
export type CallStatusUpdate = Omit<EventOf<'call.status'>, 'type' | 'at'>;
