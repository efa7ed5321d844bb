/**
 * Phone numbers as Twilio takes them: E.164 (`+` country code and number, digits only, at most 15). Checked
 * before any money is spent; a bad number gets a message that says what is wrong and what it should look like.
 */
import { ParleyError } from '../errors.ts';

export const E164_EXAMPLE = '+15551234567';
const E164 = /^\+[1-9]\d{6,14}$/;

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/** The number unchanged when it is E.164; INVALID_NUMBER naming the problem and the fix otherwise. */
export function checkE164(value: unknown, field = 'to'): string {
  const fail = (why: string): never => {
    throw new ParleyError('INVALID_NUMBER', `"${field}" ${why}`, { details: { field } });
  };
  if (typeof value !== 'string' || value.trim() === '') return fail(`is missing: give a phone number in E.164 form, e.g. ${E164_EXAMPLE}`);
  const v = value;
  if (E164.test(v)) return v;
  const shown = JSON.stringify(v);
  if (/[A-Za-z]/.test(v)) return fail(`${shown} contains letters: a phone number is + and digits only, e.g. ${E164_EXAMPLE}`);
  const compact = v.replace(/[\s().\-/]/g, '');
  if (compact !== v && E164.test(compact)) return fail(`${shown} has spaces, dashes or brackets: write it as ${compact}`);
  if (/^00[1-9]\d+$/.test(compact)) return fail(`${shown} starts with 00: write + instead, i.e. +${compact.slice(2)}`);
  if (/^\d+$/.test(compact)) return fail(`${shown} has no country code: start with + and the country code, e.g. ${E164_EXAMPLE} (+1 is the US and Canada)`);
  const bad = /[^+\d]/.exec(compact);
  if (bad) return fail(`${shown} contains ${JSON.stringify(bad[0])}: use + and digits only, e.g. ${E164_EXAMPLE}`);
  if (!compact.startsWith('+') || compact.lastIndexOf('+') > 0) return fail(`${shown} must have exactly one + at the start, e.g. ${E164_EXAMPLE}`);
  if (compact[1] === '0') return fail(`${shown}: country codes never start with 0 (drop the 0 of the local trunk prefix), e.g. ${E164_EXAMPLE}`);
  const digits = compact.length - 1;
  if (digits > 15) return fail(`${shown} has ${digits} digits; E.164 numbers have at most 15`);
  return fail(`${shown} is too short (${digits} digits) to be a phone number with its country code, e.g. ${E164_EXAMPLE}`);
}
