/**
 * Phone numbers as Twilio takes them: E.164 (`+` country code and number, digits only, at most 15). The one
 * check: the core refuses a bad number before any money is spent (main/core/twilio/phone-number.ts turns the
 * problem into an INVALID_NUMBER error) and the GUI's dial pad shows the same sentence as you type.
 */

export const E164_EXAMPLE = '+15551234567';
/** A plus, a country code that does not start with 0, 7 to 15 digits in all. */
export const E164 = /^\+[1-9]\d{6,14}$/;

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/**
 * null when `value` is E.164; otherwise what is wrong and what it should look like, as the rest of a sentence
 * that starts with the number's name ("is missing: …", "\"555\" has no country code: …").
 */
export function e164Problem(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return `is missing: give a phone number in E.164 form, e.g. ${E164_EXAMPLE}`;
  if (E164.test(value)) return null;
  const shown = JSON.stringify(value);
  if (/[A-Za-z]/.test(value)) return `${shown} contains letters: a phone number is + and digits only, e.g. ${E164_EXAMPLE}`;
  const compact = value.replace(/[\s().\-/]/g, '');
  if (compact !== value && E164.test(compact)) return `${shown} has spaces, dashes or brackets: write it as ${compact}`;
  if (/^00[1-9]\d+$/.test(compact)) return `${shown} starts with 00: write + instead, i.e. +${compact.slice(2)}`;
  if (/^\d+$/.test(compact)) return `${shown} has no country code: start with + and the country code, e.g. ${E164_EXAMPLE} (+1 is the US and Canada)`;
  const bad = /[^+\d]/.exec(compact);
  if (bad) return `${shown} contains ${JSON.stringify(bad[0])}: use + and digits only, e.g. ${E164_EXAMPLE}`;
  if (!compact.startsWith('+') || compact.lastIndexOf('+') > 0) return `${shown} must have exactly one + at the start, e.g. ${E164_EXAMPLE}`;
  if (compact[1] === '0') return `${shown}: country codes never start with 0 (drop the 0 of the local trunk prefix), e.g. ${E164_EXAMPLE}`;
  const digits = compact.length - 1;
  if (digits > 15) return `${shown} has ${digits} digits; E.164 numbers have at most 15`;
  return `${shown} is too short (${digits} digits) to be a phone number with its country code, e.g. ${E164_EXAMPLE}`;
}

/** What a person types (spaces, dashes, dots, brackets, a leading 00) → the E.164 candidate to check and dial. */
export function normalizeNumber(input: string): string {
  const trimmed = input.trim();
  const plus = trimmed.startsWith('+') || trimmed.startsWith('00');
  const digits = trimmed.replace(/^00/, '').replace(/[\s().-]/g, '').replace(/^\+/, '');
  return plus ? `+${digits}` : digits;
}

/** The dial pad's check of what was typed (normalized first): null when it can be called, else the sentence to show. */
export function numberProblem(input: string): string | null {
  const n = normalizeNumber(input);
  if (n === '') return 'Enter a number to call.';
  const problem = e164Problem(n);
  return problem === null ? null : `${problem}.`;
}
