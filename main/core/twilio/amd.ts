/**
 * Answering-machine detection on outbound calls, as Twilio documents it
 * (https://www.twilio.com/docs/voice/answering-machine-detection): the call is placed with
 * `MachineDetection=DetectMessageEnd`, `AsyncAmd=true` and `AsyncAmdStatusCallback`, so it connects to the agent
 * at once while Twilio listens in the background. Twilio then POSTs `AnsweredBy` to the callback:
 * `human`, `unknown`, `fax`, or — because DetectMessageEnd waits for the end of the greeting — one of
 * `machine_end_beep`, `machine_end_silence`, `machine_end_other` (`machine_start` only comes with `Enable`).
 * A machine's verdict therefore arrives at the beep: that is when the voicemail message starts.
 */
import type { AnsweredBy } from '../../shared/events.ts';

export const AMD_CALLBACK_PATH = '/voice/amd';

export interface AmdVerdict {
  /** Twilio's value, as sent. */
  answeredBy: string;
  outcome: AnsweredBy;
  /** Leave the voicemail message now: the machine's greeting is over. */
  leaveMessage: boolean;
  /** Nobody to talk to at all (a fax): hang up. */
  hangUp: boolean;
}

const MACHINE_END = new Set(['machine_end_beep', 'machine_end_silence', 'machine_end_other']);

export function amdVerdict(answeredBy: unknown): AmdVerdict {
  const value = typeof answeredBy === 'string' ? answeredBy.trim().toLowerCase() : '';
  if (value === 'human') return { answeredBy: value, outcome: 'human', leaveMessage: false, hangUp: false };
  if (MACHINE_END.has(value)) return { answeredBy: value, outcome: 'machine', leaveMessage: true, hangUp: false };
  if (value === 'machine_start') return { answeredBy: value, outcome: 'machine', leaveMessage: false, hangUp: false };
  if (value === 'fax') return { answeredBy: value, outcome: 'machine', leaveMessage: false, hangUp: true };
  return { answeredBy: value || 'unknown', outcome: 'unknown', leaveMessage: false, hangUp: false };
}
