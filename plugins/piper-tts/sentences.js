// Splitting a reply into the pieces a TTS model speaks one at a time. Each piece is synthesized on its own, so the
// caller hears the first one while the rest are still being made; pieces end where a speaker would pause anyway.
//
// This file is copied verbatim into every TTS plugin that needs it (a plugin folder may not import from outside
// itself); test/plugins/*-tts.test.ts checks the copies are identical.

// Words whose "." is not a full stop (normalization expands most of them first; this is the safety net).
const NO_STOP_AFTER = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'vs', 'etc', 'e.g', 'i.e', 'no', 'ave', 'inc', 'ltd', 'co', 'mt', 'ft', 'approx', 'dept', 'u.s', 'a.m', 'p.m']);

function countWords(s) {
  const m = s.match(/[\p{L}\p{N}']+/gu);
  return m ? m.length : 0;
}

/** Sentences, each with its closing punctuation; a line break also ends a sentence. */
export function splitSentences(text) {
  const out = [];
  let start = 0;
  const stops = /([.!?…]+)(["')\]]*)(?=\s|$)|\n+/g;
  for (let m = stops.exec(text); m; m = stops.exec(text)) {
    const end = m.index + m[0].length;
    if (m[1] === '.') {
      const before = text.slice(start, m.index).match(/([\p{L}.]+)$/u)?.[1]?.toLowerCase() ?? '';
      // "Dr." or a single initial ("J. Smith") does not end a sentence.
      if (NO_STOP_AFTER.has(before) || /^\p{L}$/u.test(before)) continue;
    }
    const piece = text.slice(start, end).trim();
    if (piece) out.push(piece);
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest) out.push(rest);
  return out.filter((s) => countWords(s) > 0 || /[\p{L}\p{N}]/u.test(s));
}

/** Split one sentence at clause punctuation (, ; :) into parts of at most `maxWords`, none shorter than `minWords`. */
function splitClauses(sentence, maxWords, minWords) {
  const parts = sentence.split(/(?<=[,;:])\s+/);
  const merged = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (last !== undefined && (countWords(last) < minWords || countWords(part) < minWords) && countWords(last) + countWords(part) <= maxWords) {
      merged[merged.length - 1] = `${last} ${part}`;
    } else {
      merged.push(part);
    }
  }
  // A clause with no punctuation in it that is still too long: cut between words.
  return merged.flatMap((part) => {
    const words = part.split(/\s+/);
    if (words.length <= maxWords) return [part];
    const cuts = [];
    for (let i = 0; i < words.length; i += maxWords) cuts.push(words.slice(i, i + maxWords).join(' '));
    return cuts;
  });
}

/**
 * The pieces to synthesize, in order. Sentences longer than `maxWords` are split at commas; the first sentence
 * is split at its first comma when it is long (more than `firstWords` words), so the first audio comes sooner.
 */
export function speechChunks(text, { maxWords = 30, firstWords = 12, minWords = 4 } = {}) {
  const chunks = [];
  for (const sentence of splitSentences(text)) {
    const first = chunks.length === 0;
    const limit = first ? firstWords : maxWords;
    if (countWords(sentence) <= limit) {
      chunks.push(sentence);
      continue;
    }
    if (first) {
      const [head, ...tail] = splitClauses(sentence, maxWords, minWords);
      chunks.push(head);
      if (tail.length) chunks.push(...splitClauses(tail.join(' '), maxWords, minWords));
    } else {
      chunks.push(...splitClauses(sentence, maxWords, minWords));
    }
  }
  return chunks;
}
