/**
 * Decides, from per-window speech probabilities, when the caller starts a turn, pauses, and ends it. Works on
 * the call's own audio clock (samples received), so bunched network delivery does not distort timing.
 *
 *  - A turn starts only after `minSpeechMs` of speech (coughs and clicks don't), or `bargeInMinMs` while the
 *    agent is talking or about to (so "mm-hm" and short noises don't interrupt). Speech is measured as the span
 *    since its onset, of which at least 60 % must be voiced.
 *  - A turn ends after `silenceMs` of non-speech, or at `maxTurnMs`.
 *  - `pause` fires after `speculativeMs` of silence so the session can start transcribing early.
 *  - The end of speech is placed inside the last speech windows, at the last 10 ms block with voice-level
 *    energy: the VAD keeps calling a window or two after the last word speech (its hangover), and silence is
 *    counted from where the caller really stopped, not from the VAD's late edge.
 *  - `endNow()` ends the turn at once (a turn model judged it complete).
 */
export interface TurnDetectorOptions {
  sampleRate: number;
  silenceMs: number;
  minSpeechMs: number;
  bargeInMinMs: number;
  maxTurnMs: number;
  speculativeMs: number;
  /** Audio kept from before the first speech window (soft onsets are often below the threshold). */
  preRollMs?: number;
  /** Trailing audio kept after the last speech window. */
  tailMs?: number;
  threshold?: number;
  /** Lower threshold while already in speech (hysteresis). */
  releaseThreshold?: number;
}

export interface Utterance {
  samples: Float32Array;
  sampleRate: number;
  /** Audio-clock ms of the first and last speech windows. */
  speechStartMs: number;
  speechEndMs: number;
  speechMs: number;
  /** True when cut by maxTurnMs. */
  truncated: boolean;
}

export interface TurnDetectorEvents {
  /** First speech window of a candidate utterance. */
  onset?(atMs: number): void;
  /** The candidate became a real turn (speech ≥ the applicable minimum). `speechMs` is how much was heard. */
  turnStart?(info: { atMs: number; onsetMs: number; speechMs: number; agentActive: boolean }): void;
  /** Silence reached speculativeMs inside a turn: the utterance so far. */
  pause?(utterance: Utterance): void;
  /** Speech resumed after a pause. */
  resume?(): void;
  /** A non-speech window inside a turn: how long the caller has been silent (from the refined end of speech). */
  quiet?(info: { silenceMs: number }): void;
  /** The turn is over. */
  end?(utterance: Utterance, info: { endedBy: TurnEndReason }): void;
  /** A candidate too short to count ended (a cough, an "mm-hm" over the agent). */
  discard?(info: { speechMs: number }): void;
}

type State = 'idle' | 'candidate' | 'turn';

export type TurnEndReason = 'silence' | 'turn-model' | 'max-length';

/** Share of a candidate's span that must be voiced for it to count as speech. */
const VOICED_SHARE = 0.6;
/** Windows before a detected onset that may belong to it (the probability's ramp), and their minimum. */
const ONSET_LOOKBACK = 3;
const SOFT_ONSET = 0.15;
/** Energy blocks the end of speech is placed on, ms. */
const END_BLOCK_MS = 10;
/** Speech windows the end of speech may move back by (the VAD's hangover, no more). */
const END_REFINE_WINDOWS = 2;
/** RMS a block needs to count as voice: above -46 dBFS and 3× the line's noise floor. */
const VOICE_RMS_FLOOR = 0.005;
const NOISE_FACTOR = 3;

export class TurnDetector {
  readonly #o: Required<TurnDetectorOptions>;
  readonly #on: TurnDetectorEvents;
  #state: State = 'idle';
  #inSpeech = false;
  /** Audio clock: ms of audio processed so far. */
  #clockMs = 0;
  #speechMs = 0;
  #silenceMs = 0;
  #onsetMs = 0;
  #lastSpeechEndMs = 0;
  /** Audio-clock ms where the last voice-level energy block ended. */
  #lastVoiceMs = 0;
  /** Running RMS of non-speech windows (the line's noise floor). */
  #noiseRms = 0;
  #windowMs = 0;
  #paused = false;
  /** Probabilities of the last few non-speech windows (for backdating an onset). */
  #recent: number[] = [];
  /** Agent talking or about to: turns need bargeInMinMs. */
  agentActive = false;
  // Pre-roll ring (windows) and the current utterance's windows.
  #preRoll: Float32Array[] = [];
  #preRollLimit: number;
  #audio: Float32Array[] = [];
  #audioTrailingMs = 0;

  constructor(options: TurnDetectorOptions, events: TurnDetectorEvents) {
    this.#o = { preRollMs: 300, tailMs: 200, threshold: 0.5, releaseThreshold: 0.35, ...options };
    this.#on = events;
    this.#preRollLimit = this.#o.preRollMs;
  }

  get state(): State {
    return this.#state;
  }

  get clockMs(): number {
    return this.#clockMs;
  }

  /** Feed one VAD window and its probability. */
  push(window: Float32Array, prob: number): void {
    const ms = (window.length / this.#o.sampleRate) * 1000;
    const startMs = this.#clockMs;
    this.#clockMs += ms;
    const speech = prob >= (this.#inSpeech ? this.#o.releaseThreshold : this.#o.threshold);
    this.#inSpeech = speech;
    this.#windowMs = ms;
    if (speech) this.#trackVoice(window, startMs);
    else this.#noiseRms = this.#noiseRms === 0 ? rms(window, 0, window.length) : this.#noiseRms * 0.95 + rms(window, 0, window.length) * 0.05;

    if (this.#state === 'idle') {
      if (!speech) {
        this.#remember(window, ms);
        this.#recent.push(prob);
        if (this.#recent.length > ONSET_LOOKBACK) this.#recent.shift();
        return;
      }
      this.#state = 'candidate';
      // VAD probability ramps up over the first windows of a word: the caller started speaking where the ramp
      // began, so the onset is backdated over the contiguous run of "soft" windows just before.
      let soft = 0;
      while (soft < this.#recent.length && this.#recent[this.#recent.length - 1 - soft]! >= SOFT_ONSET) soft++;
      this.#recent = [];
      this.#onsetMs = startMs - soft * ms;
      this.#speechMs = 0;
      this.#silenceMs = 0;
      this.#audio = [...this.#preRoll];
      this.#preRoll = [];
      this.#audioTrailingMs = 0;
      this.#on.onset?.(startMs);
    }

    this.#audio.push(window);
    if (speech) {
      this.#speechMs += ms;
      this.#silenceMs = 0;
      this.#lastSpeechEndMs = this.#clockMs;
      this.#audioTrailingMs = 0;
      if (this.#paused) {
        this.#paused = false;
        this.#on.resume?.();
      }
    } else {
      this.#silenceMs += ms;
      this.#audioTrailingMs += ms;
    }

    if (this.#state === 'candidate') {
      const needed = this.agentActive ? this.#o.bargeInMinMs : this.#o.minSpeechMs;
      // "Speaking for ≥ N ms" is the span since the onset, as long as most of it is voiced: the short dips
      // between syllables are part of speaking, and counting only voiced windows would add their length to
      // every barge-in.
      const spanMs = this.#lastSpeechEndMs - this.#onsetMs;
      if (spanMs >= needed && this.#speechMs >= needed * VOICED_SHARE) {
        this.#state = 'turn';
        this.#on.turnStart?.({ atMs: this.#clockMs, onsetMs: this.#onsetMs, speechMs: this.#speechMs, agentActive: this.agentActive });
      } else if (this.#silenceMs >= Math.min(this.#o.silenceMs, 300)) {
        const speechMs = this.#speechMs;
        this.#reset();
        this.#on.discard?.({ speechMs });
        return;
      }
    }

    if (this.#state === 'turn') {
      const turnMs = this.#clockMs - this.#onsetMs;
      const silentMs = speech ? 0 : this.#clockMs - this.#speechEndMs();
      if (silentMs >= this.#o.silenceMs || turnMs >= this.#o.maxTurnMs) {
        this.#end(silentMs >= this.#o.silenceMs ? 'silence' : 'max-length');
        return;
      }
      if (!this.#paused && !speech && silentMs >= this.#o.speculativeMs) {
        this.#paused = true;
        this.#on.pause?.(this.#utterance(false));
      }
      if (!speech && this.#state === 'turn') this.#on.quiet?.({ silenceMs: silentMs });
    }
  }

  /** End the current turn now (a turn model judged it complete). False when there is no turn in silence to end. */
  endNow(reason: TurnEndReason = 'turn-model'): boolean {
    if (this.#state !== 'turn' || this.#inSpeech) return false;
    this.#end(reason);
    return true;
  }

  /** The current turn's audio so far, trailing silence included (what a turn model judges). */
  turnAudio(): Float32Array | null {
    return this.#state === 'turn' ? concat(this.#audio) : null;
  }

  #end(endedBy: TurnEndReason): void {
    const u = this.#utterance(endedBy === 'max-length');
    this.#reset();
    this.#on.end?.(u, { endedBy });
  }

  /** Note where voice-level energy last ended inside a speech window. */
  #trackVoice(window: Float32Array, startMs: number): void {
    const block = Math.max(1, Math.round((this.#o.sampleRate * END_BLOCK_MS) / 1000));
    const level = Math.max(VOICE_RMS_FLOOR, this.#noiseRms * NOISE_FACTOR);
    for (let from = Math.floor((window.length - 1) / block) * block; from >= 0; from -= block) {
      const end = Math.min(window.length, from + block);
      if (rms(window, from, end) >= level) {
        this.#lastVoiceMs = startMs + (end / this.#o.sampleRate) * 1000;
        return;
      }
    }
  }

  /** Where the caller stopped: the last voiced block, no more than the VAD's hangover before its edge. */
  #speechEndMs(): number {
    const earliest = this.#lastSpeechEndMs - END_REFINE_WINDOWS * this.#windowMs;
    return Math.min(this.#lastSpeechEndMs, Math.max(this.#lastVoiceMs, earliest, this.#onsetMs));
  }

  #remember(window: Float32Array, ms: number): void {
    this.#preRoll.push(window);
    let total = this.#preRoll.length * ms;
    while (total > this.#preRollLimit && this.#preRoll.length > 0) {
      this.#preRoll.shift();
      total -= ms;
    }
  }

  /** The utterance audio: pre-roll + speech, trailing silence cut to tailMs. */
  #utterance(truncated: boolean): Utterance {
    const windowMs = this.#audio.length ? (this.#audio[0]!.length / this.#o.sampleRate) * 1000 : 0;
    const dropWindows = windowMs ? Math.max(0, Math.floor((this.#audioTrailingMs - this.#o.tailMs) / windowMs)) : 0;
    const samples = concat(this.#audio.slice(0, this.#audio.length - dropWindows));
    return { samples, sampleRate: this.#o.sampleRate, speechStartMs: this.#onsetMs, speechEndMs: this.#speechEndMs(), speechMs: this.#speechMs, truncated };
  }

  #reset(): void {
    this.#state = 'idle';
    this.#speechMs = 0;
    this.#silenceMs = 0;
    this.#paused = false;
    this.#audio = [];
    this.#audioTrailingMs = 0;
  }

  /** Forget the current candidate/turn (e.g. the call ended). */
  reset(): void {
    this.#reset();
    this.#recent = [];
    this.#preRoll = [];
    this.#inSpeech = false;
  }
}

function rms(x: Float32Array, from: number, to: number): number {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i]! * x[i]!;
  return to > from ? Math.sqrt(e / (to - from)) : 0;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, w) => n + w.length, 0));
  let off = 0;
  for (const w of parts) {
    out.set(w, off);
    off += w.length;
  }
  return out;
}
