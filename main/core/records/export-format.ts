/**
 * Export of the call records, streamed to any writable (a file, standard output, an HTTP response):
 * - json: one document `{ format, version, exportedAt, since, calls: [call + turns + events + actions + messages] }`,
 *   times as ISO 8601 (`actions` = the call's tool calls, `messages` = messages taken on it);
 * - csv: one row per turn (a call without turns gets one row with empty turn columns), call columns repeated,
 *   RFC 4180 quoting, CRLF line ends.
 * Calls come oldest first, one at a time, so memory does not grow with the size of the history.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ParleyError } from '../errors.ts';
import type { RecordsDb } from './db.ts';
import { callSidsSince, getCall } from './queries.ts';
import type { CallDetail, TurnRecord } from './types.ts';

export type ExportFormat = 'json' | 'csv';

export interface ExportOptions {
  format: ExportFormat;
  /** Only calls started at or after this time (epoch ms). */
  since?: number;
}

export interface ExportSummary {
  calls: number;
  turns: number;
}

export const EXPORT_FORMAT_ID = 'parley-call-records';
export const EXPORT_VERSION = 1;

export const CSV_COLUMNS = [
  'call_sid',
  'direction',
  'from',
  'to',
  'started_at',
  'ended_at',
  'status',
  'end_reason',
  'duration_ms',
  'stt_plugin',
  'llm_plugin',
  'tts_plugin',
  'recording',
  'turn_id',
  'caller_text',
  'agent_heard',
  'agent_text',
  'interrupted',
  'endpoint_ms',
  'stt_ms',
  'llm_first_token_ms',
  'tts_first_audio_ms',
  'voice_to_voice_ms',
  'engine_overhead_ms',
  // Added after v1, at the end so readers that go by position keep working.
  'persona',
] as const;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * `YYYY-MM-DD` is local midnight of that day (what a person means by "since May 1st"); anything else must be a
 * date-time `Date.parse` understands (ISO 8601 recommended).
 */
export function parseSince(text: string): number {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  const ms = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime() : Date.parse(text);
  if (!Number.isFinite(ms) || (day && new Date(ms).getDate() !== Number(day[3]))) {
    throw new ParleyError('BAD_REQUEST', `--since ${JSON.stringify(text)} is not a date: use YYYY-MM-DD or an ISO date-time like 2025-05-01T09:00:00Z.`);
  }
  return ms;
}

/** A plain E.164 number: a spreadsheet reads it as a number at worst, never as a formula, so it stays as it is. */
const E164 = /^\+[0-9]{1,15}$/;

/**
 * One CSV cell. Quoted when it holds a comma, quote, CR or LF (quotes doubled). Any text that starts like a
 * spreadsheet formula (= + - @, or a tab / CR before one) gets a leading apostrophe — not only transcripts:
 * sid, from, to, status and reasons arrive from webhooks too, and a cell such as `=HYPERLINK(...)` must not run
 * when the file is opened in a spreadsheet. Numbers (not strings) and plain E.164 numbers are left alone.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = typeof value === 'string' ? value : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s) && !E164.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly unknown[]): string {
  return values.map((v) => csvCell(v)).join(',') + '\r\n';
}

function jsonCall(call: CallDetail): unknown {
  return {
    sid: call.sid,
    direction: call.direction,
    from: call.from,
    to: call.to,
    startedAt: iso(call.startedAt),
    endedAt: iso(call.endedAt),
    status: call.status,
    endReason: call.endReason,
    durationMs: call.durationMs,
    plugins: call.plugins,
    models: call.models,
    // Added after v1 (readers of v1 ignore it): the persona that took the call.
    persona: call.persona ?? null,
    recording: call.recording?.path ?? null,
    turns: call.turns.map((t) => ({ ...t, callerAt: iso(t.callerAt), agentAt: iso(t.agentAt) })),
    events: call.events.map((e) => ({ at: iso(e.at), type: e.type, data: e.data })),
    // Added after v1 (readers of v1 ignore it): tool calls as actions between turns, and taken messages.
    actions: call.events.filter((e) => e.type === 'tool').map((e) => ({ at: iso(e.at), ...e.data })),
    messages: (call.messages ?? []).map((m) => ({ id: m.id, name: m.name, callback: m.callback, message: m.message, at: iso(m.at), done: m.done, doneAt: iso(m.doneAt) })),
  };
}

function csvRows(call: CallDetail): string {
  const callPart = [
    call.sid,
    call.direction,
    call.from,
    call.to,
    iso(call.startedAt),
    iso(call.endedAt),
    call.status,
    call.endReason,
    call.durationMs,
    call.plugins?.stt,
    call.plugins?.llm,
    call.plugins?.tts,
    call.recording?.path,
  ];
  const turns: (TurnRecord | null)[] = call.turns.length > 0 ? call.turns : [null];
  return turns
    .map((t) =>
      csvLine([
        ...callPart,
        t?.turnId,
        t?.callerText,
        t?.agentText,
        t?.agentFullText,
        t ? (t.interrupted ? 'true' : 'false') : null,
        t?.latencies?.endpointMs,
        t?.latencies?.sttMs,
        t?.latencies?.llmFirstTokenMs,
        t?.latencies?.ttsFirstAudioMs,
        t?.latencies?.voiceToVoiceMs,
        t?.latencies?.engineOverheadMs,
        call.persona,
      ]),
    )
    .join('');
}

async function put(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

export async function exportRecords(db: RecordsDb, out: Writable, options: ExportOptions): Promise<ExportSummary> {
  if (options.format !== 'json' && options.format !== 'csv') {
    throw new ParleyError('BAD_REQUEST', `Export format must be json or csv, not ${JSON.stringify(options.format)}.`);
  }
  const summary: ExportSummary = { calls: 0, turns: 0 };
  const sids = callSidsSince(db, options.since);
  if (options.format === 'json') {
    const head = { format: EXPORT_FORMAT_ID, version: EXPORT_VERSION, exportedAt: new Date().toISOString(), since: iso(options.since ?? null) };
    await put(out, `${JSON.stringify(head).slice(0, -1)},"calls":[`);
  } else {
    await put(out, csvLine(CSV_COLUMNS));
  }
  for (const sid of sids) {
    const call = getCall(db, sid);
    if (!call) continue; // deleted while exporting
    const chunk = options.format === 'json' ? `${summary.calls > 0 ? ',' : ''}\n${JSON.stringify(jsonCall(call))}` : csvRows(call);
    summary.calls++;
    summary.turns += call.turns.length;
    await put(out, chunk);
  }
  if (options.format === 'json') await put(out, '\n]}\n');
  return summary;
}
