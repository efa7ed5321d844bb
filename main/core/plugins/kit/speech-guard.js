// Speech models invent text on silence and noise (Whisper: "Thank you for watching."; any decoder: a phrase in a
// loop), so audio that is not speech-like never reaches the model, and what comes back is cleaned of known
// hallucinations. Shared by the STT plugins (whisper-stt, moonshine-stt). Pure functions, no runtime.

const FRAME_MS = 20;
/** Zero-crossing rate (per sample) above which a loud frame counts as noise: white noise sits near 0.5. */
const MAX_SPEECH_ZCR = 0.3;

/**
 * Is there enough speech-like sound to be worth transcribing? A 20 ms frame counts when it is loud enough (RMS
 * at least `minRms`) and not noise-like (zero-crossing rate at most 0.3: vowels are low, hiss is high).
 * @returns {{ speech: boolean, reason: string, speechMs: number, rms: number }}
 */
export function speechCheck(samples, sampleRate, { minRms = 0.01, minSpeechMs = 200 } = {}) {
  const frame = Math.max(1, Math.round((sampleRate * FRAME_MS) / 1000));
  let total = 0;
  let speechFrames = 0;
  for (let start = 0; start + frame <= samples.length; start += frame) {
    let mean = 0;
    for (let i = start; i < start + frame; i++) mean += samples[i];
    mean /= frame;
    let energy = 0;
    let crossings = 0;
    let prev = samples[start] - mean;
    for (let i = start; i < start + frame; i++) {
      const x = samples[i] - mean;
      energy += x * x;
      if ((x >= 0) !== (prev >= 0)) crossings++;
      prev = x;
    }
    total += energy;
    const rms = Math.sqrt(energy / frame);
    if (rms >= minRms && crossings / frame <= MAX_SPEECH_ZCR) speechFrames++;
  }
  const rms = samples.length > 0 ? Math.sqrt(total / samples.length) : 0;
  const speechMs = speechFrames * FRAME_MS;
  const durationMs = (samples.length / sampleRate) * 1000;
  if (durationMs < minSpeechMs) return { speech: false, reason: 'too short', speechMs, rms };
  if (speechMs < minSpeechMs) return { speech: false, reason: rms < minRms ? 'silence' : 'noise', speechMs, rms };
  return { speech: true, reason: 'speech', speechMs, rms };
}

// Whole-utterance hallucinations: compared after lower-casing and dropping punctuation.
const WHOLE = [
  'you',
  'thank you for watching',
  'thanks for watching',
  'thank you so much for watching',
  'thank you very much for watching',
  'thank you for watching and please subscribe',
  'thanks for watching and please subscribe',
  'please subscribe',
  'please like and subscribe',
  'like and subscribe',
  'subscribe to my channel',
  'please subscribe to my channel',
  'see you in the next video',
  'see you next time',
];

// Credit lines from subtitle files Whisper was trained on, wherever they appear.
const CREDITS = [
  /[^.!?]*\bamara\.org\b[^.!?]*[.!?]?/gi,
  /[^.!?]*\b(?:subtitles|subtitled|captions|captioned|captioning|transcription|transcribed|translated|translation|subs)\s+(?:are\s+)?(?:made\s+|provided\s+|done\s+|created\s+)?by\b[^.!?]*[.!?]?/gi,
  /[^.!?]*\bcastingwords\b[^.!?]*[.!?]?/gi,
];

// Non-speech annotations: [BLANK_AUDIO], [Music], (music), (upbeat music), ♪ la la ♪, *coughs*.
const ANNOTATIONS = [/\[[^\]]*\]/g, /\([^)]*\)/g, /♪[^♪]*♪?/g, /\*[^*]+\*/g, /[♪♫]/g];

function normalize(text) {
  return text.toLowerCase().replace(/[^\p{L}\p{N}\s']/gu, ' ').replace(/\s+/g, ' ').trim();
}

/** Collapse a phrase of 1-8 words repeated back to back (3+ times, 4+ for one word) into one occurrence. */
function collapseLoops(text) {
  const words = text.split(/\s+/).filter(Boolean);
  const key = (w) => w.toLowerCase().replace(/[^\p{L}\p{N}']/gu, '');
  let changed = false;
  for (let size = 1; size <= 8; size++) {
    const minRepeats = size === 1 ? 4 : 3;
    for (let start = 0; start + size * minRepeats <= words.length; start++) {
      const phrase = words.slice(start, start + size).map(key).join(' ');
      if (phrase === '') continue;
      let repeats = 1;
      while (start + (repeats + 1) * size <= words.length && words.slice(start + repeats * size, start + (repeats + 1) * size).map(key).join(' ') === phrase) repeats++;
      if (repeats >= minRepeats) {
        // Keep the last copy, which carries the sentence's final punctuation.
        words.splice(start, (repeats - 1) * size);
        changed = true;
      }
    }
  }
  return changed ? words.join(' ') : text;
}

/**
 * Remove Whisper's known hallucinations from a transcript.
 * @returns {{ text: string, removed: string[] }} the cleaned text and what was taken out (for logs).
 */
export function cleanTranscript(raw) {
  const removed = [];
  let text = String(raw ?? '');
  for (const pattern of [...ANNOTATIONS, ...CREDITS]) {
    text = text.replace(pattern, (m) => {
      if (m.trim()) removed.push(m.trim());
      return ' ';
    });
  }
  text = text.replace(/\s+/g, ' ').trim();
  const collapsed = collapseLoops(text);
  if (collapsed !== text) {
    removed.push('repeated phrase');
    text = collapsed;
  }
  const norm = normalize(text);
  if (norm === '' || WHOLE.includes(norm)) {
    if (norm !== '') removed.push(text);
    return { text: '', removed };
  }
  return { text: text.replace(/^[\s,;:-]+/, '').trim(), removed };
}
