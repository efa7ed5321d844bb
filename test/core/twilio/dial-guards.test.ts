/** What is checked before a call costs money: the number's form, and how many calls a minute. */
import { describe, expect, it } from 'vitest';
import { checkE164 } from '../../../main/core/twilio/phone-number.ts';
import { RateLimiter } from '../../../main/core/twilio/rate-limit.ts';

describe('E.164 check', () => {
  it.each(['+15551234567', '+442071838750', '+8613800138000', '+6831234'])('accepts %s', (n) => {
    expect(checkE164(n)).toBe(n);
  });

  it.each([
    [undefined, /"to" is missing: give a phone number in E.164 form, e.g. \+15551234567/],
    ['', /"to" is missing/],
    ['+1 (555) 123-4567', /has spaces, dashes or brackets: write it as \+15551234567/],
    ['5551234567', /has no country code: start with \+ and the country code/],
    ['0044 20 7183 8750', /starts with 00: write \+ instead, i\.e\. \+442071838750/],
    ['+1-800-FLOWERS', /contains letters/],
    ['+0123456789', /country codes never start with 0/],
    ['+1234567890123456', /has 16 digits; E\.164 numbers have at most 15/],
    ['+1555', /is too short/],
    ['+1555#1234567', /contains "#"/],
    ['1+5551234567', /exactly one \+ at the start/],
  ])('refuses %j, saying what is wrong', (n, message) => {
    const err = (() => {
      try {
        checkE164(n);
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('accepted');
    })();
    expect(err.code).toBe('INVALID_NUMBER');
    expect(err.message).toMatch(message);
  });

  it('names the field it checked', () => {
    expect(() => checkE164('12', 'TWILIO_PHONE_NUMBER')).toThrow(/^"TWILIO_PHONE_NUMBER"/);
  });
});

describe('dial rate limit', () => {
  it('allows N per minute, then says when to try again, and frees slots as they age', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ limit: () => 3, now: () => now, setting: 'PARLEY_DIAL_RATE' });
    limiter.take();
    now += 10_000;
    limiter.take();
    now += 10_000;
    limiter.take();
    expect(limiter.remaining()).toBe(0);
    now += 5_000; // 25 s after the first: it frees 35 s from now
    let err: { code: string; message: string; details: { retryAfterSec: number } } | null = null;
    try {
      limiter.take();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err!.code).toBe('RATE_LIMITED');
    expect(err!.details.retryAfterSec).toBe(35);
    expect(err!.message).toBe('Too many calls: at most 3 per minute (PARLEY_DIAL_RATE). Try again in 35 s.');
    // A refused attempt does not count.
    now += 35_000;
    expect(limiter.remaining()).toBe(1);
    limiter.take();
    expect(() => limiter.take()).toThrow(/Try again in 10 s/);
  });

  it('follows a changed limit at once', () => {
    let limit = 1;
    const limiter = new RateLimiter({ limit: () => limit });
    limiter.take();
    expect(() => limiter.take()).toThrow(/at most 1 per minute/);
    limit = 2;
    limiter.take();
  });
});
