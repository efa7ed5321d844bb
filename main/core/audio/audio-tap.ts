/**
 * One call's audio, both directions, for whoever needs to hear it (the recorder; later, live listening in the
 * GUI). Audio never rides the control event bus: 50 frames a second per call and direction would reach every
 * event consumer, who would all have to filter it out.
 *
 * Listeners run synchronously, in the media path: each must be quick, and one that throws is cut off (and
 * reported) without touching the call or the other listeners.
 */

export interface TappedFrame {
  /** `inbound` = the caller, `outbound` = the agent. */
  track: 'inbound' | 'outbound';
  /** Milliseconds since the stream started, on the call's own audio clock. */
  offsetMs: number;
  /** 8 kHz μ-law bytes, as on the wire. */
  mulaw: Uint8Array;
}

export type TapListener = (frame: TappedFrame) => void;

export class AudioTap {
  readonly #listeners = new Set<TapListener>();
  readonly #onListenerError: (err: unknown) => void;
  #closed = false;

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** Hear every frame from now on; returns the unsubscribe function. */
  subscribe(listener: TapListener): () => void {
    if (!this.#closed) this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  push(frame: TappedFrame): void {
    for (const listener of this.#listeners) {
      try {
        listener(frame);
      } catch (err) {
        this.#listeners.delete(listener);
        this.#onListenerError(err);
      }
    }
  }

  /** The call is over: no more frames, listeners dropped. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
  }
}
