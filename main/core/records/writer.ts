/**
 * Core events → rows, as they happen: each event is one small transaction, so a process killed mid-call
 * keeps everything up to the last event (in practice: every finished turn; the one in flight may be partial).
 *
 * Input is treated as untrusted: an event with no usable callSid or turnId is dropped with a warning, events
 * for a call never announced create its row (nothing said on a call is lost because `call.started` was
 * missed), and out-of-order Twilio status callbacks never replace a final status with an earlier one.
 */
import type { CoreEvent, EventOf } from '../event-bus.ts';
import type { RecordsDb } from './db.ts';
import { TERMINAL_STATUSES, type EventRecordType } from './types.ts';

const TERMINAL_SQL = `(${TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`;
const MAX_TEXT = 100_000;

export type RecordedEvent = EventOf<
  'call.started' | 'call.status' | 'call.ended' | 'transcript' | 'turn.metrics' | 'call.dtmf' | 'call.interrupted' | 'call.backchannel' | 'call.error' | 'call.answered_by' | 'call.transfer' | 'call.sms' | 'call.keys' | 'call.whisper' | 'call.takeover' | 'call.tool' | 'call.message' | 'call.approval' | 'call.persona'
>;

const RECORDED_TYPES: ReadonlySet<CoreEvent['type']> = new Set([
  'call.started',
  'call.status',
  'call.ended',
  'transcript',
  'turn.metrics',
  'call.dtmf',
  'call.interrupted',
  'call.backchannel',
  'call.error',
  'call.answered_by',
  'call.transfer',
  'call.sms',
  'call.keys',
  'call.whisper',
  'call.takeover',
  'call.tool',
  'call.message',
  'call.approval',
  'call.persona',
]);

export function isRecordedEvent(event: CoreEvent): event is RecordedEvent {
  return RECORDED_TYPES.has(event.type);
}

/** Why an event was not written (bad input), or null when it was. */
export type SkipReason = string | null;

function validSid(sid: unknown): sid is string {
  return typeof sid === 'string' && sid.length > 0 && sid.length <= 128;
}

function time(at: unknown): number {
  return typeof at === 'number' && Number.isFinite(at) ? Math.round(at) : Date.now();
}

function text(value: unknown): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s;
}

function ms(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : null;
}

function json(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  try {
    return JSON.stringify(value);
  } catch {
    return null;
  }
}

export class RecordsWriter {
  readonly #db: RecordsDb;
  readonly #ownerPid: number;
  readonly #stmt: ReturnType<typeof prepare>;

  constructor(db: RecordsDb, ownerPid = process.pid) {
    this.#db = db;
    this.#ownerPid = ownerPid;
    this.#stmt = prepare(db);
  }

  /** Whether a row exists for the call (used to tell unknown calls from known ones). */
  hasCall(sid: string): boolean {
    return this.#stmt.hasCall.get(sid) !== undefined;
  }

  /** Writes one event; throws on a database failure (the store logs it). */
  write(event: RecordedEvent): SkipReason {
    const sid = event.callSid;
    if (!validSid(sid)) return event.type === 'call.error' ? 'error without a call' : 'no usable callSid';
    if ('turnId' in event && !(Number.isInteger(event.turnId) && event.turnId >= 0)) return 'no usable turnId';
    if (event.type === 'call.error' && !this.hasCall(sid)) return 'error for an unknown call';
    const at = time(event.type === 'call.ended' ? event.endedAt : event.type === 'call.started' ? event.startedAt : event.at);
    this.#transaction(() => {
      if (event.type !== 'call.started' && event.type !== 'call.status') this.#ensureCall(sid, at, 'in-progress');
      this.#apply(event, sid, at);
    });
    return null;
  }

  /** Makes sure a row exists (e.g. before a recording is attached to it). */
  ensureCall(sid: string, at: number): void {
    this.#transaction(() => this.#ensureCall(sid, at, 'in-progress'));
  }

  /** Moves a live call's `last_event_at` forward (its audio is still coming). No-op for an ended or unknown call. */
  touch(sid: string, at: number): void {
    this.#stmt.touch.run(Math.round(at), sid);
  }

  setRecording(sid: string, path: string, bytes: number | null, durationMs: number | null): void {
    this.#stmt.setRecording.run(path, bytes, durationMs, sid);
  }

  #ensureCall(sid: string, at: number, status: string): void {
    this.#stmt.ensureCall.run(sid, at, status, at, this.#ownerPid);
  }

  #event(sid: string, at: number, type: EventRecordType, data: Record<string, unknown>): void {
    this.#stmt.insertEvent.run(sid, at, type, json(data));
  }

  #apply(event: RecordedEvent, sid: string, at: number): void {
    const s = this.#stmt;
    switch (event.type) {
      case 'call.started': {
        const models = (event as { models?: unknown }).models; // not in the event yet: see docs/records.md
        s.started.run({
          sid,
          direction: event.direction === 'inbound' || event.direction === 'outbound' ? event.direction : null,
          from: event.from ?? null,
          to: event.to ?? null,
          streamSid: typeof event.streamSid === 'string' ? event.streamSid : null,
          startedAt: typeof event.startedAt === 'number' && Number.isFinite(event.startedAt) ? Math.round(event.startedAt) : at,
          plugins: json(event.plugins),
          models: models !== null && typeof models === 'object' ? json(models) : null,
          at,
          owner: this.#ownerPid,
        });
        this.#event(sid, at, 'started', { direction: event.direction, streamSid: event.streamSid });
        return;
      }
      case 'call.status': {
        const status = text(event.status) || 'unknown';
        this.#ensureCall(sid, at, status);
        s.status.run({
          sid,
          status,
          direction: event.direction === 'inbound' || event.direction === 'outbound' ? event.direction : null,
          from: event.from ?? null,
          to: event.to ?? null,
          durationMs: typeof event.durationSec === 'number' && Number.isFinite(event.durationSec) ? Math.round(event.durationSec * 1000) : null,
          at,
        });
        this.#event(sid, at, 'status', {
          status,
          ...(event.durationSec !== undefined ? { durationSec: event.durationSec } : {}),
          ...(event.errorCode !== undefined ? { errorCode: event.errorCode } : {}),
        });
        return;
      }
      case 'call.ended':
        s.ended.run({ sid, at, reason: text(event.reason) || 'ended', durationMs: ms(event.durationMs) });
        this.#event(sid, at, 'ended', { reason: event.reason, durationMs: event.durationMs });
        return;
      case 'transcript':
        if (event.role === 'caller') {
          // Partial caller text is speculative and rewritten many times a turn: only the final one is kept.
          if (event.final) s.callerText.run(sid, event.turnId, text(event.text), at);
        } else {
          s.agentText.run(sid, event.turnId, text(event.heard), text(event.text), event.interrupted ? 1 : 0, at);
          // The person at the desk said it (a taken-over call): the turn's agent side is theirs.
          if (event.by === 'desk' && event.final) this.#event(sid, at, 'desk', { turnId: event.turnId });
        }
        return;
      case 'turn.metrics': {
        const m = event.metrics ?? ({} as Partial<typeof event.metrics>);
        s.metrics.run(sid, event.turnId, ms(m.endpointMs), ms(m.sttMs), ms(m.llmFirstTokenMs), ms(m.ttsFirstAudioMs), ms(m.voiceToVoiceMs), ms(m.engineOverheadMs));
        // Where and how the turn ended, on the call's audio clock: what the History timeline draws.
        if (ms(m.speechEndAudioMs) !== null) {
          const how = m.endedBy === 'turn-model' || m.endedBy === 'max-length' ? m.endedBy : 'silence';
          const p = typeof m.turnProbability === 'number' && Number.isFinite(m.turnProbability) ? Math.round(m.turnProbability * 1000) / 1000 : null;
          this.#event(sid, at, 'turn-end', { turnId: event.turnId, speechEndAudioMs: ms(m.speechEndAudioMs), endpointMs: ms(m.endpointMs), voiceToVoiceMs: ms(m.voiceToVoiceMs), endedBy: how, turnProbability: p });
        }
        return;
      }
      case 'call.dtmf':
        this.#event(sid, at, 'dtmf', { digit: text(event.digit).slice(0, 8) });
        return;
      case 'call.interrupted':
        s.interrupted.run(sid, event.turnId);
        this.#event(sid, at, 'interrupted', { turnId: event.turnId, source: event.source });
        return;
      case 'call.backchannel':
        this.#event(sid, at, 'backchannel', { turnId: event.turnId, text: text(event.text).slice(0, 200) });
        return;
      case 'call.error':
        this.#event(sid, at, 'error', { code: text(event.code), message: text(event.message).slice(0, 2000) });
        return;
      case 'call.answered_by':
        this.#event(sid, at, 'answered-by', { answeredBy: text(event.answeredBy).slice(0, 40), outcome: text(event.outcome).slice(0, 20), ...(ms(event.detectionMs) !== null ? { detectionMs: ms(event.detectionMs) } : {}) });
        return;
      case 'call.transfer':
        this.#event(sid, at, 'transfer', { to: text(event.to).slice(0, 40), stage: text(event.stage).slice(0, 20), ...(event.returned ? { returned: true } : {}) });
        return;
      case 'call.sms':
        this.#event(sid, at, 'sms', { to: text(event.to).slice(0, 40), status: text(event.status).slice(0, 20), ...(event.detail ? { detail: text(event.detail).slice(0, 500) } : {}) });
        return;
      case 'call.keys':
        this.#event(sid, at, 'keys', { digits: text(event.digits).slice(0, 64) });
        return;
      case 'call.whisper':
        this.#event(sid, at, 'whisper', { turnId: event.turnId, text: text(event.text).slice(0, 1000) });
        return;
      case 'call.takeover':
        this.#event(sid, at, 'takeover', { turnId: event.turnId, active: event.active === true });
        return;
      case 'call.tool': {
        // One action row per tool call, written when it finished (done / failed / cancelled); `running` is live only.
        if (event.state === 'running') return;
        const state = event.state === 'done' || event.state === 'failed' || event.state === 'cancelled' ? event.state : 'failed';
        const args = event.arguments !== null && typeof event.arguments === 'object' ? event.arguments : {};
        const argsJson = json(args) ?? '{}';
        this.#event(sid, at, 'tool', {
          turnId: event.turnId,
          toolCallId: text(event.toolCallId).slice(0, 200),
          name: text(event.name).slice(0, 200),
          arguments: argsJson.length <= 10_000 ? args : { truncated: argsJson.slice(0, 10_000) },
          state,
          ...(event.result !== undefined ? { result: text(event.result).slice(0, 10_000) } : {}),
          ...(event.error !== undefined ? { error: text(event.error).slice(0, 2000) } : {}),
          ...(ms(event.durationMs) !== null ? { durationMs: ms(event.durationMs) } : {}),
        });
        return;
      }
      case 'call.approval': {
        // The desk's decision on an ask-first tool, once made (approved / denied / timed-out); `pending` is live only.
        if (event.state === 'pending') return;
        const state = event.state === 'approved' || event.state === 'denied' || event.state === 'timed-out' ? event.state : 'denied';
        const args = event.arguments !== null && typeof event.arguments === 'object' ? event.arguments : {};
        const argsJson = json(args) ?? '{}';
        this.#event(sid, at, 'approval', {
          turnId: event.turnId,
          approvalId: text(event.approvalId).slice(0, 100),
          toolCallId: text(event.toolCallId).slice(0, 200),
          tool: text(event.tool).slice(0, 200),
          arguments: argsJson.length <= 10_000 ? args : { truncated: argsJson.slice(0, 10_000) },
          state,
          ...(event.to ? { to: text(event.to).slice(0, 40) } : {}),
          ...(event.cancelled ? { cancelled: true } : {}),
        });
        return;
      }
      case 'call.message': {
        const m = { name: text(event.name).slice(0, 200), callback: text(event.callback).slice(0, 40), message: text(event.message).slice(0, 10_000) };
        const id = Number(s.insertMessage.run(sid, m.name, m.callback, m.message, at).lastInsertRowid);
        this.#event(sid, at, 'message', { messageId: id, ...m });
        return;
      }
      case 'call.persona':
        s.setPersona.run(text(event.persona).slice(0, 200) || null, sid);
        return;
    }
  }

  #transaction(fn: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }
}

function prepare(db: RecordsDb) {
  return {
    hasCall: db.prepare('SELECT 1 FROM calls WHERE sid = ?'),
    ensureCall: db.prepare(`
      INSERT INTO calls (sid, started_at, status, last_event_at, owner_pid) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (sid) DO UPDATE SET last_event_at = max(last_event_at, excluded.last_event_at)`),
    started: db.prepare(`
      INSERT INTO calls (sid, direction, from_number, to_number, stream_sid, started_at, status, plugins, models, last_event_at, owner_pid)
      VALUES (:sid, :direction, :from, :to, :streamSid, :startedAt, 'in-progress', :plugins, :models, :at, :owner)
      ON CONFLICT (sid) DO UPDATE SET
        direction = coalesce(excluded.direction, direction),
        from_number = coalesce(excluded.from_number, from_number),
        to_number = coalesce(excluded.to_number, to_number),
        stream_sid = coalesce(excluded.stream_sid, stream_sid),
        started_at = min(started_at, excluded.started_at),
        status = CASE WHEN status IN ${TERMINAL_SQL} THEN status ELSE 'in-progress' END,
        plugins = coalesce(excluded.plugins, plugins),
        models = coalesce(excluded.models, models),
        ended_at = NULL,
        end_reason = NULL,
        last_event_at = max(last_event_at, excluded.last_event_at),
        owner_pid = excluded.owner_pid`),
    status: db.prepare(`
      UPDATE calls SET
        status = CASE WHEN status IN ${TERMINAL_SQL} AND :status NOT IN ${TERMINAL_SQL} THEN status ELSE :status END,
        direction = coalesce(direction, :direction),
        from_number = coalesce(from_number, :from),
        to_number = coalesce(to_number, :to),
        ended_at = CASE WHEN ended_at IS NULL AND :status IN ${TERMINAL_SQL} THEN :at ELSE ended_at END,
        duration_ms = CASE WHEN duration_ms IS NULL THEN :durationMs ELSE duration_ms END
      WHERE sid = :sid`),
    ended: db.prepare(`
      UPDATE calls SET
        ended_at = :at,
        end_reason = :reason,
        duration_ms = coalesce(:durationMs, duration_ms, :at - started_at),
        status = CASE WHEN status IN ${TERMINAL_SQL} THEN status ELSE 'completed' END,
        owner_pid = NULL
      WHERE sid = :sid`),
    callerText: db.prepare(`
      INSERT INTO turns (call_sid, turn_id, caller_text, caller_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (call_sid, turn_id) DO UPDATE SET caller_text = excluded.caller_text, caller_at = excluded.caller_at`),
    agentText: db.prepare(`
      INSERT INTO turns (call_sid, turn_id, agent_text, agent_full_text, interrupted, agent_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (call_sid, turn_id) DO UPDATE SET
        agent_text = excluded.agent_text,
        agent_full_text = excluded.agent_full_text,
        interrupted = max(interrupted, excluded.interrupted),
        agent_at = excluded.agent_at`),
    metrics: db.prepare(`
      INSERT INTO turns (call_sid, turn_id, endpoint_ms, stt_ms, llm_first_token_ms, tts_first_audio_ms, voice_to_voice_ms, engine_overhead_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (call_sid, turn_id) DO UPDATE SET
        endpoint_ms = excluded.endpoint_ms, stt_ms = excluded.stt_ms, llm_first_token_ms = excluded.llm_first_token_ms,
        tts_first_audio_ms = excluded.tts_first_audio_ms, voice_to_voice_ms = excluded.voice_to_voice_ms,
        engine_overhead_ms = excluded.engine_overhead_ms`),
    interrupted: db.prepare(`
      INSERT INTO turns (call_sid, turn_id, interrupted) VALUES (?, ?, 1)
      ON CONFLICT (call_sid, turn_id) DO UPDATE SET interrupted = 1`),
    setPersona: db.prepare('UPDATE calls SET persona = ? WHERE sid = ?'),
    insertMessage: db.prepare('INSERT INTO messages (call_sid, name, callback, message, at) VALUES (?, ?, ?, ?, ?)'),
    insertEvent: db.prepare('INSERT INTO events (call_sid, at, type, data) VALUES (?, ?, ?, ?)'),
    touch: db.prepare('UPDATE calls SET last_event_at = max(last_event_at, ?) WHERE sid = ? AND ended_at IS NULL'),
    setRecording: db.prepare('UPDATE calls SET recording_path = ?, recording_bytes = ?, recording_ms = ? WHERE sid = ?'),
  };
}
