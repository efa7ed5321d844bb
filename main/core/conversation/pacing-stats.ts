/**
 * How well outbound audio keeps real time, across all calls: how late each frame left against its ideal send
 * time, and how often Twilio would have run dry while audio was waiting here (an audible gap caused by us).
 * Exposed on /health and used by `npm run bench`.
 */
export class PacingStats {
  /** Lateness histogram in 1 ms buckets (0…999, the last bucket is "≥ 999 ms"). */
  readonly #buckets = new Uint32Array(1000);
  frames = 0;
  /** Frames sent after Twilio's buffer ran dry although they were already queued here. */
  late = 0;
  /** Runs that had to restart because no audio was ready (TTS slower than real time). */
  starved = 0;

  record(latenessMs: number): void {
    this.frames++;
    this.#buckets[Math.min(999, Math.max(0, Math.round(latenessMs)))]!++;
  }

  percentile(p: number): number {
    if (this.frames === 0) return 0;
    const target = Math.ceil((p / 100) * this.frames);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= target) return i;
    }
    return 999;
  }

  snapshot(): { frames: number; lateFrames: number; starvedRuns: number; latenessP50Ms: number; latenessP99Ms: number; latenessMaxMs: number } {
    let max = 0;
    for (let i = this.#buckets.length - 1; i >= 0; i--) {
      if (this.#buckets[i]) {
        max = i;
        break;
      }
    }
    return { frames: this.frames, lateFrames: this.late, starvedRuns: this.starved, latenessP50Ms: this.percentile(50), latenessP99Ms: this.percentile(99), latenessMaxMs: max };
  }
}
