/** Turn-taking settings to replay a call with (`records.replay`). */
export interface ReplaySettingsView {
  silenceMs: number;
  threshold?: number;
}

/** Where each turn would have ended with one set of settings. */
export interface ReplayView {
  settings: { silenceMs: number; threshold: number; minSpeechMs: number; maxTurnMs: number };
  durationMs: number;
  turns: { speechStartMs: number; speechEndMs: number; endedAtMs: number; endedBy: string; endpointMs: number }[];
}

/** A recorded call's timeline as the GUI gets it (`records.timeline`; built by main/core/records/timeline.ts). */

export interface TimelinePeaks {
  durationMs: number;
  /** Left channel. */
  caller: number[];
  /** Right channel. */
  agent: number[];
}

export interface TimelineMark {
  /** ms from the call's start. */
  atMs: number;
  kind: string;
  turnId: number | null;
  label: string;
  data: Record<string, unknown>;
}

export interface TimelineTurn {
  turnId: number;
  callerAtMs: number | null;
  agentAtMs: number | null;
  callerText: string | null;
  agentText: string | null;
  interrupted: boolean;
  voiceToVoiceMs: number | null;
}

export interface Timeline {
  callSid: string;
  startedAt: number;
  peaks: TimelinePeaks | null;
  turns: TimelineTurn[];
  marks: TimelineMark[];
}
