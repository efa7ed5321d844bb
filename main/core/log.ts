/**
 * One structured logger for the whole core. Child loggers carry bindings (callSid, streamSid, plugin) so a
 * line can always be traced to its call. Values under secret-looking keys are redacted before they reach
 * any sink; raw audio never belongs in a log line.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  time: string;
  level: LogLevel;
  msg: string;
  [key: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /(token|secret|password|authorization|auth_?token|api_?key|signature)/i;
/** Counts of LLM tokens (promptTokens, maxTokens, tokenCount) are numbers, not credentials. */
const TOKEN_COUNT = /tokens$|token_?count$/i;
const isSecretKey = (k: string) => SECRET_KEY.test(k) && !TOKEN_COUNT.test(k);
const REDACTED = '[redacted]';

/** Replace secret-looking values (by key) anywhere inside a value, without mutating it. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) && v ? REDACTED : redact(v, depth + 1);
  return out;
}

/** Human-readable lines on stderr (or JSON lines when PARLEY_LOG_FORMAT=json). */
export function consoleSink(format: 'pretty' | 'json' = 'pretty', stream: NodeJS.WritableStream = process.stderr): LogSink {
  return (record) => {
    if (format === 'json') {
      stream.write(JSON.stringify(record) + '\n');
      return;
    }
    const { time, level, msg, ...rest } = record;
    const extra = Object.entries(rest)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    stream.write(`${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? '  ' + extra : ''}\n`);
  };
}

/** Collects records in memory: for tests and for the GUI's recent-log view. */
export function memorySink(records: LogRecord[] = [], limit = 10_000): LogSink & { records: LogRecord[] } {
  const sink = ((record: LogRecord) => {
    records.push(record);
    if (records.length > limit) records.splice(0, records.length - limit);
  }) as LogSink & { records: LogRecord[] };
  sink.records = records;
  return sink;
}

export function createLogger(options: { level?: LogLevel; sinks?: LogSink[]; bindings?: Record<string, unknown> } = {}): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const sinks = options.sinks ?? [consoleSink()];
  const bindings = options.bindings ?? {};
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    const record = { time: new Date().toISOString(), level, msg, ...(redact({ ...bindings, ...fields }) as object) } as LogRecord;
    for (const sink of sinks) {
      try {
        sink(record);
      } catch {
        // A broken sink must not take the caller down with it.
      }
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (more) => createLogger({ level: options.level, sinks, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that drops everything (tests that do not care about logs). */
export const silentLogger: Logger = createLogger({ sinks: [] });
