/**
 * Who may call what. Control routes always need the bearer token (generated on first run: control-token.ts);
 * Twilio routes need a valid X-Twilio-Signature when an auth token is configured (twilio/signature.ts);
 * public routes are open.
 */
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { ParleyError } from '../errors.ts';
import { checkTwilioSignature, type SignatureCheckOptions } from '../twilio/signature.ts';
import type { Access } from './router.ts';

export function bearerToken(req: IncomingMessage, url?: URL): string | null {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    if (m) return m[1]!;
  }
  return url?.searchParams.get('token') ?? null;
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function checkControlToken(expected: string, req: IncomingMessage, url?: URL): void {
  // No token yet means the core has not started: nothing may pass, not everything.
  if (!expected) throw new ParleyError('UNAUTHORIZED', 'the control API is locked until Parley has started and set up its control token');
  const given = bearerToken(req, url);
  if (!given) throw new ParleyError('UNAUTHORIZED', 'this route needs the control token: send "Authorization: Bearer <token>" (the token is shown in Settings and printed at start-up)');
  if (!tokensEqual(given, expected)) throw new ParleyError('UNAUTHORIZED', 'wrong control token: use the one shown in Settings / printed at start-up');
}

export type Authorizer = (access: Access, req: IncomingMessage, url: URL, body: unknown) => void | Promise<void>;

/** An Authorizer step that checks Twilio routes and upgrades, and leaves the rest alone. */
export function twilioSignatureAuthorizer(options: SignatureCheckOptions) {
  return (access: Access, req: IncomingMessage, url: URL, body: unknown): void => {
    if (access === 'twilio') checkTwilioSignature(options, req, url, body);
  };
}
