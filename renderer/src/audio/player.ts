/**
 * The agent's voice on the computer's speakers, with little delay: each 20 ms frame becomes an AudioBuffer
 * scheduled right after the one before (a small lead absorbs jitter), and `flush` (a Twilio `clear`, barge-in)
 * stops everything queued at once. Implements the test call's AgentSpeaker.
 */
import { Resampler } from './resample.ts';
import type { AgentSpeaker } from './test-call-stream.ts';

/** How far ahead of "now" a frame arriving on an empty queue starts (jitter room, not latency to spare). */
const LEAD_S = 0.06;

export class SpeakerPlayer implements AgentSpeaker {
  readonly #ctx: AudioContext;
  readonly #up: Resampler;
  readonly #out: AudioNode;
  #sources = new Set<AudioBufferSourceNode>();
  #timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  #next = 0;

  constructor(ctx: AudioContext, output: AudioNode = ctx.destination) {
    this.#ctx = ctx;
    this.#out = output;
    this.#up = new Resampler(8000, ctx.sampleRate);
  }

  play(samples8k: Float32Array): void {
    const samples = this.#up.push(samples8k);
    if (!samples.length) return;
    const buffer = this.#ctx.createBuffer(1, samples.length, this.#ctx.sampleRate);
    buffer.getChannelData(0).set(samples);
    const src = this.#ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.#out);
    const at = Math.max(this.#next, this.#ctx.currentTime + LEAD_S);
    src.start(at);
    this.#next = at + buffer.duration;
    this.#sources.add(src);
    src.onended = () => this.#sources.delete(src);
  }

  afterQueued(done: () => void): void {
    const wait = Math.max(0, this.#next - this.#ctx.currentTime);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      done();
    }, wait * 1000);
    this.#timers.set(timer, done);
  }

  flush(): void {
    for (const src of this.#sources) {
      try {
        src.stop();
      } catch {
        /* not started yet */
      }
    }
    this.#sources.clear();
    this.#next = 0;
    this.#up.reset();
    const pending = [...this.#timers];
    this.#timers.clear();
    for (const [timer, done] of pending) {
      clearTimeout(timer);
      done();
    }
  }
}
