/**
 * A small HTTP router: routes declare who may call them (`access`), and the server enforces it before any
 * handler runs. Bodies are size-limited and parsed by content type; errors become JSON with a code and a fix.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ParleyError, errorMessage, isParleyError, type ErrorCode } from '../errors.ts';

/** `twilio`: Twilio webhooks (signed). `control`: the local API (bearer token). `public`: health and the GUI shell. */
export type Access = 'twilio' | 'control' | 'public';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** Parsed body: form fields for urlencoded, the value for JSON, undefined for none. */
  body: unknown;
}

export interface Route {
  method: string;
  path: string;
  access: Access;
  handler(ctx: RequestContext): unknown | Promise<unknown>;
}

export interface CompiledRoute extends Route {
  regex: RegExp;
  keys: string[];
}

export const MAX_BODY_BYTES = 64 * 1024;

export function compile(route: Route): CompiledRoute {
  const keys: string[] = [];
  const pattern = route.path.replace(/:([A-Za-z]+)/g, (_, k: string) => {
    keys.push(k);
    return '([^/]+)';
  });
  return { ...route, regex: new RegExp(`^${pattern}/?$`), keys };
}

export function match(routes: CompiledRoute[], method: string, pathname: string): { route: CompiledRoute; params: Record<string, string> } | 'method' | null {
  let pathMatched = false;
  for (const route of routes) {
    const m = route.regex.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) continue;
    const params: Record<string, string> = {};
    route.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1]!);
      } catch {
        // `%E0%A4%A` and the like: the client's mistake (400), not a server failure.
        throw new ParleyError('BAD_REQUEST', `malformed percent-encoding in the path: ${JSON.stringify(m[i + 1])}`);
      }
    });
    return { route, params };
  }
  return pathMatched ? 'method' : null;
}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ParleyError('BAD_REQUEST', `request body over ${limit} bytes`, { details: { status: 413 } });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function parseBody(req: IncomingMessage, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  if (type === 'application/json' || type === '') {
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new ParleyError('BAD_REQUEST', `body is not valid JSON (${(err as Error).message})`);
    }
  }
  throw new ParleyError('BAD_REQUEST', `unsupported Content-Type ${type}; send application/json`, { details: { status: 415 } });
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  INVALID_NUMBER: 400,
  CONFIG_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CALL_NOT_FOUND: 404,
  APPROVAL_NOT_FOUND: 404,
  // An approval already approved, denied or timed out: a second decision changes nothing.
  APPROVAL_DECIDED: 409,
  PLUGIN_NOT_FOUND: 404,
  RATE_LIMITED: 429,
  // Every line is in use (PARLEY_MAX_CALLS): try again when a call ends.
  LINES_BUSY: 409,
  NOT_CONFIGURED: 409,
  // The model is not installed (or no plugin offers it): pull it first — the app's state, not a server fault.
  MODEL_MISSING: 409,
  TWILIO_ERROR: 502,
  RECORDS_FAILED: 503,
};

export function statusOf(err: unknown): number {
  if (!isParleyError(err)) return 500;
  const explicit = err.details?.status;
  return typeof explicit === 'number' ? explicit : STATUS[err.code] ?? 500;
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const status = statusOf(err);
  const code = isParleyError(err) ? err.code : 'INTERNAL';
  const message = isParleyError(err) ? err.message : `internal error: ${errorMessage(err)}`;
  const retryAfter: Record<string, string> = isParleyError(err) && typeof err.details?.retryAfterSec === 'number' ? { 'retry-after': String(err.details.retryAfterSec) } : {};
  sendJson(res, status, { error: { code, message } }, retryAfter);
}

export function sendText(res: ServerResponse, status: number, body: string, type: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
