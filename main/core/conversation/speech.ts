/**
 * One agent utterance: text (streamed from the LLM, or fixed like the greeting) → clauses → TTS (streamed) →
 * 20 ms outbound frames (the wire module's FrameEncoder) → Playout, with a mark after each clause. The first clause goes to
 * TTS while the LLM is still writing, and its audio goes out as soon as it exists.
 *
 * What the caller heard is exactly the clauses whose marks Twilio echoed; the rest of an interrupted reply is
 * reported as cut.
 */
import { isParleyError } from '../errors.ts';
import type { TtsInstance } from '../plugins/api.ts';
import { FrameEncoder, type OutboundFrame } from '../twilio/media-stream.ts';
import { AsyncQueue } from './async-queue.ts';
import { ClauseSplitter } from '../plugins/kit/clauses.js';
import { checkAudio, checkText, guardIterable, isCancellation } from './guard.ts';
import type { AudioSink } from './reply-gate.ts';

export interface SpeechOptions {
  tts: TtsInstance;
  ttsName: string;
  /** Name of whatever produces the text (the LLM plugin, or "greeting"), for errors. */
  textName: string;
  /** The Playout, or a ReplyGate in front of it. */
  playout: AudioSink;
  /** Unique per call: marks are `${markPrefix}.${clauseIndex}`. */
  markPrefix: string;
  /** Aborting it cancels the LLM and TTS work in flight. */
  controller: AbortController;
  timeoutMs: number;
  now?: () => number;
  /** Text generated so far and heard so far, on every change. */
  onProgress?(text: string, heard: string): void;
  /** First frame of this utterance handed to the playout. */
  onFirstAudio?(at: number): void;
}

export interface SpeechResult {
  text: string;
  heard: string;
  /** Cancelled before everything was heard (barge-in, manual interrupt, call end). */
  interrupted: boolean;
  /** A plugin failed (thrown, timed out or garbage); `text` holds what was produced before. */
  error: Error | null;
  timings: { startedAt: number; firstDeltaAt: number | null; firstPieceAt: number | null; firstChunkAt: number | null; firstAudioAt: number | null };
}

export class Speech {
  readonly #o: SpeechOptions;
  readonly #now: () => number;
  readonly #pieces: string[] = [];
  /** Every clause's frames as synthesized, and whether it is complete: what a resume plays again. */
  readonly #audio: { frames: OutboundFrame[]; complete: boolean }[] = [];
  #heardCount = 0;
  #allQueued = false;
  #resolveDone: (() => void) | null = null;
  /** Playback stopped for a possible backchannel: audio is kept, not sent, until resume() or the cancel. */
  #paused = false;
  #resumes = 0;
  readonly timings: SpeechResult['timings'];

  constructor(options: SpeechOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.timings = { startedAt: this.#now(), firstDeltaAt: null, firstPieceAt: null, firstChunkAt: null, firstAudioAt: null };
  }

  get text(): string {
    return this.#pieces.join(' ');
  }

  get heard(): string {
    return this.#pieces.slice(0, this.#heardCount).join(' ');
  }

  /** Speak streamed text. Resolves once every clause has been heard, or when cancelled or failed. */
  async speak(source: AsyncIterable<string>): Promise<SpeechResult> {
    const { controller } = this.#o;
    const signal = controller.signal;
    const queue = new AsyncQueue<string>();
    let error: Error | null = null;
    const fail = (err: unknown) => {
      if (isCancellation(err) || signal.aborted && !isParleyError(err)) return;
      error ??= err instanceof Error ? err : new Error(String(err));
    };

    const produce = (async () => {
      const splitter = new ClauseSplitter();
      try {
        for await (const delta of guardIterable(source, { ms: this.#o.timeoutMs, controller, plugin: this.#o.textName, what: 'produce text' })) {
          const text = checkText(this.#o.textName, delta);
          this.timings.firstDeltaAt ??= this.#now();
          for (const piece of splitter.push(text)) queue.push(piece);
        }
        for (const piece of splitter.flush()) queue.push(piece);
        queue.close();
      } catch (err) {
        // Speak what we already have; report the failure.
        for (const piece of splitter.flush()) queue.push(piece);
        fail(err);
        queue.close();
      }
    })();

    const consume = (async () => {
      try {
        for await (const piece of queue) {
          if (signal.aborted) break;
          await this.#synthesize(piece);
        }
      } catch (err) {
        fail(err);
        if (!signal.aborted) controller.abort(err);
      }
    })();

    await Promise.all([produce, consume]);
    this.#allQueued = true;
    if (!signal.aborted && this.#heardCount < this.#pieces.length) {
      // Wait for Twilio to confirm the last clause was played (or for a cancel).
      await new Promise<void>((resolve) => {
        this.#resolveDone = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    const heardAll = this.#heardCount >= this.#pieces.length;
    return { text: this.text, heard: this.heard, interrupted: !heardAll && (signal.aborted || !!error), error, timings: this.timings };
  }

  /** Speak a fixed text (greeting, apology). */
  say(text: string): Promise<SpeechResult> {
    return this.speak(
      (async function* () {
        yield text;
      })(),
    );
  }

  /**
   * Stop sending (the caller may only be saying "mm-hm"; the Playout has been cleared): synthesis goes on and
   * its audio is kept. `resume()` plays again from the first clause not heard; cancelling the controller ends it.
   */
  pause(): void {
    this.#paused = true;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Play on from the clause where hearing stopped: its audio and everything synthesized since, then live. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resumes++;
    for (let i = this.#heardCount; i < this.#audio.length; i++) {
      const a = this.#audio[i]!;
      this.#enqueue(a.frames);
      if (a.complete) this.#mark(i);
    }
  }

  #mark(index: number): void {
    const name = `${this.#o.markPrefix}.${index}${this.#resumes ? `r${this.#resumes}` : ''}`;
    this.#o.playout.enqueueMark(name, () => {
      this.#heardCount = Math.max(this.#heardCount, index + 1);
      this.#o.onProgress?.(this.text, this.heard);
      if (this.#allQueued && this.#heardCount >= this.#pieces.length) this.#resolveDone?.();
    });
  }

  async #synthesize(piece: string): Promise<void> {
    const { controller, tts } = this.#o;
    const index = this.#pieces.length;
    this.#pieces.push(piece);
    const audio = { frames: [] as OutboundFrame[], complete: false };
    this.#audio.push(audio);
    this.timings.firstPieceAt ??= this.#now();
    this.#o.onProgress?.(this.text, this.heard);
    const encoder = new FrameEncoder();
    const stream = tts.synthesize(piece, { signal: controller.signal });
    const send = (frames: OutboundFrame[]) => {
      audio.frames.push(...frames);
      if (!this.#paused) this.#enqueue(frames);
    };
    for await (const raw of guardIterable(stream, { ms: this.#o.timeoutMs, controller, plugin: this.#o.ttsName, what: 'produce audio' })) {
      const chunk = checkAudio(this.#o.ttsName, raw);
      if (controller.signal.aborted) return;
      this.timings.firstChunkAt ??= this.#now();
      send(encoder.push(chunk.samples, chunk.sampleRate));
    }
    if (controller.signal.aborted) return;
    send(encoder.flush());
    audio.complete = true;
    if (!this.#paused) this.#mark(index);
  }

  #enqueue(frames: OutboundFrame[]): void {
    if (frames.length === 0) return;
    if (this.timings.firstAudioAt === null) {
      this.timings.firstAudioAt = this.#now();
      this.#o.onFirstAudio?.(this.timings.firstAudioAt);
    }
    this.#o.playout.enqueue(frames);
  }
}
