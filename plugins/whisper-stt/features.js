// Whisper's log-mel input, computed a few frames at a time so the thread never blocks for long.
//
// transformers.js computes the 30 s log-mel window (3000 frames) in one synchronous stretch (~180 ms on a slow
// 2-core machine), most of it over zero padding. During that time an abort cannot even be noticed. The plugin
// kit's log-mel (kit/log-mel.js, shared with smart-turn) transforms only the frames that touch audio, 50 at a
// time with a yield in between, with the maths of transformers.js's WhisperFeatureExtractor exactly;
// test/plugins/whisper-stt.test.ts checks the result against transformers.js.

/**
 * A log-mel function for one feature extractor. `features(samples, isStopped)` resolves to a [1, n_mels, frames]
 * Tensor for up to 30 s of 16 kHz audio, or to null when `isStopped()` turned true on the way. `kit` is the
 * plugin kit (`await ctx.import('parley:kit')`).
 */
export function whisperFeatures(featureExtractor, Tensor, kit) {
  const cfg = featureExtractor.config;
  const compute = kit.logMelSpectrogram({
    nFft: cfg.n_fft,
    hop: cfg.hop_length,
    window: featureExtractor.window,
    melFilters: cfg.mel_filters,
    windowSamples: cfg.n_samples,
    frames: cfg.nb_max_frames,
  });
  return async function features(samples, isStopped = () => false) {
    const logMel = await compute(samples, isStopped);
    if (logMel === null) return null;
    return new Tensor('float32', logMel, [1, logMel.length / cfg.nb_max_frames, cfg.nb_max_frames]);
  };
}
