/**
 * Twilio Media Streams carry 20 ms frames: 160 bytes of 8 kHz μ-law. Outbound audio is cut into exactly these.
 */
import { MULAW_SILENCE } from './mulaw.ts';

export const SAMPLE_RATE = 8000;
export const FRAME_MS = 20;
export const FRAME_BYTES = (SAMPLE_RATE * FRAME_MS) / 1000; // 160

/** Accumulates μ-law bytes and hands out whole 160-byte frames. */
export class FrameAssembler {
  #pending = new Uint8Array(FRAME_BYTES);
  #fill = 0;

  /** Append bytes; returns the complete frames they finish. */
  push(bytes: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(FRAME_BYTES - this.#fill, bytes.length - i);
      this.#pending.set(bytes.subarray(i, i + n), this.#fill);
      this.#fill += n;
      i += n;
      if (this.#fill === FRAME_BYTES) {
        frames.push(this.#pending);
        this.#pending = new Uint8Array(FRAME_BYTES);
        this.#fill = 0;
      }
    }
    return frames;
  }

  /** The last partial frame padded with silence, or null when nothing is pending. */
  flush(): Uint8Array | null {
    if (this.#fill === 0) return null;
    this.#pending.fill(MULAW_SILENCE, this.#fill);
    const frame = this.#pending;
    this.#pending = new Uint8Array(FRAME_BYTES);
    this.#fill = 0;
    return frame;
  }
}

/** Cut a whole μ-law buffer into frames, padding the last one. */
export function toFrames(bytes: Uint8Array): Uint8Array[] {
  const a = new FrameAssembler();
  const frames = a.push(bytes);
  const last = a.flush();
  if (last) frames.push(last);
  return frames;
}
