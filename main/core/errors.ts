/**
 * Typed errors. Every error Parley raises on purpose carries a stable `code` and a message that names the
 * problem and the fix; the edges (HTTP, WebSocket log, GUI toast, CLI) turn them into user-facing text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MANIFEST_INVALID'
  | 'PLUGIN_LOAD_FAILED'
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_FAILED'
  | 'PLUGIN_TIMEOUT'
  | 'PLUGIN_GARBAGE'
  | 'MODEL_MISSING'
  | 'MODEL_CORRUPT'
  | 'DOWNLOAD_FAILED'
  | 'DISK_FULL'
  | 'CHECKSUM_MISMATCH'
  | 'CANCELLED'
  | 'PROTOCOL_ERROR'
  | 'UNSUPPORTED_MEDIA_FORMAT'
  | 'CALL_NOT_FOUND'
  | 'APPROVAL_NOT_FOUND'
  | 'APPROVAL_DECIDED'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'LINES_BUSY'
  | 'INVALID_NUMBER'
  | 'TWILIO_ERROR'
  | 'NOT_CONFIGURED'
  | 'TUNNEL_FAILED'
  | 'RECORDS_FAILED'
  | 'INTERNAL';

export class ParleyError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable details (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ParleyError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isParleyError(err: unknown, code?: ErrorCode): err is ParleyError {
  return err instanceof ParleyError && (code === undefined || err.code === code);
}

/** The message of anything thrown, without assuming it is an Error. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** An AbortError as thrown by Node's own APIs, so `err.name === 'AbortError'` checks work everywhere. */
export function abortError(reason = 'The operation was aborted'): Error {
  const err = new Error(reason);
  err.name = 'AbortError';
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR');
}
