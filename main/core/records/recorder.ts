/**
 * Call recordings: one WAV per call, caller on the left channel and the agent on the right, 8 kHz.
 *
 * Format: 16-bit linear PCM rather than μ-law WAV (format 7). μ-law would be half the size (16 kB/s instead of
 * 32 kB/s, ≈ 1.9 MB per minute here) and a byte-exact copy of the wire, but format 7 is not universally
 * playable: browsers' <audio> (Firefox, and Chromium builds without the proprietary codec set), Python's `wave`
 * and many editors only read PCM. A recording the user cannot play is worth less than the disk it saves, and
 * decoding μ-law is one table lookup per sample.
 *
 * Alignment: every frame carries `offsetMs` on the call's own audio clock, so each track is placed at its
 * sample position and whatever no frame covered stays silent (the agent's channel is silent while it
 * listens). Frames are held for `lagMs` before being written, so slightly late or bunched frames still land
 * in place; a frame older than that is dropped rather than shifting the rest of the call.
 *
 * Streaming: samples are appended to the file as the call goes (in order, off the event loop) and the
 * header's sizes are written when the recording closes. A process killed mid-call leaves a file whose
 * header says "no data"; `repairRecordings` fixes that from the file's real length on the next start.
 */
import { closeSync, fsync as fsyncCb, openSync, write as writeCb, writeSync, close as closeCb } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeSample } from '../audio/mulaw.ts';
import { SAMPLE_RATE } from '../audio/frames.ts';
import { errorMessage } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';
import { parseWavHeader, WAV_BLOCK_ALIGN, WAV_HEADER_BYTES, wavDurationMs, wavHeader, wavSizeFields } from './wav.ts';

const write = promisify(writeCb);
const fsync = promisify(fsyncCb);
const close = promisify(closeCb);

const SAMPLES_PER_MS = SAMPLE_RATE / 1000;
/** A frame further ahead than this of everything seen so far is a broken clock, not a pause: dropped. */
const MAX_JUMP_MS = 60_000;

export interface CallRecorderOptions {
  log?: Logger;
  /** How long frames wait in memory for late neighbours before being written (ms of call audio). */
  lagMs?: number;
  /** Write to disk once at least this much audio (ms) is ready. */
  flushMs?: number;
  /** Told when a write fails (the rest of the call is not recorded): the store counts it. */
  onWriteFailed?: (err: unknown) => void;
  /** fs.write, promisified (tests hand in a full disk). */
  write?: (fd: number, buffer: Buffer, offset: number, length: number, position: number) => Promise<{ bytesWritten: number }>;
}

export interface RecordingResult {
  file: string;
  dataBytes: number;
  durationMs: number;
}

/** One call's recording. Create with the file path; feed `push`; `close` once. */
export class CallRecorder {
  readonly file: string;
  readonly #log: Logger;
  readonly #lagSamples: number;
  readonly #flushSamples: number;
  readonly #fd: number;
  /** Sample index (per channel) of pending[0] = samples already handed to the file. */
  #base = 0;
  /** One past the furthest sample any frame reached. */
  #end = 0;
  #left = new Int16Array(SAMPLE_RATE * 4);
  #right = new Int16Array(SAMPLE_RATE * 4);
  #dataBytes = 0;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;
  #closed = false;
  #closing: Promise<RecordingResult> | null = null;
  #dropped = 0;
  readonly #write: NonNullable<CallRecorderOptions['write']>;
  readonly #onWriteFailed: CallRecorderOptions['onWriteFailed'];

  /** Creates the file (synchronously, so it exists from the first frame on) with a zero-size header. */
  constructor(file: string, options: CallRecorderOptions = {}) {
    this.file = file;
    this.#log = options.log ?? silentLogger;
    this.#lagSamples = Math.round((options.lagMs ?? 1000) * SAMPLES_PER_MS);
    this.#flushSamples = Math.max(1, Math.round((options.flushMs ?? 500) * SAMPLES_PER_MS));
    this.#write = options.write ?? write;
    this.#onWriteFailed = options.onWriteFailed;
    this.#fd = openSync(file, 'w', PRIVATE_FILE_MODE); // call audio: only this user may read it
    try {
      writeSync(this.#fd, wavHeader(0), 0, WAV_HEADER_BYTES, 0);
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
  }

  /** Place one frame of one track at its position on the call's audio clock. Never throws. */
  push(track: 'inbound' | 'outbound', offsetMs: number, mulaw: Uint8Array): void {
    if (this.#closed || this.#failed || mulaw.length === 0 || !Number.isFinite(offsetMs) || offsetMs < 0) return;
    const start = Math.round(offsetMs * SAMPLES_PER_MS);
    const end = start + mulaw.length;
    if (end <= this.#base || start > this.#end + MAX_JUMP_MS * SAMPLES_PER_MS) {
      if (this.#dropped++ === 0) {
        this.#log.warn('recording: dropped a frame outside the recording window', { track, offsetMs, file: this.file });
      }
      return;
    }
    this.#ensureCapacity(end - this.#base);
    const channel = track === 'inbound' ? this.#left : this.#right;
    const skip = Math.max(0, this.#base - start);
    for (let i = skip; i < mulaw.length; i++) channel[start + i - this.#base] = decodeSample(mulaw[i]!);
    if (end > this.#end) this.#end = end;
    if (this.#end - this.#lagSamples - this.#base >= this.#flushSamples) this.#flush(this.#end - this.#lagSamples);
  }

  /** Writes what is left, fixes the header and closes the file. Safe to call more than once. */
  close(): Promise<RecordingResult> {
    this.#closing ??= this.#finish();
    return this.#closing;
  }

  async #finish(): Promise<RecordingResult> {
    this.#closed = true;
    this.#flush(this.#end);
    const fd = this.#fd;
    // The header always runs, even after a failed write: it must say what is really in the file.
    this.#enqueue(async () => {
      const { riff, data } = wavSizeFields(this.#dataBytes);
      await write(fd, riff, 0, 4, 4);
      await write(fd, data, 0, 4, 40);
      await fsync(fd);
    }, true);
    await this.#chain;
    try {
      await close(fd);
    } catch (err) {
      this.#log.warn('recording: close failed', { file: this.file, error: errorMessage(err) });
    }
    return { file: this.file, dataBytes: this.#dataBytes, durationMs: wavDurationMs(this.#dataBytes) };
  }

  #ensureCapacity(samples: number): void {
    if (samples <= this.#left.length) return;
    let size = this.#left.length;
    while (size < samples) size *= 2;
    for (const key of ['left', 'right'] as const) {
      const grown = new Int16Array(size);
      grown.set(key === 'left' ? this.#left : this.#right);
      if (key === 'left') this.#left = grown;
      else this.#right = grown;
    }
  }

  /** Hands samples [base, upTo) to the file, interleaved, and forgets them. */
  #flush(upTo: number): void {
    const count = upTo - this.#base;
    if (count <= 0) return;
    const out = Buffer.allocUnsafe(count * WAV_BLOCK_ALIGN);
    for (let i = 0; i < count; i++) {
      out.writeInt16LE(this.#left[i]!, i * 4);
      out.writeInt16LE(this.#right[i]!, i * 4 + 2);
    }
    const kept = this.#end - upTo;
    this.#left.copyWithin(0, count, count + kept);
    this.#right.copyWithin(0, count, count + kept);
    this.#left.fill(0, kept);
    this.#right.fill(0, kept);
    this.#base = upTo;
    const fd = this.#fd;
    this.#enqueue(async () => {
      // Count only what reached the file: a full disk writes part of a buffer, then fails.
      let done = 0;
      try {
        while (done < out.length) {
          const { bytesWritten } = await this.#write(fd, out, done, out.length - done, WAV_HEADER_BYTES + this.#dataBytes + done);
          if (bytesWritten <= 0) throw new Error(`short write: ${done} of ${out.length} bytes`);
          done += bytesWritten;
        }
      } finally {
        // Whole sample frames only: a half frame at the end would shift the channels of anything after it.
        this.#dataBytes += done - (done % WAV_BLOCK_ALIGN);
      }
    });
  }

  #enqueue(step: () => Promise<void>, always = false): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#failed && !always) return;
      try {
        await step();
      } catch (err) {
        const first = !this.#failed;
        this.#failed = true;
        if (first) this.#onWriteFailed?.(err);
        this.#log.error('recording: write failed; the rest of this call is not recorded', {
          file: this.file,
          error: errorMessage(err),
        });
      }
    });
  }
}

export interface RepairResult {
  file: string;
  action: 'ok' | 'repaired' | 'unrepairable';
  dataBytes: number;
  detail?: string;
}

/**
 * Makes every `.wav` directly in `dir` a playable file: header sizes are set from the file's real length
 * (a trailing half sample frame is cut), and a file that died before its header was complete becomes an
 * empty recording. Files named in `skip` (recordings still being written by a live process) are left alone,
 * as is anything that is not a WAVE file. A missing `dir` is not an error.
 */
export async function repairRecordings(dir: string, options: { skip?: ReadonlySet<string>; log?: Logger } = {}): Promise<RepairResult[]> {
  const log = options.log ?? silentLogger;
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.wav'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const results: RepairResult[] = [];
  for (const name of names.sort()) {
    const file = join(dir, name);
    if (options.skip?.has(file)) continue;
    try {
      const result = await repairOne(file);
      if (result.action === 'repaired') log.info('recording repaired after an unclean stop', { file, dataBytes: result.dataBytes });
      if (result.action === 'unrepairable') log.warn('recording is not a WAV file; left as it is', { file, detail: result.detail });
      results.push(result);
    } catch (err) {
      log.warn('recording could not be checked', { file, error: errorMessage(err) });
      results.push({ file, action: 'unrepairable', dataBytes: 0, detail: errorMessage(err) });
    }
  }
  return results;
}

async function repairOne(file: string): Promise<RepairResult> {
  const handle = await open(file, 'r+');
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(Math.min(size, 4096));
    await handle.read(head, 0, head.length, 0);
    if (size < WAV_HEADER_BYTES) {
      // Died while the header itself was being written: only an empty recording can be made of it.
      if (!wavHeader(0).subarray(0, size).equals(head)) return { file, action: 'unrepairable', dataBytes: 0, detail: 'short file, not ours' };
      await handle.truncate(0);
      await handle.write(wavHeader(0), 0, WAV_HEADER_BYTES, 0);
      await handle.sync();
      return { file, action: 'repaired', dataBytes: 0 };
    }
    const wav = parseWavHeader(head);
    if (!wav) return { file, action: 'unrepairable', dataBytes: 0, detail: 'no RIFF/WAVE header with fmt and data chunks' };
    const block = Math.max(1, (wav.channels * wav.bitsPerSample) / 8);
    const dataBytes = Math.floor(Math.max(0, size - wav.dataOffset) / block) * block;
    const riffSize = wav.dataOffset - 8 + dataBytes;
    const fileEnd = wav.dataOffset + dataBytes;
    if (wav.dataSize === dataBytes && wav.riffSize === riffSize && size === fileEnd) return { file, action: 'ok', dataBytes };
    if (size !== fileEnd) await handle.truncate(fileEnd);
    const riff = Buffer.alloc(4);
    riff.writeUInt32LE(Math.min(0xffff_ffff, riffSize), 0);
    const data = Buffer.alloc(4);
    data.writeUInt32LE(Math.min(0xffff_ffff, dataBytes), 0);
    await handle.write(riff, 0, 4, 4);
    await handle.write(data, 0, 4, wav.dataOffset - 4);
    await handle.sync();
    return { file, action: 'repaired', dataBytes };
  } finally {
    await handle.close();
  }
}
