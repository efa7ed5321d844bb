/**
 * Sends the agent's audio to Twilio at real time with a small lead, so at most `leadMs` is ever buffered at
 * Twilio: a barge-in `clear` then silences the agent at once, and what was *played* is known from `mark`
 * echoes. Dumping a whole reply into the socket would make both impossible.
 *
 * After `clear`, Twilio sends back the marks still pending — those were not heard, and are swallowed here.
 */
import { FRAME_MS } from '../audio/frames.ts';
import type { OutboundFrame, StreamWriter } from '../twilio/media-stream.ts';
import type { PacingStats } from './pacing-stats.ts';

export interface PlayoutOptions {
  /** The call's outbound stream: frames, marks and clears go straight to it. */
  stream: StreamWriter;
  /** Audio kept queued at Twilio ahead of playback. */
  leadMs?: number;
  now?: () => number;
  /** Every frame sent, with its position on the playback timeline (ms since the playout started). */
  onFrame?(frame: OutboundFrame, playbackMs: number): void;
  /** `clear` was sent at `playbackMs`: Twilio dropped whatever was buffered from there on. */
  onClear?(playbackMs: number): void;
  /** Shared pacing statistics (lateness of every frame, gaps). */
  stats?: PacingStats;
}

type Item = { kind: 'frame'; frame: OutboundFrame } | { kind: 'mark'; name: string; played: () => void };

export class Playout {
  readonly #stream: StreamWriter;
  readonly #leadMs: number;
  readonly #now: () => number;
  readonly #onFrame: PlayoutOptions['onFrame'];
  readonly #onClear: PlayoutOptions['onClear'];
  readonly #stats: PacingStats | undefined;
  readonly #created: number;
  #queue: Item[] = [];
  #head = 0;
  /** Wall time at which Twilio started playing the current run of audio, and how much of it we sent. */
  #runStart = 0;
  #runSentMs = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Marks sent and not yet echoed. */
  readonly #pending = new Map<string, () => void>();
  /** Marks cleared before they played: their late echoes are ignored. */
  readonly #cancelled = new Set<string>();
  #closed = false;
  #framesSent = 0;
  /** The pump was woken by its own timer with frames waiting (not by new audio arriving). */
  #timerWasDue = false;

  constructor(options: PlayoutOptions) {
    this.#stream = options.stream;
    this.#leadMs = options.leadMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#onFrame = options.onFrame;
    this.#onClear = options.onClear;
    this.#stats = options.stats;
    this.#created = this.#now();
  }

  get framesSent(): number {
    return this.#framesSent;
  }

  /** Nothing waiting to be sent and nothing unconfirmed at Twilio. */
  get idle(): boolean {
    return this.#head >= this.#queue.length && this.#pending.size === 0;
  }

  /** Queued here, not yet sent. */
  get queuedMs(): number {
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (this.#queue[i]!.kind === 'frame') n++;
    return n * FRAME_MS;
  }

  enqueue(frames: OutboundFrame[]): void {
    if (this.#closed) return;
    for (const frame of frames) this.#queue.push({ kind: 'frame', frame });
    this.#pump();
  }

  /** A mark after everything queued so far; `played` runs when Twilio confirms it was heard. */
  enqueueMark(name: string, played: () => void): void {
    if (this.#closed) return;
    this.#queue.push({ kind: 'mark', name, played });
    this.#pump();
  }

  /** Twilio echoed a mark. Returns false for unknown or cancelled marks. */
  onMark(name: string): boolean {
    if (this.#cancelled.delete(name)) return false;
    const played = this.#pending.get(name);
    if (!played) return false;
    this.#pending.delete(name);
    played();
    return true;
  }

  /** Drop everything queued, tell Twilio to drop its buffer, forget pending marks. Always sends `clear`. */
  clear(): void {
    if (this.#closed) return;
    this.#queue = [];
    this.#head = 0;
    for (const name of this.#pending.keys()) this.#cancelled.add(name);
    this.#pending.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#runSentMs = 0;
    this.#runStart = 0;
    this.#stream.clear();
    this.#onClear?.(this.#now() - this.#created);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
    this.#pending.clear();
  }

  /** How much audio Twilio still has buffered right now (ms), by our model of its playback clock. */
  #bufferedMs(now: number): number {
    return this.#runSentMs - (now - this.#runStart);
  }

  #pump(): void {
    if (this.#closed || this.#timer) return;
    const now = this.#now();
    let buffered = this.#bufferedMs(now);
    if (buffered <= 0) {
      // Twilio ran dry (or never started): a new run of audio starts now. If audio was already waiting here
      // (a late timer), that was a gap of our making; if not, the TTS could not keep up.
      if (this.#runSentMs > 0 && this.#stats) {
        if (this.#timerWasDue) this.#stats.late++;
        else this.#stats.starved++;
      }
      this.#runStart = now;
      this.#runSentMs = 0;
      buffered = 0;
    }
    this.#timerWasDue = false;
    while (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head]!;
      if (item.kind === 'mark') {
        this.#head++;
        this.#pending.set(item.name, item.played);
        this.#stream.mark(item.name);
        continue;
      }
      if (buffered >= this.#leadMs) break;
      this.#head++;
      // Ideal send time of this frame: when Twilio's buffer fell to the lead (or the run's start).
      this.#stats?.record(now - Math.max(this.#runStart, this.#runStart + this.#runSentMs - this.#leadMs));
      const playbackMs = this.#runStart - this.#created + this.#runSentMs;
      this.#stream.media(item.frame);
      this.#framesSent++;
      this.#onFrame?.(item.frame, playbackMs);
      this.#runSentMs += FRAME_MS;
      buffered += FRAME_MS;
    }
    if (this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 256) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    // Wake as soon as the buffer dips below the lead: frame k goes out at runStart + k·20 ms − lead.
    const wait = Math.max(1, Math.ceil(buffered - this.#leadMs + 0.5));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerWasDue = true;
      this.#pump();
    }, wait);
  }
}
