// Whisper's log-mel spectrogram, shared by the plugins that feed a Whisper encoder (whisper-stt, smart-turn), computed
// a few frames at a time with a yield to the event loop in between, so an abort is noticed within a slice.
//
// The maths is WhisperFeatureExtractor's (transformers and transformers.js alike): the signal zero-padded to its
// window, reflect-padded by n_fft/2 at both ends, periodic Hann, power spectrum, Slaney mel filters, log10 with a
// floor of 1e-10, the last STFT frame dropped, clamp to (max - 8), (x + 4) / 4.
//
// Two modes. `allFrames: false` (whisper-stt): a frame whose window lies wholly in the trailing zero padding has zero
// power, so it gets the floor directly instead of a transform — most of a 30 s window is padding. `allFrames: true`
// (smart-turn): every frame is transformed, because its input is normalised after padding, so the padding is not
// zero (and it sits at the start).

const FRAMES_PER_SLICE = 50;
export const MEL_FLOOR = 1e-10;

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

/** The periodic Hann window of length n (torch.hann_window, numpy hanning(n + 1)[:-1]). */
export function periodicHann(n) {
  return Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
}

const hzToMel = (f) => (f >= 1000 ? 15 + Math.log(f / 1000) * (27 / Math.log(6.4)) : (3 * f) / 200);
const melToHz = (m) => (m >= 15 ? 1000 * Math.exp((Math.log(6.4) / 27) * (m - 15)) : (200 * m) / 3);

/** Slaney-scale, Slaney-normalised triangular mel filters as [nMels][nFft/2 + 1] (Whisper's: 80 mels, 0–8 kHz). */
export function slaneyMelFilters({ nMels, nFft, sampleRate, fMin = 0, fMax = sampleRate / 2 }) {
  const bins = Math.floor(nFft / 2) + 1;
  const lo = hzToMel(fMin);
  const hi = hzToMel(fMax);
  const edges = Array.from({ length: nMels + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (nMels + 1)));
  const fftHz = Array.from({ length: bins }, (_, k) => (Math.floor(sampleRate / 2) * k) / (bins - 1));
  return Array.from({ length: nMels }, (_, m) => {
    const enorm = 2 / (edges[m + 2] - edges[m]);
    return fftHz.map((f) => {
      const down = (f - edges[m]) / (edges[m + 1] - edges[m]);
      const up = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
      return Math.max(0, Math.min(down, up)) * enorm;
    });
  });
}

/**
 * A log-mel function for one configuration: `compute(samples, isStopped)` resolves to a Float32Array laid out
 * [n_mels][frames] for `samples` zero-padded (or cut) to `windowSamples`, or to null when `isStopped()` turned true
 * on the way. `melFilters` is [n_mels][n_fft/2 + 1] (the transposed layout is accepted too); `frames` is how many
 * STFT frames are kept (windowSamples / hop: the last of the windowSamples / hop + 1 is dropped).
 */
export function logMelSpectrogram({ nFft, hop, window, melFilters, windowSamples, frames = Math.floor(windowSamples / hop), allFrames = false }) {
  const bins = Math.floor(nFft / 2) + 1;
  let filters = melFilters;
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

  return async function compute(samples, isStopped = () => false) {
    const length = Math.min(samples.length, windowSamples);
    // The analysed signal: the audio zero-padded to the window, reflect-padded by n_fft/2 at both ends.
    const last = windowSamples - 1;
    const at = (padded) => {
      let i = padded - half;
      if (i < 0) i = -i;
      else if (i > last) i = 2 * last - i;
      return i < length ? samples[i] : 0;
    };
    // Frames whose window touches audio (near the window's end the right reflection folds audio back in: all).
    const needed = allFrames || length + nFft + hop >= windowSamples ? frames : Math.min(frames, Math.ceil((length + half) / hop) + 1);
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
    return logMel;
  };
}
