// Whisper's log-mel input, computed a few frames at a time so the thread never blocks for long.
//
// transformers.js computes the 30 s log-mel window (3000 frames) in one synchronous stretch (~180 ms on a slow
// 2-core machine), most of it over zero padding. During that time an abort cannot even be noticed. Here only the
// frames that touch audio are transformed, 50 at a time with a yield to the event loop in between; a frame over
// pure padding has zero power, so it gets Whisper's floor value directly. The maths follows transformers.js's
// WhisperFeatureExtractor exactly (periodic Hann window, reflect padding by n_fft/2, power spectrum, the
// extractor's own mel filters, log10, floor at max - 8, (x + 4) / 4); test/plugins/whisper-stt.test.ts checks
// the result against transformers.js.

const FRAMES_PER_SLICE = 50;
const MEL_FLOOR = 1e-10;

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

/** Smallest factors first (4 before 2), so a 400-point transform is 4·4·5·5. */
function factorize(n) {
  const factors = [];
  for (const p of [4, 2, 3, 5]) {
    while (n % p === 0) {
      factors.push(p);
      n /= p;
    }
  }
  for (let p = 7; n > 1; p += 2) {
    while (n % p === 0) {
      factors.push(p);
      n /= p;
    }
  }
  return factors;
}

/** Power spectrum (bins 0..n/2) of a real frame, by a mixed-radix decimation-in-time FFT. */
function makePowerSpectrum(n) {
  const factors = factorize(n);
  const cos = Float64Array.from({ length: n }, (_, k) => Math.cos((2 * Math.PI * k) / n));
  const sin = Float64Array.from({ length: n }, (_, k) => -Math.sin((2 * Math.PI * k) / n));
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const tRe = new Float64Array(8);
  const tIm = new Float64Array(8);
  const maxP = Math.max(...factors);
  const sRe = new Float64Array(maxP);
  const sIm = new Float64Array(maxP);

  // Transform input[off + j*stride] (j < size) into re/im[out .. out+size).
  function fft(input, off, stride, out, size, level) {
    if (size === 1) {
      re[out] = input[off];
      im[out] = 0;
      return;
    }
    const p = factors[level];
    const m = size / p;
    for (let q = 0; q < p; q++) fft(input, off + q * stride, stride * p, out + q * m, m, level + 1);
    const step = n / size;
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < p; q++) {
        const idx = out + q * m + k;
        const w = (q * k * step) % n;
        tRe[q] = re[idx] * cos[w] - im[idx] * sin[w];
        tIm[q] = re[idx] * sin[w] + im[idx] * cos[w];
      }
      for (let s = 0; s < p; s++) {
        let sumRe = 0;
        let sumIm = 0;
        for (let q = 0; q < p; q++) {
          const w = (((q * s) % p) * (n / p)) % n;
          sumRe += tRe[q] * cos[w] - tIm[q] * sin[w];
          sumIm += tRe[q] * sin[w] + tIm[q] * cos[w];
        }
        sRe[s] = sumRe;
        sIm[s] = sumIm;
      }
      for (let s = 0; s < p; s++) {
        re[out + s * m + k] = sRe[s];
        im[out + s * m + k] = sIm[s];
      }
    }
  }

  const bins = Math.floor(n / 2) + 1;
  return (frame, power) => {
    fft(frame, 0, 1, 0, n, 0);
    for (let k = 0; k < bins; k++) power[k] = re[k] * re[k] + im[k] * im[k];
  };
}

/**
 * A log-mel function for one feature extractor. `features(samples, isStopped)` resolves to a [1, n_mels, frames]
 * Tensor for up to 30 s of 16 kHz audio, or to null when `isStopped()` turned true on the way.
 */
export function whisperFeatures(featureExtractor, Tensor) {
  const cfg = featureExtractor.config;
  const nFft = cfg.n_fft;
  const hop = cfg.hop_length;
  const frames = cfg.nb_max_frames;
  const windowSamples = cfg.n_samples;
  const window = featureExtractor.window;
  let filters = cfg.mel_filters;
  const bins = Math.floor(nFft / 2) + 1;
  // transformers.js keeps them as [n_mels][bins]; accept the transposed layout too.
  if (filters.length === bins && filters[0].length !== bins) filters = filters[0].map((_, m) => filters.map((row) => row[m]));
  const mels = filters.length;
  // Each filter is non-zero on a short run of bins only.
  const ranges = filters.map((row) => {
    let lo = row.findIndex((v) => v !== 0);
    if (lo < 0) lo = 0;
    let hi = row.length;
    while (hi > lo && row[hi - 1] === 0) hi--;
    return [lo, hi, Float64Array.from(row)];
  });
  const powerSpectrum = makePowerSpectrum(nFft);
  const half = Math.floor(nFft / 2);

  return async function features(samples, isStopped = () => false) {
    const length = Math.min(samples.length, windowSamples);
    // The signal transformers.js analyses: the audio zero-padded to 30 s, reflect-padded by n_fft/2 at both ends.
    const last = windowSamples - 1;
    const at = (padded) => {
      let i = padded - half;
      if (i < 0) i = -i;
      else if (i > last) i = 2 * last - i;
      return i < length ? samples[i] : 0;
    };
    // Frames whose window touches audio (near 30 s the right reflection folds audio back in: compute all).
    const needed = length + nFft + hop >= windowSamples ? frames : Math.min(frames, Math.ceil((length + half) / hop) + 1);
    const logMel = new Float32Array(mels * frames).fill(Math.log10(MEL_FLOOR));
    const frame = new Float64Array(nFft);
    const power = new Float64Array(bins);
    let logMax = Math.log10(MEL_FLOOR);
    for (let f = 0; f < needed; f++) {
      if (f % FRAMES_PER_SLICE === 0 && f > 0) {
        await yieldToLoop();
        if (isStopped()) return null;
      }
      const start = f * hop;
      for (let j = 0; j < nFft; j++) frame[j] = Math.fround(at(start + j)) * window[j];
      powerSpectrum(frame, power);
      for (let m = 0; m < mels; m++) {
        const [lo, hi, row] = ranges[m];
        let sum = 0;
        for (let k = lo; k < hi; k++) sum += row[k] * Math.fround(power[k]);
        const v = Math.log10(Math.max(MEL_FLOOR, Math.fround(sum)));
        logMel[m * frames + f] = v;
        if (v > logMax) logMax = v;
      }
    }
    if (isStopped()) return null;
    const floor = logMax - 8;
    for (let i = 0; i < logMel.length; i++) logMel[i] = (Math.max(logMel[i], floor) + 4) / 4;
    return new Tensor('float32', logMel, [1, mels, frames]);
  };
}
