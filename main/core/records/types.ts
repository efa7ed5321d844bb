/**
 * What the call records hand out: to the GUI's History view (through IPC), the control API and the export.
 * Times are epoch milliseconds; JSON-safe throughout.
 */
// The shapes are shared with the GUI (main/shared/records.ts).
export type { CallDetail, CallPage, CallQuery, CallSummary, EventRecord, EventRecordType, RecordingInfo, TurnLatencies, TurnRecord } from '../../shared/records.ts';

/** Twilio's terminal call statuses: once a call has one, no later non-terminal status replaces it. */
export const TERMINAL_STATUSES = ['completed', 'busy', 'no-answer', 'failed', 'canceled'] as const;

/** `end_reason` of a call that was still live when Parley stopped without ending it (crash, kill, power). */
export const CRASHED_REASON = 'crashed';
