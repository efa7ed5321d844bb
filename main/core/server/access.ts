/**
 * Who may call what. Control routes always need the bearer token (generated on first run: control-token.ts);
 * Twilio routes need a valid X-Twilio-Signature when an auth token is configured (twilio/signature.ts), are
 * never callable from a web page (a browser always sends Origin; Twilio never does), and are refused outright
 * when Parley is reachable from outside with no auth token to check them with; public routes are open.
 * Every route of the loopback listener also answers only to a loopback Host (no DNS rebinding).
 */
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ParleyError } from '../errors.ts';
import { checkTwilioSignature, isWebSocketUpgrade, type SignatureCheckOptions } from '../twilio/signature.ts';
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

const LOOPBACK_PEERS = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Did the request come from this computer? */
export function isLoopbackPeer(req: IncomingMessage): boolean {
  return LOOPBACK_PEERS.has(req.socket.remoteAddress ?? '');
}

export interface TwilioAuthorizerOptions extends SignatureCheckOptions {
  /**
   * Why this request reaches Parley from outside (it came through the tunnel, PUBLIC_URL is set, the peer is
   * another computer), or null when it is local: then, and only then, an unsigned request may pass when no
   * auth token is set (the simulator, local tests).
   */
  exposure(req: IncomingMessage): string | null;
}

/**
 * An Authorizer step for Twilio routes and upgrades (the rest is left alone): no browser, no unverifiable
 * request from outside, then the signature.
 */
export function twilioSignatureAuthorizer(options: TwilioAuthorizerOptions) {
  return (access: Access, req: IncomingMessage, url: URL, body: unknown): void => {
    if (access !== 'twilio') return;
    const kind = isWebSocketUpgrade(req) ? 'media stream upgrade' : 'webhook';
    const origin = req.headers.origin;
    if (origin !== undefined) {
      options.log.warn(`Twilio ${kind} refused: it carries an Origin header (${String(origin).slice(0, 100)}), so a web page in a browser sent it; Twilio never does.`, { path: url.pathname });
      throw new ParleyError('FORBIDDEN', 'Twilio routes do not answer to web pages (this request carried an Origin header)');
    }
    if (options.enabled() && !options.authToken()) {
      const exposed = options.exposure(req);
      if (exposed) {
        options.log.warn(
          `Twilio ${kind} refused: TWILIO_AUTH_TOKEN is not set, so it cannot be verified, and ${exposed}. ` +
            'Unsigned Twilio requests are accepted only from this computer with no public URL (the simulator). Set TWILIO_AUTH_TOKEN to your Twilio auth token (Settings or .env).',
          { path: url.pathname },
        );
        throw new ParleyError('NOT_CONFIGURED', 'Parley cannot verify Twilio requests: set TWILIO_AUTH_TOKEN (Settings or .env) before exposing it through a tunnel or PUBLIC_URL', { details: { status: 503 } });
      }
    }
    checkTwilioSignature(options, req, url, body);
  };
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The host name of a Host header, lower-cased and without its port ('[::1]:3000' → '[::1]'). */
export function hostName(header: string | undefined): string {
  return (header ?? '').trim().toLowerCase().replace(/:\d+$/, '');
}

/** Is this Host header a loopback name (127.0.0.1, localhost, [::1], any port)? */
export function isLoopbackHost(header: string | undefined): boolean {
  return LOOPBACK_NAMES.has(hostName(header));
}

/**
 * DNS rebinding: a web page on evil.com whose name now points at 127.0.0.1 reaches this port with
 * `Host: evil.com`. Only a name this listener answers to passes: a loopback one, the host of PUBLIC_URL (a
 * proxy forwards with it), the address it is bound to, and — when it is bound beyond loopback — any IP
 * literal (a page can't rebind an IP address). Returns why not, or null.
 */
export function hostProblem(req: IncomingMessage, allowed: { publicUrl: string; bindHost: string }): string | null {
  const name = hostName(req.headers.host);
  if (LOOPBACK_NAMES.has(name)) return null;
  let publicHost = '';
  try {
    publicHost = allowed.publicUrl ? new URL(allowed.publicUrl).hostname.toLowerCase() : '';
  } catch {
    /* not a URL: nothing to allow */
  }
  if (name && name === publicHost) return null;
  const bind = allowed.bindHost.toLowerCase();
  const beyondLoopback = !LOOPBACK_NAMES.has(bind) && bind !== '::1';
  if (beyondLoopback && name && (name === bind || isIP(name.replace(/^\[|\]$/g, '')) !== 0)) return null;
  return `this server answers only to 127.0.0.1, localhost or [::1]${publicHost ? ` and ${publicHost}` : ''}, not to ${name || 'a request with no Host header'}`;
}
