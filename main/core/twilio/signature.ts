/**
 * X-Twilio-Signature on webhooks and on the Media Streams WebSocket upgrade, checked with the `twilio`
 * package's own `validateRequest`.
 *
 * Which URL: Twilio signs the URL it sent the request to — the public one (PUBLIC_URL, the ngrok tunnel), not
 * the address this server listens on. When a public URL is known it is the only base accepted, whatever Host or
 * X-Forwarded-* headers say: those are set by whoever sends the request, so trusting them would let a signature
 * made for another address (another app on the same Twilio account) be replayed here. Only when no public URL
 * is known does the check fall back to the request's own Host / X-Forwarded-Proto / X-Forwarded-Host — no
 * weaker than Host alone, which any client sets; a start-up warning asks for PUBLIC_URL in that case.
 *
 * Webhooks are signed over the URL plus the sorted form parameters. The WebSocket upgrade is signed over the
 * wss:// URL Twilio connected to (Twilio's `<Stream>` URL carries no query string) with no parameters; the
 * https:// spelling of the same URL is accepted too (same host, same path, nothing more to forge).
 */
import type { IncomingMessage } from 'node:http';
import { validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import { ParleyError } from '../errors.ts';
import type { Logger } from '../log.ts';

export const SIGNATURE_HEADER = 'x-twilio-signature';

/** The base URL this request was addressed to, honouring a reverse proxy's forwarded headers. */
export function requestBaseUrl(req: IncomingMessage): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const proto = first(req.headers['x-forwarded-proto']) ?? ((req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  return `${proto}://${host}`;
}

export interface SignatureCheckOptions {
  /** TWILIO_AUTH_TOKEN ('' = nothing to check with). */
  authToken(): string;
  /** PARLEY_VALIDATE_SIGNATURES. */
  enabled(): boolean;
  /** The public base URLs Twilio reaches this app at (PUBLIC_URL, the tunnel); [] when none is known. */
  publicUrls(): string[];
  log: Logger;
}

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** `base` (may carry a path prefix) + the request's path and query. */
function join(base: string, url: URL): string {
  return base.replace(/\/+$/, '') + url.pathname + url.search;
}

function asScheme(full: string, scheme: 'ws' | 'http'): string {
  return full.replace(/^(https?|wss?):/i, (_, s: string) => {
    const secure = s.toLowerCase().endsWith('s');
    return scheme === 'ws' ? (secure ? 'wss:' : 'ws:') : secure ? 'https:' : 'http:';
  });
}

/** The URLs the signature may have been computed on, most likely first. */
export function signedUrlCandidates(req: IncomingMessage, url: URL, publicUrls: string[]): string[] {
  const bases = publicUrls.length ? publicUrls : [requestBaseUrl(req)];
  const out: string[] = [];
  for (const base of bases) {
    const full = join(base, url);
    if (isWebSocketUpgrade(req)) out.push(asScheme(full, 'ws'), asScheme(full, 'http'));
    else out.push(full);
  }
  return [...new Set(out)];
}

function formParams(body: unknown): Record<string, string> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {};
  return body as Record<string, string>;
}

/**
 * Throws FORBIDDEN when a Twilio request is not signed by this account for this URL. The log line says why
 * (missing header, which URLs were tried, wrong URL vs. wrong token); it never contains the token or the
 * signature. The HTTP answer stays generic.
 */
export function checkTwilioSignature(options: SignatureCheckOptions, req: IncomingMessage, url: URL, body: unknown): void {
  const token = options.authToken();
  if (!options.enabled() || !token) return;
  const log = options.log;
  const kind = isWebSocketUpgrade(req) ? 'media stream upgrade' : 'webhook';
  const header = req.headers[SIGNATURE_HEADER];
  const signature = Array.isArray(header) ? header[0] : header;
  if (!signature) {
    log.warn(`Twilio ${kind} refused: no X-Twilio-Signature header. It did not come from Twilio, or a proxy in between dropped the header.`, { path: url.pathname });
    throw new ParleyError('FORBIDDEN', 'missing X-Twilio-Signature: only Twilio may call this route (see the Parley log)');
  }
  const params = isWebSocketUpgrade(req) ? {} : formParams(body);
  const publicUrls = options.publicUrls();
  const candidates = signedUrlCandidates(req, url, publicUrls);
  if (candidates.some((u) => validateRequest(token, signature, u, params))) return;

  // Diagnose for the log: signed for the address the request claims (Host / X-Forwarded-*) but not for ours
  // means the URL is wrong; signed for nothing we can think of means the token (or the whole URL) is.
  let why: string;
  const claimed = publicUrls.length ? signedUrlCandidates(req, url, []) : [];
  const claimedMatch = claimed.find((u) => validateRequest(token, signature, u, params));
  if (claimedMatch) {
    why =
      `the signature is valid for ${claimedMatch}, not for this app's public URL (${candidates[0]}). ` +
      `Either the Twilio number's webhook points at another address than PUBLIC_URL / the tunnel, or the request was replayed from elsewhere.`;
  } else {
    why =
      `the signature matches none of ${candidates.join(', ')}. Check that TWILIO_AUTH_TOKEN is this account's current auth token ` +
      `(it changes when rotated), and that ${isWebSocketUpgrade(req) ? 'the <Stream> URL Twilio connected to' : 'the webhook URL set at Twilio'} is exactly ${candidates[0]}` +
      (publicUrls.length ? '' : ' (set PUBLIC_URL when Twilio reaches you through a proxy)') + '.';
  }
  log.warn(`Twilio ${kind} refused: ${why}`, { path: url.pathname });
  throw new ParleyError('FORBIDDEN', 'invalid X-Twilio-Signature (see the Parley log for why)');
}

/** The start-up warning for a setup that leaves Twilio routes unchecked or weakly checked, or null. */
export function signatureSetupWarning(c: { validateSignatures: boolean; twilioAuthToken: string; publicUrl: string; ngrokAuthtoken: string }): string | null {
  if (!c.validateSignatures) {
    return (
      '!!! SIGNATURE CHECKS ARE OFF (PARLEY_VALIDATE_SIGNATURES=false) !!! Twilio webhooks and the /media stream accept ANY caller: ' +
      'anyone who finds the public URL can start calls on this agent and fake call statuses. Turn it back on unless you are debugging.'
    );
  }
  if (!c.twilioAuthToken) {
    if (c.publicUrl || c.ngrokAuthtoken) {
      return 'TWILIO_AUTH_TOKEN is not set, so Twilio webhooks and the /media stream cannot be verified: while Parley is reachable from outside (tunnel / PUBLIC_URL) every Twilio request is refused (503). Set TWILIO_AUTH_TOKEN to take calls.';
    }
    return 'TWILIO_AUTH_TOKEN is not set, so Twilio webhooks and the /media stream cannot be verified; they are accepted only from this computer (the simulator). Set it before exposing Parley (tunnel / PUBLIC_URL).';
  }
  if (!c.publicUrl && !c.ngrokAuthtoken) {
    return 'No PUBLIC_URL and no tunnel: Twilio signatures are checked against the Host each request names. Set PUBLIC_URL to the address Twilio uses, so signatures made for other addresses are refused.';
  }
  return null;
}
