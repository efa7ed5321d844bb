/**
 * Reading the records: the History view's list (search, filters, paging) and one call with its turns and
 * events. Rows are mapped to the JSON-safe shapes of types.ts here and nowhere else.
 */
import { ParleyError } from '../errors.ts';
import type { RecordsDb } from './db.ts';
import type { CallDetail, CallPage, CallQuery, CallSummary, EventRecord, EventRecordType, MessageList, MessageRecord, TurnRecord } from './types.ts';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

interface CallRow {
  sid: string;
  direction: string | null;
  from_number: string | null;
  to_number: string | null;
  stream_sid: string | null;
  started_at: number;
  ended_at: number | null;
  status: string;
  end_reason: string | null;
  duration_ms: number | null;
  plugins: string | null;
  models: string | null;
  recording_path: string | null;
  recording_bytes: number | null;
  recording_ms: number | null;
  persona: string | null;
  turn_count: number;
  answered_by: string | null;
}

interface TurnRow {
  turn_id: number;
  caller_text: string | null;
  agent_text: string | null;
  agent_full_text: string | null;
  interrupted: number;
  caller_at: number | null;
  agent_at: number | null;
  endpoint_ms: number | null;
  stt_ms: number | null;
  llm_first_token_ms: number | null;
  tts_first_audio_ms: number | null;
  voice_to_voice_ms: number | null;
  engine_overhead_ms: number | null;
}

const CALL_COLUMNS = `c.sid, c.direction, c.from_number, c.to_number, c.stream_sid, c.started_at, c.ended_at, c.status,
  c.end_reason, c.duration_ms, c.plugins, c.models, c.recording_path, c.recording_bytes, c.recording_ms, c.persona,
  (SELECT count(*) FROM turns t WHERE t.call_sid = c.sid) AS turn_count,
  (SELECT json_extract(e.data, '$.outcome') FROM events e WHERE e.call_sid = c.sid AND e.type = 'answered-by' ORDER BY e.id DESC LIMIT 1) AS answered_by`;

function parseJson<T>(text: string | null): T | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function toSummary(row: CallRow): CallSummary {
  return {
    sid: row.sid,
    direction: row.direction === 'inbound' || row.direction === 'outbound' ? row.direction : null,
    from: row.from_number,
    to: row.to_number,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    status: row.status,
    endReason: row.end_reason,
    durationMs: row.duration_ms,
    plugins: parseJson(row.plugins),
    models: parseJson(row.models),
    turnCount: row.turn_count,
    persona: row.persona ?? null,
    recording: row.recording_path ? { path: row.recording_path, bytes: row.recording_bytes, durationMs: row.recording_ms } : null,
    // Only calls that had answering-machine detection say who answered.
    ...(row.answered_by === 'human' || row.answered_by === 'machine' || row.answered_by === 'unknown' ? { answeredBy: row.answered_by } : {}),
  };
}

function toTurn(row: TurnRow): TurnRecord {
  const metrics = [row.endpoint_ms, row.stt_ms, row.llm_first_token_ms, row.tts_first_audio_ms, row.voice_to_voice_ms, row.engine_overhead_ms];
  return {
    turnId: row.turn_id,
    callerText: row.caller_text,
    agentText: row.agent_text,
    agentFullText: row.agent_full_text,
    interrupted: row.interrupted !== 0,
    callerAt: row.caller_at,
    agentAt: row.agent_at,
    latencies: metrics.every((m) => m === null)
      ? null
      : {
          endpointMs: row.endpoint_ms,
          sttMs: row.stt_ms,
          llmFirstTokenMs: row.llm_first_token_ms,
          ttsFirstAudioMs: row.tts_first_audio_ms,
          voiceToVoiceMs: row.voice_to_voice_ms,
          engineOverheadMs: row.engine_overhead_ms,
        },
  };
}

/** A LIKE pattern matching `text` anywhere, with LIKE's own wildcards taken literally (ESCAPE '\'). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function finiteOrUndefined(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ParleyError('BAD_REQUEST', `Call records query: "${name}" must be a number (got ${String(value)}).`);
  return n;
}

export function listCalls(db: RecordsDb, query: CallQuery = {}): CallPage {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const from = finiteOrUndefined(query.from, 'from');
  const to = finiteOrUndefined(query.to, 'to');
  if (from !== undefined) {
    where.push('c.started_at >= ?');
    params.push(from);
  }
  if (to !== undefined) {
    where.push('c.started_at < ?');
    params.push(to);
  }
  if (query.direction !== undefined) {
    where.push('c.direction = ?');
    params.push(query.direction);
  }
  const statuses = (Array.isArray(query.status) ? query.status : query.status === undefined ? [] : [query.status]).filter((s) => s !== '');
  if (statuses.length > 0) {
    where.push(`c.status IN (${statuses.map(() => '?').join(', ')})`);
    params.push(...statuses);
  }
  if (query.number !== undefined && query.number.trim() !== '') {
    // Numbers are stored as Twilio sends them (E.164, or `client:name`): match on digits when there are any.
    const digits = query.number.replace(/\D/g, '');
    const pattern = containsPattern(digits !== '' ? digits : query.number.trim());
    where.push(`(c.from_number LIKE ? ESCAPE '\\' OR c.to_number LIKE ? ESCAPE '\\')`);
    params.push(pattern, pattern);
  }
  if (query.q !== undefined && query.q.trim() !== '') {
    const pattern = containsPattern(query.q.trim());
    const like = `LIKE ? ESCAPE '\\'`;
    where.push(
      `(c.from_number ${like} OR c.to_number ${like} OR c.sid ${like} OR EXISTS (SELECT 1 FROM turns t WHERE t.call_sid = c.sid AND (t.caller_text ${like} OR t.agent_full_text ${like})))`,
    );
    params.push(pattern, pattern, pattern, pattern, pattern);
  }
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(finiteOrUndefined(query.limit, 'limit') ?? DEFAULT_PAGE)));
  const offset = Math.max(0, Math.trunc(finiteOrUndefined(query.offset, 'offset') ?? 0));
  const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) AS n FROM calls c ${whereSql}`).get(...params) as { n: number }).n;
  const rows = db
    .prepare(`SELECT ${CALL_COLUMNS} FROM calls c ${whereSql} ORDER BY c.started_at DESC, c.sid LIMIT ? OFFSET ?`)
    .all(...params, limit, offset) as CallRow[];
  return { calls: rows.map(toSummary), total, limit, offset };
}

export function getCall(db: RecordsDb, sid: string): CallDetail | null {
  const row = db.prepare(`SELECT ${CALL_COLUMNS} FROM calls c WHERE c.sid = ?`).get(sid) as CallRow | undefined;
  if (!row) return null;
  const turns = (db.prepare('SELECT * FROM turns WHERE call_sid = ? ORDER BY turn_id').all(sid) as TurnRow[]).map(toTurn);
  const events = (db.prepare('SELECT id, at, type, data FROM events WHERE call_sid = ? ORDER BY at, id').all(sid) as {
    id: number;
    at: number;
    type: string;
    data: string | null;
  }[]).map(
    (e): EventRecord => ({ id: e.id, at: e.at, type: e.type as EventRecordType, data: parseJson<Record<string, unknown>>(e.data) ?? {} }),
  );
  const messages = (db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE call_sid = ? ORDER BY at, id`).all(sid) as MessageRow[]).map(toMessage);
  return { ...toSummary(row), streamSid: row.stream_sid, turns, events, messages };
}

interface MessageRow {
  id: number;
  call_sid: string;
  name: string;
  callback: string;
  message: string;
  at: number;
  done_at: number | null;
}

const MESSAGE_COLUMNS = 'id, call_sid, name, callback, message, at, done_at';

function toMessage(row: MessageRow): MessageRecord {
  return { id: row.id, callSid: row.call_sid, name: row.name, callback: row.callback, message: row.message, at: row.at, done: row.done_at !== null, doneAt: row.done_at };
}

/** The inbox: messages newest first (at most `limit`, 1..500, default 200) and how many are not done yet. */
export function listMessages(db: RecordsDb, options: { limit?: number } = {}): MessageList {
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(finiteOrUndefined(options.limit, 'limit') ?? 200)));
  const rows = db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages ORDER BY at DESC, id DESC LIMIT ?`).all(limit) as MessageRow[];
  const undone = (db.prepare('SELECT count(*) AS n FROM messages WHERE done_at IS NULL').get() as { n: number }).n;
  return { messages: rows.map(toMessage), undone };
}

/** Marks a message done (or not done again); returns it, or null when there is no such message. */
export function markMessageDone(db: RecordsDb, id: number, done = true, at = Date.now()): MessageRecord | null {
  if (!Number.isSafeInteger(id) || id <= 0) throw new ParleyError('BAD_REQUEST', `A message id is a positive whole number (from the inbox list), not ${JSON.stringify(id)}.`);
  if (done) db.prepare('UPDATE messages SET done_at = coalesce(done_at, ?) WHERE id = ?').run(Math.round(at), id);
  else db.prepare('UPDATE messages SET done_at = NULL WHERE id = ?').run(id);
  const row = db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`).get(id) as MessageRow | undefined;
  return row ? toMessage(row) : null;
}

/** Sids of calls started at or after `since` (all when undefined), oldest first: the export's order. */
export function callSidsSince(db: RecordsDb, since?: number): string[] {
  const rows = (
    since === undefined
      ? db.prepare('SELECT sid FROM calls ORDER BY started_at, sid').all()
      : db.prepare('SELECT sid FROM calls WHERE started_at >= ? ORDER BY started_at, sid').all(since)
  ) as { sid: string }[];
  return rows.map((r) => r.sid);
}
