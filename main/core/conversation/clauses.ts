/**
 * Cuts streamed LLM text into speakable pieces so TTS can start on the first clause while the LLM is still
 * writing. The first piece is cut early (at a comma once it has a few words) to get audio out fast; later
 * pieces prefer whole sentences, which sound more natural.
 */

const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'no', 'inc', 'ltd', 'co', 'prof', 'sgt', 'capt', 'mt', 'ft', 'a.m', 'p.m']);

export interface ClauseSplitterOptions {
  /** Words the first piece needs before it may be cut at a comma/semicolon/colon/dash. */
  firstClauseWords?: number;
  /** Words later pieces need before a clause cut (sentence ends always cut). */
  clauseWords?: number;
  /** Cut at a word boundary after this many words even without punctuation. */
  maxWords?: number;
}

/** Remove what should never be read aloud: markdown emphasis, headings, bullets, code ticks, emoji. */
export function cleanForSpeech(text: string): string {
  return text
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/[*_`#>~]+/g, '')
    .replace(/^\s*[-•]\s+/gm, '')
    .replace(/\[(.*?)\]\((.*?)\)/g, '$1')
    .replace(/\p{Extended_Pictographic}/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export class ClauseSplitter {
  readonly #opts: Required<ClauseSplitterOptions>;
  #buf = '';
  #emitted = 0;

  constructor(options: ClauseSplitterOptions = {}) {
    this.#opts = { firstClauseWords: options.firstClauseWords ?? 3, clauseWords: options.clauseWords ?? 8, maxWords: options.maxWords ?? 25 };
  }

  /** Add a text delta; returns the pieces it completes (already cleaned, never empty). */
  push(delta: string): string[] {
    this.#buf += delta;
    const out: string[] = [];
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
  flush(): string[] {
    const piece = cleanForSpeech(this.#buf);
    this.#buf = '';
    if (!piece) return [];
    this.#emitted++;
    return [piece];
  }

  /** Index just after where the buffer can be cut, or -1. A cut needs the next character to be known. */
  #findCut(): number {
    const s = this.#buf;
    const minClause = this.#emitted === 0 ? this.#opts.firstClauseWords : this.#opts.clauseWords;
    let words = 0;
    let inWord = false;
    for (let i = 0; i < s.length - 1; i++) {
      const ch = s[i]!;
      const next = s[i + 1]!;
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
        if (ch === '.' && this.#isAbbreviation(s.slice(0, i))) continue;
        if (wordsSoFar >= 1) return i + 1;
      } else if (/[,;:—–]/.test(ch) || (ch === '-' && /\s/.test(s[i - 1] ?? ''))) {
        if (wordsSoFar >= minClause) return i + 1;
      } else if (wordsSoFar >= this.#opts.maxWords) {
        return i + 1;
      }
    }
    return -1;
  }

  #isAbbreviation(before: string): boolean {
    const m = /([A-Za-z.]+)$/.exec(before);
    if (!m) return false;
    const word = m[1]!.toLowerCase();
    // Single capital letters ("J. R. R.") and known abbreviations do not end sentences.
    return ABBREVIATIONS.has(word) || /^[a-z]$/.test(word);
  }
}
