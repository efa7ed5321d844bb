/**
 * Hearing: turns one call's inbound audio into what the conversation acts on — the caller started a turn, and
 * the caller's turn is over (with its audio). It owns voice activity detection (16 kHz windows through the
 * VAD, in order, off the socket's event loop turn), the TurnDetector, and speculative speech-to-text: after a
 * short pause the utterance so far is transcribed, and if no speech follows, that transcript is the turn's.
 *
 * Replies, history and interruption are the Dialogue's; this unit never speaks.
 */
import type { VadStream } from '../audio/vad/types.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Lease } from '../plugins/registry.ts';
import { INBOUND_RATE } from '../twilio/media-stream.ts';
import type { ConversationSettings } from './conversation-settings.ts';
import { guardPromise, linkAbort } from './guard.ts';
import { TurnDetector, type Utterance } from './turn-detector.ts';

export type HearingSettings = Pick<ConversationSettings, 'silenceMs' | 'minSpeechMs' | 'bargeInMinMs' | 'maxTurnMs' | 'speculativeMs' | 'pluginTimeoutMs'>;

export interface HearingOptions {
  vad: VadStream;
  stt: Lease<'stt'>;
  settings: HearingSettings;
  log: Logger;
  /** Aborted when the call ends: cancels transcription in flight. */
  signal: AbortSignal;
  now?: () => number;
}

export interface HearingEvents {
  /** The caller began a real turn (long enough not to be a cough or an "mm-hm" over the agent). */
  turnStart(info: { speechMs: number }): void;
  /** The caller's turn is over. */
  end(utterance: Utterance): void;
}

interface Speculation {
  speechEndMs: number;
  controller: AbortController;
  promise: Promise<{ text: string }>;
}

export class Hearing {
  readonly #o: HearingOptions;
  readonly #now: () => number;
  readonly #detector: TurnDetector;
  #buffer = new Float32Array(0);
  #chain: Promise<void> = Promise.resolve();
  #vadFailed = false;
  #spec: Speculation | null = null;
  #closed = false;

  constructor(options: HearingOptions, on: HearingEvents) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    const s = options.settings;
    this.#detector = new TurnDetector(
      { sampleRate: INBOUND_RATE, silenceMs: s.silenceMs, minSpeechMs: s.minSpeechMs, bargeInMinMs: s.bargeInMinMs, maxTurnMs: s.maxTurnMs, speculativeMs: Math.min(s.speculativeMs, s.silenceMs) },
      {
        turnStart: (info) => {
          options.log.debug('caller turn started', { speechMs: info.speechMs });
          on.turnStart(info);
        },
        pause: (u) => this.#speculate(u),
        resume: () => this.#dropSpeculation(),
        end: (u) => on.end(u),
        discard: (info) => options.log.debug('ignored a short sound', { speechMs: Math.round(info.speechMs) }),
      },
    );
  }

  /** The agent is talking or about to: a turn then needs `bargeInMinMs` of speech, not `minSpeechMs`. */
  set agentActive(active: boolean) {
    this.#detector.agentActive = active;
  }

  /** Ms of the caller's audio heard so far, on the call's own audio clock. */
  get clockMs(): number {
    return this.#detector.clockMs;
  }

  /** 16 kHz audio from the caller, in order. VAD windows are queued so they run one at a time. */
  hear(samples: Float32Array): void {
    if (this.#closed) return;
    const buf = new Float32Array(this.#buffer.length + samples.length);
    buf.set(this.#buffer);
    buf.set(samples, this.#buffer.length);
    const size = this.#o.vad.windowSamples;
    let off = 0;
    while (buf.length - off >= size) {
      const window = buf.slice(off, off + size);
      off += size;
      this.#chain = this.#chain.then(() => this.#window(window));
    }
    this.#buffer = buf.slice(off);
  }

  async #window(window: Float32Array): Promise<void> {
    if (this.#closed) return;
    let prob: number;
    try {
      prob = await this.#o.vad.process(window);
    } catch (err) {
      if (!this.#vadFailed) this.#o.log.error('voice activity detection failed; treating audio as silence', { error: errorMessage(err) });
      this.#vadFailed = true;
      prob = 0;
    }
    if (!this.#closed) this.#detector.push(window, prob);
  }

  #speculate(u: Utterance): void {
    if (this.#closed || this.#spec) return;
    const controller = new AbortController();
    const promise = this.#o.stt.instance.transcribe({ samples: u.samples, sampleRate: INBOUND_RATE }, { signal: controller.signal });
    promise.catch(() => {});
    this.#spec = { speechEndMs: u.speechEndMs, controller, promise };
  }

  #dropSpeculation(): void {
    this.#spec?.controller.abort();
    this.#spec = null;
  }

  /**
   * What the caller said in a finished turn. Uses the speculative transcript when no speech came after the
   * pause that started it; otherwise transcribes now. Cancelled only by the call ending.
   */
  async transcribe(u: Utterance): Promise<{ text: string; sttMs: number }> {
    const spec = this.#spec;
    this.#spec = null;
    const started = this.#now();
    const { stt, settings, signal } = this.#o;
    const guard = { ms: settings.pluginTimeoutMs, plugin: stt.name, what: 'transcribe' };
    if (spec && spec.speechEndMs === u.speechEndMs) {
      const r = await guardPromise(spec.promise, { ...guard, controller: linkAbort(signal, spec.controller) });
      return { text: r.text, sttMs: this.#now() - started };
    }
    spec?.controller.abort();
    const controller = linkAbort(signal, new AbortController());
    const r = await guardPromise(stt.instance.transcribe({ samples: u.samples, sampleRate: INBOUND_RATE }, { signal: controller.signal }), { ...guard, controller });
    return { text: r.text, sttMs: this.#now() - started };
  }

  /** The call is over: stop listening, cancel speculation. */
  close(): void {
    this.#closed = true;
    this.#spec?.controller.abort();
    this.#spec = null;
    this.#detector.reset();
  }
}
