/**
 * `npm run export -- --format json|csv [--since DATE] [--out FILE] [--data-dir DIR]`
 *
 * Writes the call records (calls + turns) to standard output, or to FILE (written beside it and renamed into
 * place when complete, so a failed export never leaves half a file under the real name). Reads the data
 * folder of a running Parley safely: the database is in WAL mode, and this never touches a live call's row.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { errorMessage, isParleyError, ParleyError } from '../core/errors.ts';
import { openRecordsDb, recordsDbPath } from '../core/records/db.ts';
import { exportRecords, parseSince, type ExportFormat } from '../core/records/export-format.ts';

const USAGE = `Usage: npm run export -- --format json|csv [--since DATE] [--out FILE] [--data-dir DIR]

  --format    json (calls with their turns and events) or csv (one row per turn)
  --since     only calls started on or after DATE (YYYY-MM-DD, local time, or an ISO date-time)
  --out       write to FILE instead of standard output
  --data-dir  the data folder holding records.db (default: $PARLEY_DATA_DIR, else ./data)
`;

class UsageError extends Error {}

function options(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        format: { type: 'string' },
        since: { type: 'string' },
        out: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  if (parsed.help) return null;
  const format = parsed.format;
  if (format !== 'json' && format !== 'csv') {
    throw new UsageError(format === undefined ? '--format is required (json or csv).' : `--format must be json or csv, not "${format}".`);
  }
  let since: number | undefined;
  if (parsed.since !== undefined) {
    try {
      since = parseSince(parsed.since);
    } catch (err) {
      throw new UsageError(errorMessage(err));
    }
  }
  // The environment variable names the data folder for every Parley entry point (app, headless, export).
  const fromEnv = process.env.PARLEY_DATA_DIR?.trim() || undefined;
  const fromFlag = parsed['data-dir'];
  if (fromEnv && fromFlag && resolve(fromEnv) !== resolve(fromFlag)) {
    process.stderr.write(`Note: PARLEY_DATA_DIR (${fromEnv}) takes precedence over --data-dir (${fromFlag}).\n`);
  }
  return { format: format as ExportFormat, since, out: parsed.out, dataDir: resolve(fromEnv ?? fromFlag ?? 'data') };
}

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = options(argv);
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(USAGE);
    return 0;
  }
  const db = openRecordsDb(recordsDbPath(opts.dataDir), { mustExist: true });
  try {
    if (opts.out === undefined) {
      await exportRecords(db, process.stdout, { format: opts.format, since: opts.since });
      return 0;
    }
    const target = resolve(opts.out);
    const part = `${target}.part`;
    const file = createWriteStream(part);
    try {
      const summary = await exportRecords(db, file, { format: opts.format, since: opts.since });
      file.end();
      await finished(file);
      await rename(part, target);
      process.stderr.write(`Exported ${summary.calls} call(s), ${summary.turns} turn(s) to ${target}\n`);
      return 0;
    } catch (err) {
      file.destroy();
      await rm(part, { force: true });
      throw err;
    }
  } finally {
    db.close();
  }
}

// `npm run export -- --format csv | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = isParleyError(err) ? err.message : `Export failed: ${errorMessage(err)}`;
    process.stderr.write(`${message}\n`);
    process.exitCode = err instanceof ParleyError && err.code === 'BAD_REQUEST' ? 2 : 1;
  },
);
