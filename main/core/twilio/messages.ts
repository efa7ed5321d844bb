/**
 * Text messages for a call (`send_sms`), through Twilio's Messages API. Who may be texted is decided here, not by
 * the LLM: the caller's own number, unless PARLEY_SMS_TO_ANY_NUMBER (or, later, the persona) allows any number.
 */
import { ParleyError } from '../errors.ts';
import type { CallDirection } from '../event-bus.ts';
import { isE164 } from './phone-number.ts';

/** Twilio's limit for one message body (it is split into segments on the way). */
export const MAX_SMS_CHARS = 1600;

export interface SmsCall {
  direction: CallDirection;
  from: string | null;
  to: string | null;
}

/** The other party's number (who the agent talks to) and ours, on this call. */
export function callParties(call: SmsCall): { caller: string | null; ours: string | null } {
  return call.direction === 'outbound' ? { caller: call.to, ours: call.from } : { caller: call.from, ours: call.to };
}

const digits = (n: string) => n.replace(/[^\d+]/g, '');

/**
 * Where a message for this call goes, and from which number: `to` defaults to the caller; another number is
 * refused (FORBIDDEN, naming the setting) unless `anyNumber`. The body must be non-empty text within Twilio's limit.
 */
export function planSms(call: SmsCall, input: { to?: unknown; body: unknown }, p: { anyNumber: boolean; fallbackFrom: string }): { to: string; from: string; body: string } {
  if (typeof input.body !== 'string' || !input.body.trim()) throw new ParleyError('BAD_REQUEST', 'the text message is empty: give it a "body"');
  const body = input.body.trim();
  if (body.length > MAX_SMS_CHARS) throw new ParleyError('BAD_REQUEST', `the text message is ${body.length} characters; Twilio takes at most ${MAX_SMS_CHARS}`);
  const { caller, ours } = callParties(call);
  const asked = typeof input.to === 'string' && input.to.trim() ? digits(input.to.trim()) : null;
  if (!caller && !asked) throw new ParleyError('BAD_REQUEST', "the caller's number is unknown (withheld caller ID), so there is no one to text");
  const to = asked ?? caller!;
  if (!isE164(to)) throw new ParleyError('INVALID_NUMBER', `"${to}" is not a phone number in E.164 form, e.g. +15551234567`);
  if (!p.anyNumber && to !== caller) {
    throw new ParleyError('FORBIDDEN', `texts go to the caller's own number only; ${to} is another number (turn on PARLEY_SMS_TO_ANY_NUMBER to allow any number)`);
  }
  const from = ours && isE164(ours) ? ours : p.fallbackFrom;
  if (!from) throw new ParleyError('NOT_CONFIGURED', 'no number to text from: set TWILIO_PHONE_NUMBER to an SMS-capable number of your Twilio account');
  return { to, from, body };
}
