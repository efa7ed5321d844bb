/**
 * `npm run doctor -- [options]`: checks the setup (port, plugins, models, Twilio credentials, the number's voice
 * URL, signatures, tunnel, the public URL reaching /health from outside) and prints what to fix. Exits 1 when a
 * check fails. Takes the same options as `npm run headless` (and reads the same .env).
 *
 * When Parley is already running on the configured port, the doctor asks it (GET /doctor with the control
 * token): it knows its live tunnel. Otherwise it starts Parley briefly (no plugin warm-up, no records), checks,
 * and stops it.
 */
import { createCore } from '../core/app.ts';
import { helpText, loadConfig, parseArgs, type Config } from '../core/config.ts';
import { readControlToken } from '../core/control-token.ts';
import { formatDoctorReport, type DoctorReport } from '../core/setup-doctor.ts';
import { errorMessage } from '../core/errors.ts';
import { consoleSink, createLogger } from '../core/log.ts';

/** The report of a Parley already running here, or null (none, or it would not tell us). */
async function askRunning(config: Config): Promise<{ report: DoctorReport | null; note: string } | null> {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `http://${host}:${config.port}`;
  try {
    const health = (await (await fetch(`${base}/health`, { signal: AbortSignal.timeout(1_500) })).json()) as { instance?: unknown };
    if (typeof health.instance !== 'string') return null;
  } catch {
    return null;
  }
  const token = config.controlToken || readControlToken(config.dataDir);
  if (!token) return { report: null, note: `A Parley is running at ${base}, but its control token is not in ${config.dataDir}: pass PARLEY_CONTROL_TOKEN to ask it.` };
  const res = await fetch(`${base}/doctor`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) });
  if (!res.ok) return { report: null, note: `A Parley is running at ${base} but answered ${res.status} to GET /doctor (another data folder? pass --data-dir or PARLEY_CONTROL_TOKEN).` };
  return { report: (await res.json()) as DoctorReport, note: `Asked the Parley running at ${base}.` };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (parseArgs(argv).help) {
    process.stdout.write(helpText('npm run doctor --'));
    return;
  }
  const config = loadConfig({ argv });
  const running = config.port ? await askRunning(config) : null;
  if (running?.note) process.stdout.write(`${running.note}\n\n`);
  let report = running?.report ?? null;
  if (!report) {
    // Quiet: the report says what matters. The energy VAD: no need to load Silero to check a setup.
    const log = createLogger({ level: 'error', sinks: [consoleSink(config.logFormat)] });
    const core = createCore({ ...config, vad: 'energy' }, { log, warmPlugins: false, watchPlugins: false, records: false });
    try {
      await core.start();
    } catch {
      // The port is taken, say: the port check reports it; check the rest without a server.
      await core.plugins.rescan();
    }
    try {
      report = await core.doctor();
    } finally {
      await core.stop();
    }
  }
  process.stdout.write(formatDoctorReport(report));
  process.exit(report.ok ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`doctor: ${errorMessage(err)}\n`);
  process.exit(2);
});
