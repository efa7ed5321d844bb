// Types of clauses.js, the one clause splitter (the core and the kit both use it).

export interface ClauseSplitterOptions {
  /** Words the first piece needs before it may be cut at a comma/semicolon/colon/dash (default 3). */
  firstClauseWords?: number;
  /** Words later pieces need before a clause cut; sentence ends always cut (default 8). */
  clauseWords?: number;
  /** Cut at a word boundary after this many words even without punctuation (default 25). */
  maxWords?: number;
}

/** Remove what should never be read aloud: markdown emphasis, headings, bullets, code ticks, emoji. */
export function cleanForSpeech(text: string): string;

/** Cuts streamed text into speakable pieces. */
export class ClauseSplitter {
  constructor(options?: ClauseSplitterOptions);
  /** Add a text delta; returns the pieces it completes (already cleaned, never empty). */
  push(delta: string): string[];
  /** The rest, at the end of the stream. */
  flush(): string[];
}

/**
 * A whole text handed over at once, cut by the same rules; its first piece is not cut early unless
 * `firstClauseWords` says so (a piece of the streaming splitter comes back whole). Pieces with nothing to say are
 * left out.
 */
export function splitClauses(text: string, options?: ClauseSplitterOptions): string[];
