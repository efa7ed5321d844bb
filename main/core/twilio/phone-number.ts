/**
 * Phone numbers as Twilio takes them: E.164, checked before any money is spent. The check itself is shared
 * with the GUI's dial pad (main/shared/phone-number.ts); here a bad number becomes an INVALID_NUMBER error.
 */
import { e164Problem } from '../../shared/phone-number.ts';
import { ParleyError } from '../errors.ts';

export { E164_EXAMPLE, isE164 } from '../../shared/phone-number.ts';

/** The number unchanged when it is E.164; INVALID_NUMBER naming the field, the problem and the fix otherwise. */
export function checkE164(value: unknown, field = 'to'): string {
  const problem = e164Problem(value);
  if (problem !== null) throw new ParleyError('INVALID_NUMBER', `"${field}" ${problem}`, { details: { field } });
  return value as string;
}
