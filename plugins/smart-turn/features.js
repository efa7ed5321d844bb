// Smart Turn v3's input, exactly as pipecat computes it (local_smart_turn_v3.py + _whisper_features.py): the last
// 8 s of 16 kHz audio, zero-padded at the START when shorter; zero-mean / unit-variance over all 128,000 samples,
// the padding included (eps 1e-7, population variance, float32); then Whisper's log-mel (n_fft 400, hop 160,
// 80 Slaney mels 0–8 kHz) over every one of the 800 frames kept. The padding is no longer zero once normalised,
// so no frame may be skipped: the kit's log-mel runs in its all-frames mode.

export const SAMPLE_RATE = 16000;
export const WINDOW_SAMPLES = 8 * SAMPLE_RATE;
export const N_MELS = 80;
export const N_FFT = 400;
export const HOP = 160;
export const FRAMES = WINDOW_SAMPLES / HOP; // 800: the 801st STFT frame is dropped
const NORM_EPS = 1e-7;

/** The 128,000 samples the model hears: the last 8 s, zero-padded in front, normalised. */
export function smartTurnWindow(samples) {
  const x = new Float32Array(WINDOW_SAMPLES);
  const tail = samples.subarray(Math.max(0, samples.length - WINDOW_SAMPLES));
  x.set(tail, WINDOW_SAMPLES - tail.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const mean = sum / x.length;
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += (x[i] - mean) * (x[i] - mean);
  const std = Math.sqrt(sq / x.length + NORM_EPS);
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / std;
  return x;
}

/**
 * A features function on the plugin kit's log-mel: `features(samples, isStopped)` → Float32Array laid out
 * [80][800] (the model's `input_features` [1, 80, 800]), or null when `isStopped()` turned true on the way.
 */
export function smartTurnFeatures({ logMelSpectrogram, periodicHann, slaneyMelFilters }) {
  const logMel = logMelSpectrogram({
    nFft: N_FFT,
    hop: HOP,
    window: periodicHann(N_FFT),
    melFilters: slaneyMelFilters({ nMels: N_MELS, nFft: N_FFT, sampleRate: SAMPLE_RATE }),
    windowSamples: WINDOW_SAMPLES,
    frames: FRAMES,
    allFrames: true,
  });
  return (samples, isStopped) => logMel(smartTurnWindow(samples), isStopped);
}
