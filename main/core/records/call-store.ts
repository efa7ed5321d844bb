/**
 * The call records: every call, turn and (when enabled) recording, written from the core's event stream as
 * things happen, and the small query API the History view, the control API and the export use.
 *
 * A failing write is logged and counted, never thrown into the event bus: the records must not take a call
 * down. Create one per data folder with `CallStore.open`; `close` finishes open recordings.
 *
 * One store per data folder per process: opening runs crash recovery, which treats calls left open by this
 * same process id as crashed. Other processes (the export CLI, a second Parley) are safe: recovery checks
 * whether a call's owning process is alive.
 */
import { existsSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ParleyError, errorMessage } from '../errors.ts';
import type { CoreEvent, CoreEvents } from '../event-bus.ts';
import type { TappedFrame } from '../audio/audio-tap.ts';
import { silentLogger, type Logger } from '../log.ts';
import { openRecordsDb, recordsDbPath, RECORDINGS_DIR, type RecordsDb } from './db.ts';
import { exportRecords, type ExportOptions, type ExportSummary } from './export-format.ts';
import { getCall, listCalls, listMessages, markMessageDone } from './queries.ts';
import { CallRecorder, type CallRecorderOptions } from './recorder.ts';
import { ensurePrivateDir, ensurePrivateFile, tightenPrivateFiles } from '../private-files.ts';
import { recordingAbsolutePath, recoverAfterCrash, type RecoveryResult } from './recovery.ts';
import type { RecordsStatus } from '../../shared/status.ts';
import { INCOMPLETE_MARKER, type CallDetail, type CallPage, type CallQuery, type MessageList, type MessageRecord } from './types.ts';
import { isRecordedEvent, RecordsWriter } from './writer.ts';

const DAY_MS = 86_400_000;
const RETENTION_CHECK_MS = 6 * 3_600_000;
const ERROR_LOG_INTERVAL_MS = 5000;
/** A call's audio moves its `last_event_at` (what a crash recovery ends it at) at most this often. */
const AUDIO_TOUCH_MS = 1000;
/** `call.ended` events whose write failed, kept to be written once the disk takes writes again. */
const MAX_PENDING_ENDED = 1000;

export interface CallStoreOptions {
  /** The data folder: records.db and recordings/ live here. */
  dataDir: string;
  log?: Logger;
  /** Record call audio to WAV (the `recordCalls` setting). Off unless set. */
  recordCalls?: boolean;
  /** Delete calls (and recordings) that started more than this many days ago; null or 0 keeps everything. */
  retentionDays?: number | null;
  /** Recorder tuning (tests). */
  recorder?: Pick<CallRecorderOptions, 'lagMs' | 'flushMs'>;
  /** Clock for retention and for audio's `last_event_at` (tests). */
  now?: () => number;
  /** Told when the records' health changes (writes start failing, fail again, or work again): the status board. */
  onStatus?: (status: RecordsStatus) => void;
}

export class CallStore {
  readonly dataDir: string;
  readonly dbFile: string;
  readonly recordingsDir: string;
  /** What the start-up recovery found (crashed calls, repaired recordings). */
  readonly recovery: RecoveryResult;
  readonly #db: RecordsDb;
  readonly #writer: RecordsWriter;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #recorderOptions: CallStoreOptions['recorder'];
  #recordCalls: boolean;
  #retentionDays: number | null = null;
  /** The bus it is attached to: the inbox's `messages.changed` goes out on it. */
  #events: CoreEvents | null = null;
  #retentionTimer: NodeJS.Timeout | null = null;
  readonly #recorders = new Map<string, { recorder: CallRecorder; path: string }>();
  /** Calls whose record-or-not decision is made (at their first audio frame). Kept after the call ends, so
   * stray frames after `call.ended` never start a second file. A few bytes per call per run. */
  readonly #decided = new Set<string>();
  /** Deleted while events may still come (late status callbacks): those events are ignored. */
  readonly #deleted = new Set<string>();
  readonly #pending = new Set<Promise<unknown>>();
  /** Recordings being finalised (header not rewritten yet): not handed out until done. */
  readonly #closing = new Set<string>();
  readonly #detach: (() => void)[] = [];
  #failedWrites = 0;
  /** Whether the last write failed (the doctor and the status bar say so while it does). */
  #failing = false;
  #lastError = '';
  #markerWritten = false;
  readonly #onStatus: CallStoreOptions['onStatus'];
  readonly #pendingEnded = new Map<string, CoreEvent>();
  /** When each live call's audio last moved its `last_event_at`. */
  readonly #audioTouched = new Map<string, number>();
  #failedAtLastLog = 0;
  #lastErrorLog = -Infinity;
  #closed = false;

  private constructor(db: RecordsDb, options: CallStoreOptions, recovery: RecoveryResult) {
    this.dataDir = options.dataDir;
    this.dbFile = recordsDbPath(options.dataDir);
    this.recordingsDir = join(options.dataDir, RECORDINGS_DIR);
    this.recovery = recovery;
    this.#db = db;
    this.#writer = new RecordsWriter(db);
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#recorderOptions = options.recorder;
    this.#recordCalls = options.recordCalls ?? false;
    this.#onStatus = options.onStatus;
  }

  /** Opens (creating and migrating as needed) the records in `dataDir` and recovers from an unclean stop. */
  static async open(options: CallStoreOptions): Promise<CallStore> {
    const log = options.log ?? silentLogger;
    const db = openRecordsDb(recordsDbPath(options.dataDir), { log });
    const recordingsDir = join(options.dataDir, RECORDINGS_DIR);
    try {
      // Recordings an older Parley left readable by everyone are made private too.
      if (existsSync(recordingsDir)) ensurePrivateDir(recordingsDir, log);
      tightenPrivateFiles([], recordingsDir, log);
    } catch (err) {
      log.warn('records: could not check the recordings folder\'s permissions', { error: errorMessage(err) });
    }
    let recovery: RecoveryResult;
    try {
      recovery = await recoverAfterCrash(db, options.dataDir, recordingsDir, log);
    } catch (err) {
      db.close();
      throw new ParleyError('RECORDS_FAILED', `Recovering the call records in ${options.dataDir} failed: ${errorMessage(err)}`, { cause: err });
    }
    const store = new CallStore(db, options, recovery);
    store.setOptions({ retentionDays: options.retentionDays ?? null });
    return store;
  }

  /** Subscribes to the core's events; returns the unsubscribe function. */
  attach(events: CoreEvents): () => void {
    this.#events = events;
    const off = events.onAny((event) => this.handle(event));
    this.#detach.push(off);
    return off;
  }

  /** Takes one core event. Never throws. */
  handle(event: CoreEvent): void {
    if (this.#closed) return;
    try {
      if (!isRecordedEvent(event) || (event.callSid !== null && this.#deleted.has(event.callSid))) return;
      // The recording is finished even when the row cannot be written.
      if (event.type === 'call.ended') {
        this.#finishRecording(event.callSid);
        this.#audioTouched.delete(event.callSid);
      }
      const skipped = this.#writer.write(event);
      if (skipped !== null && event.type !== 'call.error') this.#log.warn('records: event not stored', { type: event.type, reason: skipped });
      if (event.type === 'call.ended') this.#pendingEnded.delete(event.callSid);
      this.#writeWorked();
      if (event.type === 'call.message' && skipped === null) this.#events?.emit({ type: 'messages.changed', at: Date.now() });
    } catch (err) {
      // A lost `call.ended` would leave the call "in progress" for good: it is written again once writes work.
      if (event.type === 'call.ended' && this.#pendingEnded.size < MAX_PENDING_ENDED) this.#pendingEnded.set(event.callSid, event);
      this.#writeFailed(err, { type: event.type, callSid: 'callSid' in event ? event.callSid : undefined });
    }
  }

  /** The records' health, for `/status`, `/health`, the doctor and the GUI's status bar. */
  get status(): RecordsStatus {
    const n = this.#failedWrites;
    const where = `the data folder ${this.dataDir}`;
    if (this.#failing) {
      return {
        ok: false,
        failedWrites: n,
        detail: `${n} call-record write${n === 1 ? '' : 's'} failed (last: ${this.#lastError}); calls go on but are not fully recorded. Free disk space on ${where} (or make it writable); Parley retries by itself.`,
      };
    }
    return { ok: true, failedWrites: n, detail: n === 0 ? 'writing call records' : `writing call records again; ${n} write${n === 1 ? '' : 's'} failed earlier (those calls' records are incomplete)` };
  }

  #notify(): void {
    try {
      this.#onStatus?.(this.status);
    } catch (err) {
      this.#log.warn('records: status listener failed', { error: errorMessage(err) });
    }
  }

  #writeWorked(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.info('records: writes work again', { failedWrites: this.#failedWrites });
    this.#notify();
    for (const [sid, ended] of [...this.#pendingEnded]) {
      this.#pendingEnded.delete(sid);
      this.handle(ended);
    }
  }

  /** Counts a failed write, leaves a marker for the next start's recovery and logs — at most every few seconds. */
  #writeFailed(err: unknown, fields: Record<string, unknown>): void {
    this.#failedWrites++;
    this.#lastError = errorMessage(err);
    const wasFailing = this.#failing;
    this.#failing = true;
    if (!this.#markerWritten) {
      try {
        // An empty file needs no data block: it can usually be made on a full disk.
        ensurePrivateFile(join(this.dataDir, INCOMPLETE_MARKER));
        this.#markerWritten = true;
      } catch {
        // the next start then ends such calls as `crashed`
      }
    }
    // A broken disk fails every write: say so at most every few seconds, with how many were lost meanwhile.
    const now = Date.now();
    if (now - this.#lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
      this.#log.error('records: could not store an event', { ...fields, error: this.#lastError, failedSinceLastReport: this.#failedWrites - this.#failedAtLastLog });
      this.#lastErrorLog = now;
      this.#failedAtLastLog = this.#failedWrites;
      this.#notify();
    } else if (!wasFailing) this.#notify();
  }

  /** Writes that failed since open (the GUI can show a warning). */
  get failedWrites(): number {
    return this.#failedWrites;
  }

  get recordCalls(): boolean {
    return this.#recordCalls;
  }

  /** Settings changes. `recordCalls` applies to calls whose audio starts afterwards. */
  setOptions(options: { recordCalls?: boolean; retentionDays?: number | null }): void {
    if (options.recordCalls !== undefined) this.#recordCalls = options.recordCalls;
    if (options.retentionDays !== undefined) {
      const days = options.retentionDays;
      if (days !== null && !(Number.isFinite(days) && days >= 0)) {
        throw new ParleyError('BAD_REQUEST', `Retention must be a number of days (0 or empty keeps everything), not ${String(days)}.`);
      }
      this.#retentionDays = days === null || days === 0 ? null : days;
      if (this.#retentionTimer) clearInterval(this.#retentionTimer);
      this.#retentionTimer = null;
      if (this.#retentionDays !== null) {
        const run = () => this.#track(this.purge(this.#retentionDays ?? Infinity).catch((err) => this.#log.error('records: retention purge failed', { error: errorMessage(err) })));
        run();
        this.#retentionTimer = setInterval(run, RETENTION_CHECK_MS);
        this.#retentionTimer.unref();
      }
    }
  }

  list(query: CallQuery = {}): CallPage {
    return listCalls(this.#db, query);
  }

  get(sid: string): CallDetail | null {
    return getCall(this.#db, sid);
  }

  /** The inbox: messages taken for the owner, newest first, with the count not done yet. */
  messages(options: { limit?: number } = {}): MessageList {
    return listMessages(this.#db, options);
  }

  /** Marks a message done (or not done); null when there is no such message. Tells the GUI (`messages.changed`). */
  markMessageDone(id: number, done = true): MessageRecord | null {
    const message = markMessageDone(this.#db, id, done);
    if (message) this.#events?.emit({ type: 'messages.changed', at: Date.now() });
    return message;
  }

  /** The recording's absolute path when it exists on disk (and is complete: not while the call records). */
  recordingFile(sid: string): string | null {
    if (this.#recorders.has(sid) || this.#closing.has(sid)) return null;
    const row = this.#db.prepare('SELECT recording_path FROM calls WHERE sid = ?').get(sid) as { recording_path: string | null } | undefined;
    if (!row?.recording_path) return null;
    const file = recordingAbsolutePath(this.dataDir, this.recordingsDir, row.recording_path);
    return file && existsSync(file) ? file : null;
  }

  /** Deletes a call's row (turns and events with it) and its recording. Unknown sid: CALL_NOT_FOUND. */
  async delete(sid: string): Promise<void> {
    const row = this.#db.prepare('SELECT recording_path FROM calls WHERE sid = ?').get(sid) as { recording_path: string | null } | undefined;
    if (!row) throw new ParleyError('CALL_NOT_FOUND', `There is no call record ${JSON.stringify(sid)} to delete (already deleted?).`, { details: { sid } });
    const wasDeleted = this.#deleted.has(sid);
    this.#deleted.add(sid);
    try {
      const live = this.#recorders.get(sid);
      if (live) {
        this.#recorders.delete(sid);
        await live.recorder.close();
      }
      // The audio goes first: a row without its file is harmless, a file without its row would be forgotten.
      const file = row.recording_path ? recordingAbsolutePath(this.dataDir, this.recordingsDir, row.recording_path) : null;
      if (file) await rm(file, { force: true });
      const hadMessages = this.#db.prepare('SELECT 1 FROM messages WHERE call_sid = ? LIMIT 1').get(sid) !== undefined;
      this.#db.prepare('DELETE FROM calls WHERE sid = ?').run(sid); // turns, events and messages go with it
      if (hadMessages) this.#events?.emit({ type: 'messages.changed', at: Date.now() });
    } catch (err) {
      if (!wasDeleted) this.#deleted.delete(sid);
      throw new ParleyError('RECORDS_FAILED', `Deleting call ${sid} failed: ${errorMessage(err)}`, { cause: err, details: { sid } });
    }
  }

  /** Deletes calls (and recordings) that started more than `olderThanDays` days ago and have ended. */
  async purge(olderThanDays: number): Promise<{ deleted: number }> {
    if (!(Number.isFinite(olderThanDays) && olderThanDays >= 0)) {
      throw new ParleyError('BAD_REQUEST', `Purge needs a number of days (got ${String(olderThanDays)}).`);
    }
    const cutoff = this.#now() - olderThanDays * DAY_MS;
    const sids = (this.#db.prepare('SELECT sid FROM calls WHERE started_at < ? AND ended_at IS NOT NULL').all(cutoff) as { sid: string }[]).map((r) => r.sid);
    let deleted = 0;
    for (const sid of sids) {
      if (this.#closed) break;
      if (this.#recorders.has(sid)) continue;
      try {
        await this.delete(sid);
        deleted++;
      } catch (err) {
        this.#log.error('records: retention could not delete a call', { callSid: sid, error: errorMessage(err) });
      }
    }
    if (deleted > 0) this.#log.info('records: old calls deleted by retention', { deleted, olderThanDays });
    return { deleted };
  }

  /** Streams the records (calls + turns) as JSON or CSV. */
  export(out: Writable, options: ExportOptions): Promise<ExportSummary> {
    return exportRecords(this.#db, out, options);
  }

  /** Finishes open recordings and closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#detach.splice(0)) off();
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    for (const sid of [...this.#recorders.keys()]) this.#finishRecording(sid);
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    // A last try for calls whose end could not be written (the disk may have room again).
    for (const [sid, ended] of [...this.#pendingEnded]) {
      try {
        if (isRecordedEvent(ended)) this.#writer.write(ended);
        this.#pendingEnded.delete(sid);
      } catch {
        // left for the next start's recovery ("ended (record incomplete)")
      }
    }
    // Every lost end was written after all: the next start has nothing to mark incomplete.
    if (this.#markerWritten && this.#pendingEnded.size === 0) rmSync(join(this.dataDir, INCOMPLETE_MARKER), { force: true });
    this.#pendingEnded.clear();
    this.#db.close();
  }

  /** One frame from a call's audio tap. Recorded when recording is on (decided once per call). Never throws. */
  recordAudio(callSid: string, frame: TappedFrame): void {
    if (this.#closed) return;
    try {
      this.#onAudio(callSid, frame);
    } catch (err) {
      this.#log.error('records: could not record call audio', { callSid, error: errorMessage(err) });
    }
  }

  #onAudio(sid: string, event: TappedFrame): void {
    if (typeof sid !== 'string' || sid === '' || this.#deleted.has(sid) || !(event.mulaw instanceof Uint8Array)) return;
    this.#touchFromAudio(sid);
    let entry = this.#recorders.get(sid);
    if (!entry) {
      if (this.#decided.has(sid)) return;
      this.#decided.add(sid);
      if (!this.#recordCalls) return;
      entry = this.#startRecording(sid);
      if (!entry) return;
    }
    entry.recorder.push(event.track, event.offsetMs, event.mulaw);
  }

  /** A call that only streams audio (nobody speaks a turn) is still alive: a crash must not end it at its start. */
  #touchFromAudio(sid: string): void {
    const now = this.#now();
    const last = this.#audioTouched.get(sid);
    if (last !== undefined && now - last < AUDIO_TOUCH_MS) return;
    this.#audioTouched.set(sid, now);
    try {
      this.#writer.touch(sid, now);
      this.#writeWorked();
    } catch (err) {
      this.#writeFailed(err, { type: 'audio', callSid: sid });
    }
  }

  #startRecording(sid: string): { recorder: CallRecorder; path: string } | undefined {
    try {
      ensurePrivateDir(this.recordingsDir, this.#log);
      const base = sid.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || 'call';
      let name = `${base}.wav`;
      for (let n = 2; existsSync(join(this.recordingsDir, name)); n++) name = `${base}-${n}.wav`;
      const path = `${RECORDINGS_DIR}/${name}`;
      // The row points at the file before the file exists: a crash in between leaves no untracked audio.
      this.#writer.ensureCall(sid, this.#now());
      this.#writer.setRecording(sid, path, null, null);
      const recorder = new CallRecorder(join(this.recordingsDir, name), {
        ...this.#recorderOptions,
        log: this.#log.child({ callSid: sid }),
        onWriteFailed: (err) => this.#writeFailed(err, { type: 'recording', callSid: sid }),
      });
      const entry = { recorder, path };
      this.#recorders.set(sid, entry);
      return entry;
    } catch (err) {
      this.#writeFailed(err, { type: 'recording', callSid: sid });
      this.#log.error('records: could not start the recording; this call is not recorded', { callSid: sid, error: errorMessage(err) });
      return undefined;
    }
  }

  #finishRecording(sid: string): void {
    const entry = this.#recorders.get(sid);
    if (!entry) return;
    this.#recorders.delete(sid);
    this.#closing.add(sid);
    const done = entry.recorder.close().then((result) => {
      if (this.#deleted.has(sid)) return;
      try {
        this.#writer.setRecording(sid, entry.path, result.dataBytes, result.durationMs);
      } catch (err) {
        this.#writeFailed(err, { type: 'recording size', callSid: sid });
      }
    });
    this.#track(done.finally(() => this.#closing.delete(sid)));
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }
}
