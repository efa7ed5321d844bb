/**
 * Energy VAD: the fallback when Silero can't load (or by setting). Speech is energy well above an adaptive
 * noise floor and above an absolute minimum, so line hiss and a quiet room don't count.
 */
import { dbfs, type VadEngine, type VadStream } from './types.ts';

export interface EnergyVadOptions {
  /** Absolute floor: quieter windows are never speech. */
  minDbfs?: number;
  /** How far above the tracked noise floor a window must be. */
  marginDb?: number;
  windowSamples?: number;
}

class EnergyStream implements VadStream {
  readonly windowSamples: number;
  readonly #minDb: number;
  readonly #margin: number;
  #floor = -70;

  constructor(opts: Required<EnergyVadOptions>) {
    this.windowSamples = opts.windowSamples;
    this.#minDb = opts.minDbfs;
    this.#margin = opts.marginDb;
  }

  process(window: Float32Array): number {
    const db = dbfs(window);
    // The floor falls fast and rises slowly, so it follows background noise, not speech.
    this.#floor = db < this.#floor ? 0.7 * this.#floor + 0.3 * db : 0.97 * this.#floor + 0.03 * db;
    const threshold = Math.max(this.#minDb, this.#floor + this.#margin);
    // A soft decision: ~0.5 at the threshold, saturating 6 dB either side.
    return Math.min(1, Math.max(0, 0.5 + (db - threshold) / 12));
  }

  reset(): void {
    this.#floor = -70;
  }
}

export function createEnergyVad(options: EnergyVadOptions = {}): VadEngine {
  const opts = { minDbfs: options.minDbfs ?? -45, marginDb: options.marginDb ?? 9, windowSamples: options.windowSamples ?? 512 };
  return {
    name: 'energy',
    windowSamples: opts.windowSamples,
    createStream: () => new EnergyStream(opts),
    dispose: async () => {},
  };
}
