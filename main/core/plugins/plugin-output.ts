/**
 * What a plugin's process prints, made safe for the app's process: a plugin's stdout/stderr (and its ctx.log
 * lines) reach Parley's log, but a plugin that writes 96 MB without a newline, or a million lines a second,
 * must not grow the app's memory or drown its log.
 * - `OutputLines` cuts a byte stream into lines, keeping at most `maxLineBytes` of a line: the rest of an
 *   over-long line is dropped as it arrives, never buffered.
 * - `LogRateLimit` lets through at most `perSecond` lines a second per plugin, then one line saying how many
 *   were suppressed.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/** Longest line of a plugin's output kept; the rest of the line is dropped. */
export const MAX_PLUGIN_LINE_BYTES = 64 * 1024;
/** Lines a second a plugin may put in the log (stdout, stderr and ctx.log together). */
export const PLUGIN_LOG_LINES_PER_SECOND = 200;

export class OutputLines {
  readonly #max: number;
  readonly #onLine: (line: string) => void;
  #parts: Buffer[] = [];
  #size = 0;
  /** Bytes of the current line dropped (over the limit). */
  #dropped = 0;
  #highWater = 0;

  constructor(onLine: (line: string) => void, maxLineBytes = MAX_PLUGIN_LINE_BYTES) {
    this.#onLine = onLine;
    this.#max = maxLineBytes;
  }

  /** The most bytes ever held for one unfinished line (tests: stays at the limit, whatever the plugin writes). */
  get highWaterBytes(): number {
    return this.#highWater;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.#keep(chunk.subarray(start, end));
      if (nl === -1) break;
      this.#emit();
      start = nl + 1;
    }
  }

  /** The stream ended: what is left is the last line. */
  end(): void {
    if (this.#size > 0 || this.#dropped > 0) this.#emit();
  }

  #keep(piece: Buffer): void {
    const room = this.#max - this.#size;
    if (piece.length > room) {
      this.#dropped += piece.length - Math.max(0, room);
      piece = piece.subarray(0, Math.max(0, room));
    }
    if (piece.length === 0) return;
    // A copy: a subarray would keep the whole chunk it came from alive.
    this.#parts.push(Buffer.from(piece));
    this.#size += piece.length;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  #emit(): void {
    const decoder = new StringDecoder('utf8');
    let line = this.#parts.map((p) => decoder.write(p)).join('') + decoder.end();
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (this.#dropped > 0) line += ` … [line cut: ${this.#dropped} more bytes dropped, the limit is ${this.#max % 1024 === 0 ? `${this.#max / 1024} KB` : `${this.#max} bytes`} a line]`;
    this.#parts = [];
    this.#size = 0;
    this.#dropped = 0;
    this.#onLine(line);
  }
}

/** Reads `stream` line by line through an `OutputLines`. */
export function readLines(stream: Readable, onLine: (line: string) => void, maxLineBytes = MAX_PLUGIN_LINE_BYTES): OutputLines {
  const lines = new OutputLines(onLine, maxLineBytes);
  stream.on('data', (chunk: Buffer | string) => lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  stream.on('end', () => lines.end());
  stream.on('error', () => {});
  return lines;
}

export class LogRateLimit {
  readonly #perSecond: number;
  readonly #onSuppressed: (count: number, perSecond: number) => void;
  #windowStart = -Infinity;
  #inWindow = 0;
  #suppressed = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(onSuppressed: (count: number, perSecond: number) => void, perSecond = PLUGIN_LOG_LINES_PER_SECOND) {
    this.#perSecond = perSecond;
    this.#onSuppressed = onSuppressed;
  }

  /** Whether one more line may be logged now. */
  allow(): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#report();
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow < this.#perSecond) {
      this.#inWindow++;
      return true;
    }
    this.#suppressed++;
    // Said once the second is over, even when the plugin falls silent.
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#report();
      }, Math.max(1, 1000 - (now - this.#windowStart)));
      this.#timer.unref();
    }
    return false;
  }

  #report(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#suppressed === 0) return;
    const n = this.#suppressed;
    this.#suppressed = 0;
    this.#onSuppressed(n, this.#perSecond);
  }
}
