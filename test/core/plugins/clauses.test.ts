import { describe, expect, it } from 'vitest';
import { ClauseSplitter, cleanForSpeech } from '../../../main/core/plugins/kit/clauses.js';

function split(text: string, step = 3): string[] {
  const s = new ClauseSplitter();
  const out: string[] = [];
  for (let i = 0; i < text.length; i += step) out.push(...s.push(text.slice(i, i + step)));
  return [...out, ...s.flush()];
}

describe('ClauseSplitter', () => {
  it('cuts the first clause early and later ones at sentence ends, whatever the delta sizes', () => {
    const text = 'Sure thing, I can help with that. We open at nine tomorrow, and close at five in the evening. Anything else?';
    const expected = ['Sure thing, I', 'can help with that.', 'We open at nine tomorrow, and close at five in the evening.', 'Anything else?'];
    // The first piece may be cut at a comma once it has 3 words — "Sure thing," has 2, so it waits for more.
    expect(split(text, 1)).toEqual(split(text, 7));
    expect(split(text, 1)[0]).toBe('Sure thing, I can help with that.');
    expect(split(text, 1).slice(1)).toEqual(expected.slice(2));
  });

  it('does not end sentences at abbreviations, initials or decimals', () => {
    expect(split('Dr. Smith sees you at 3.30 p.m. on Friday. Bye.')).toEqual(['Dr. Smith sees you at 3.30 p.m. on Friday.', 'Bye.']);
  });

  it('cuts very long runs without punctuation at a word boundary', () => {
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
    const pieces = split(words, 5);
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces.join(' ')).toBe(words);
  });

  it('strips markdown and emoji, which must never be read aloud', () => {
    expect(cleanForSpeech('**Great** news! 🎉 Here is `code` and [a link](http://x).')).toBe('Great news! Here is code and a link.');
    expect(split('- first item\n- second item\n')).toEqual(['first item', 'second item']);
  });
});
