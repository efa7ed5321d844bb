/**
 * cleanForSpeech strips markdown, but a "#" or "_" that is part of what is said stays spoken: "#1" is "number
 * one" once normalizeEnglish has read it, an email's underscore is "underscore".
 */
import { describe, expect, it } from 'vitest';
import { cleanForSpeech, normalizeEnglish, splitClauses } from '../../../main/core/plugins/kit/index.js';

const spoken = (text: string) => normalizeEnglish(cleanForSpeech(text));

describe('cleanForSpeech keeps the # and _ that are spoken', () => {
  it('"#1" and "room #12" keep their "#", which normalizeEnglish reads as "number"', () => {
    expect(cleanForSpeech('We are #1 in town.')).toBe('We are #1 in town.');
    expect(spoken('We are #1 in town.')).toBe('We are number one in town.');
    expect(spoken('Go to room #12, please.')).toBe('Go to room number twelve, please.');
  });

  it('an underscore inside a word (an email, a user name) is said as "underscore"', () => {
    expect(cleanForSpeech('Write to john_smith@example.com today.')).toBe('Write to john underscore smith@example.com today.');
    expect(spoken('Write to john_smith@example.com today.')).toContain('john underscore smith at example');
    expect(cleanForSpeech('Your ID is user__42.')).toBe('Your ID is user underscore 42.');
  });

  it('still strips markdown: headings, _emphasis_, __strong__, stray hashes', () => {
    expect(cleanForSpeech('## Opening hours\nWe open at _nine_, __not__ ten.')).toBe('Opening hours We open at nine, not ten.');
    expect(cleanForSpeech('# Title')).toBe('Title');
    expect(cleanForSpeech('Done ### here _ and _ there.')).toBe('Done here and there.');
    expect(cleanForSpeech('**Great** news! 🎉 Here is `code` and [a link](http://x).')).toBe('Great news! Here is code and a link.');
  });

  it('the splitter Parley cuts replies with keeps them too', () => {
    expect(splitClauses('Call us at #5 or mail a_b@c.org.').join(' ')).toBe('Call us at #5 or mail a underscore b@c.org.');
  });
});
