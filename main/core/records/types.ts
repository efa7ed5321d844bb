/**
 * What the call records hand out: to the GUI's History view (through IPC), the control API and the export.
 * Times are epoch milliseconds; JSON-safe throughout.
 */
// The shapes are shared with the GUI (main/shared/records.ts).
export type { CallDetail, CallPage, CallQuery, CallSummary, EventRecord, EventRecordType, MessageList, MessageRecord, RecordingInfo, TurnLatencies, TurnRecord } from '../../shared/records.ts';

/** Twilio's terminal call statuses: once a call has one, no later non-terminal status replaces it. */
export const TERMINAL_STATUSES = ['completed', 'busy', 'no-answer', 'failed', 'canceled'] as const;

/** `end_reason` of a call that was still live when Parley stopped without ending it (crash, kill, power). */
export const CRASHED_REASON = 'crashed';

/**
 * `end_reason` of a call left open by a run whose record writes were failing (full disk): its `call.ended` was
 * most likely lost, so it is ended at its last recorded event and shown as "ended (record incomplete)".
 */
export const RECORD_INCOMPLETE_REASON = 'record-incomplete';

/** An empty file in the data folder that says "this run lost record writes" to the next start's recovery. */
export const INCOMPLETE_MARKER = 'records.db-incomplete';
