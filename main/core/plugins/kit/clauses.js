// Cutting text into speakable pieces — the one splitter. The core cuts the LLM's streamed reply with it before
// TTS (main/core/conversation/speech.ts), so TTS can start on the first clause while the LLM is still writing;
// a TTS plugin that is handed a whole text instead (another caller, a long input) cuts it with the same rules
// through `splitClauses`, never with a copy of its own. Types: clauses.d.ts.
//
// The first piece is cut early (at a comma once it has a few words) to get audio out fast; later pieces prefer
// whole sentences, which sound more natural.

/** Words whose "." is not a full stop. Single initials ("J. R. R.") are not either. */
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'no', 'inc', 'ltd', 'co', 'prof', 'sgt', 'capt', 'mt', 'ft', 'ave', 'dept', 'u.s', 'a.m', 'p.m']);

const DEFAULTS = { firstClauseWords: 3, clauseWords: 8, maxWords: 25 };

/**
 * Remove what should never be read aloud: markdown emphasis, headings, bullets, code ticks, emoji. A `#` before a
 * word or number ("#1", "room #12") and an `_` inside a word ("john_smith@example.com") are spoken, so they stay:
 * "#" for normalizeEnglish to read as "number", "_" said as "underscore" (CommonMark never reads an underscore
 * inside a word as emphasis either).
 */
export function cleanForSpeech(text) {
  return text
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/^[ \t]*#{1,6}[ \t]+/gm, '')
    .replace(/#+(?![\p{L}\p{N}])/gu, '')
    .replace(/#{2,}/g, '#')
    .replace(/(?<=[\p{L}\p{N}])_+(?=[\p{L}\p{N}])/gu, ' underscore ')
    .replace(/[*_`>~]+/g, '')
    .replace(/^\s*[-•]\s+/gm, '')
    .replace(/\[(.*?)\]\((.*?)\)/g, '$1')
    .replace(/\p{Extended_Pictographic}/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function isAbbreviation(before) {
  const m = /([A-Za-z.]+)$/.exec(before);
  if (!m) return false;
  const word = m[1].toLowerCase();
  return ABBREVIATIONS.has(word) || /^[a-z]$/.test(word);
}

export class ClauseSplitter {
  #opts;
  #buf = '';
  #emitted = 0;

  constructor(options = {}) {
    this.#opts = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS)) if (options[key] !== undefined) this.#opts[key] = options[key];
  }

  /** Add a text delta; returns the pieces it completes (already cleaned, never empty). */
  push(delta) {
    this.#buf += delta;
    const out = [];
    for (;;) {
      const cut = this.#findCut();
      if (cut < 0) break;
      const piece = cleanForSpeech(this.#buf.slice(0, cut));
      this.#buf = this.#buf.slice(cut);
      if (piece) {
        out.push(piece);
        this.#emitted++;
      }
    }
    return out;
  }

  /** The rest, at the end of the stream. */
  flush() {
    const piece = cleanForSpeech(this.#buf);
    this.#buf = '';
    if (!piece) return [];
    this.#emitted++;
    return [piece];
  }

  /** Index just after where the buffer can be cut, or -1. A cut needs the next character to be known. */
  #findCut() {
    const s = this.#buf;
    const minClause = this.#emitted === 0 ? this.#opts.firstClauseWords : this.#opts.clauseWords;
    let words = 0;
    let inWord = false;
    for (let i = 0; i < s.length - 1; i++) {
      const ch = s[i];
      const next = s[i + 1];
      if (/\s/.test(ch)) {
        if (inWord) words++;
        inWord = false;
      } else inWord = true;
      if (ch === '\n') {
        if (s.slice(0, i).trim()) return i + 1;
        continue;
      }
      const boundary = /\s/.test(next);
      if (!boundary) continue;
      const wordsSoFar = words + (inWord ? 1 : 0);
      if (/[.!?…]/.test(ch)) {
        if (ch === '.' && isAbbreviation(s.slice(0, i))) continue;
        if (wordsSoFar >= 1) return i + 1;
      } else if (/[,;:—–]/.test(ch) || (ch === '-' && /\s/.test(s[i - 1] ?? ''))) {
        if (wordsSoFar >= minClause) return i + 1;
      } else if (wordsSoFar >= this.#opts.maxWords) {
        return i + 1;
      }
    }
    return -1;
  }
}

/**
 * A whole text handed over at once (to a TTS plugin, say), cut by the same rules. Its first piece is not cut early
 * unless `firstClauseWords` says so: whoever handed the text over has already cut for latency, so a piece of the
 * streaming splitter comes back whole. Pieces with nothing to say (no letter or digit, e.g. a lone "…") are left out.
 */
export function splitClauses(text, options = {}) {
  const splitter = new ClauseSplitter({ ...options, firstClauseWords: options.firstClauseWords ?? options.clauseWords ?? DEFAULTS.clauseWords });
  return [...splitter.push(String(text)), ...splitter.flush()].filter((piece) => /[\p{L}\p{N}]/u.test(piece));
}
