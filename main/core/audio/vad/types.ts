/** Voice activity detection on 16 kHz audio, one stream per call (state is never shared between calls). */
export interface VadStream {
  /** Samples per decision window (512 at 16 kHz = 32 ms for Silero). */
  readonly windowSamples: number;
  /** Speech probability (0..1) for one window of exactly `windowSamples` samples. Calls must be sequential. */
  process(window: Float32Array): Promise<number> | number;
  reset(): void;
}

export interface VadEngine {
  readonly name: 'silero' | 'energy';
  readonly windowSamples: number;
  createStream(): VadStream;
  dispose(): Promise<void>;
}

export const VAD_SAMPLE_RATE = 16000;

export function rms(samples: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

export function dbfs(samples: Float32Array): number {
  return 20 * Math.log10(Math.max(1e-9, rms(samples)));
}
