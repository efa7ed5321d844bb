/**
 * What a prepared reply may do before the caller's turn has really ended: everything. What it may show: nothing.
 * The gate stands between a reply's Speech and the Playout (and the events it would emit). While shut, it keeps
 * the reply's frames, marks and notices in order; `open()` lets them all through at once and everything after
 * goes straight on; `discard()` drops them, so a reply prepared for a pause the caller talked through leaves no
 * frame, no mark, no transcript.
 */
import type { OutboundFrame } from '../twilio/media-stream.ts';

/** Where a Speech sends its audio: the Playout, or a gate in front of it. */
export interface AudioSink {
  enqueue(frames: OutboundFrame[]): void;
  enqueueMark(name: string, played: () => void): void;
}

type Held = { kind: 'frames'; frames: OutboundFrame[] } | { kind: 'mark'; name: string; played: () => void } | { kind: 'call'; fn: () => void };

export class ReplyGate implements AudioSink {
  readonly #sink: AudioSink;
  readonly #now: () => number;
  #held: Held[] = [];
  #state: 'shut' | 'open' | 'discarded';
  /** When the gate opened (null while shut). */
  openedAt: number | null = null;

  constructor(sink: AudioSink, options: { open?: boolean; now?: () => number } = {}) {
    this.#sink = sink;
    this.#now = options.now ?? (() => performance.now());
    this.#state = 'shut';
    if (options.open) this.open();
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get discarded(): boolean {
    return this.#state === 'discarded';
  }

  enqueue(frames: OutboundFrame[]): void {
    this.#pass({ kind: 'frames', frames });
  }

  enqueueMark(name: string, played: () => void): void {
    this.#pass({ kind: 'mark', name, played });
  }

  /** Run `fn` when the reply is let through (now, if it already is); never if it is discarded. */
  when(fn: () => void): void {
    this.#pass({ kind: 'call', fn });
  }

  open(): void {
    if (this.#state !== 'shut') return;
    this.#state = 'open';
    this.openedAt = this.#now();
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.#forward(h);
  }

  discard(): void {
    this.#state = 'discarded';
    this.#held = [];
  }

  #pass(h: Held): void {
    if (this.#state === 'open') this.#forward(h);
    else if (this.#state === 'shut') this.#held.push(h);
  }

  #forward(h: Held): void {
    if (h.kind === 'frames') this.#sink.enqueue(h.frames);
    else if (h.kind === 'mark') this.#sink.enqueueMark(h.name, h.played);
    else h.fn();
  }
}
