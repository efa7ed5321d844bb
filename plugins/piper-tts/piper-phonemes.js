// Text -> phonemes -> phoneme ids exactly as Piper does it (rhasspy/piper-phonemize src/phonemize.cpp and
// src/phoneme_ids.cpp, which Piper's C++ runtime and its training data preparation both use):
//  - espeak-ng gives IPA per clause; piper-phonemize decomposes it (NFD), drops "(lang)" switch flags, applies
//    the voice's phoneme_map, and after each clause adds its punctuation: "." "?" "!" alone, and "," ":" ";"
//    followed by a space;
//  - ids = BOS, PAD, then for each phoneme its id(s) and PAD, then EOS ("^", "_", "$"). A phoneme missing from
//    phoneme_id_map is skipped.
// espeak-ng here is the WASM build on npm (`phonemizer`), which gives one line per clause without the
// punctuation; so clauses are split here, at the same punctuation espeak-ng splits on, and phonemized one by one.

export const PAD = '_';
export const BOS = '^';
export const EOS = '$';

const CLAUSE = /[^,;:.!?…]+(?:[,;:.!?…]+|$)/g;
const TERMINATOR = { '.': ['.'], '?': ['?'], '!': ['!'], ',': [',', ' '], ':': [':', ' '], ';': [';', ' '], '…': [',', ' '] };

/** Clauses of one sentence with the punctuation Piper puts after each (espeak-ng's clause terminators). */
export function clauses(sentence) {
  const out = [];
  for (const m of sentence.matchAll(CLAUSE)) {
    const piece = m[0];
    const punct = /[,;:.!?…]+$/.exec(piece)?.[0] ?? '';
    const text = piece.slice(0, piece.length - punct.length).trim();
    if (!/[\p{L}\p{N}]/u.test(text)) continue;
    // "?!" or ",." : the first sentence end wins over clause marks.
    const last = [...punct].find((c) => '.?!'.includes(c)) ?? punct[0];
    out.push({ text, after: last ? TERMINATOR[last] : [] });
  }
  return out;
}

/** espeak-ng IPA -> Piper phonemes: NFD codepoints, no "(en)" flags, phoneme_map applied. */
export function ipaToPhonemes(ipa, phonemeMap = {}) {
  const out = [];
  let inFlag = false;
  for (const cp of ipa.normalize('NFD')) {
    if (inFlag) {
      if (cp === ')') inFlag = false;
      continue;
    }
    if (cp === '(') {
      inFlag = true;
      continue;
    }
    const mapped = phonemeMap[cp];
    if (mapped) out.push(...mapped);
    else out.push(cp);
  }
  return out;
}

/**
 * The phonemes of one sentence, as piper-phonemize's phonemize_eSpeak returns them.
 * `phonemize(text, voice)` is phonemizer's: IPA lines, one per clause.
 */
export async function sentencePhonemes(phonemize, sentence, voice, phonemeMap = {}) {
  const phonemes = [];
  for (const { text, after } of clauses(sentence)) {
    const lines = await phonemize(text, voice);
    phonemes.push(...ipaToPhonemes(lines.join(' '), phonemeMap), ...after);
  }
  return phonemes;
}

/** piper-phonemize phonemes_to_ids() with interspersePad, addBos, addEos. Returns ids and the phonemes it had to skip. */
export function phonemesToIds(phonemes, idMap) {
  const ids = [...idMap[BOS], ...idMap[PAD]];
  const missing = [];
  for (const p of phonemes) {
    const mapped = idMap[p];
    if (!mapped) {
      missing.push(p);
      continue;
    }
    ids.push(...mapped, ...idMap[PAD]);
  }
  ids.push(...idMap[EOS]);
  return { ids, missing };
}
