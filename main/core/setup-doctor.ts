/**
 * The setup doctor (`npm run doctor`, the GUI's "Check setup"): is everything in place to take a real call?
 * Port, plugins, models, Twilio credentials, the number's voice URL, signature checks, the tunnel, and the
 * public URL actually reaching this app's `/health` from outside. Every check that fails says what to do next.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Config } from './config.ts';
import { errorMessage } from './errors.ts';
import type { ModelLibrary } from './models/library.ts';
import { PLUGIN_KINDS, type PluginKind } from './plugins/api.ts';
import { DEFAULT_PLUGINS, isOptionalKind, type PluginRegistry } from './plugins/registry.ts';
import type { PublicEndpoint } from './tunnel/public-endpoint.ts';
import type { TwilioAccount } from './twilio/account.ts';
import type { DoctorCheck, DoctorReport, RecordsStatus } from '../shared/status.ts';
import type { PluginInfo } from '../shared/plugins.ts';

export type { DoctorCheck, DoctorReport } from '../shared/status.ts';

export interface DoctorDeps {
  config: Config;
  plugins: PluginRegistry;
  models: ModelLibrary;
  account: TwilioAccount;
  endpoint: PublicEndpoint;
  /** The local URL when Parley is listening, else null. */
  listeningUrl(): string | null;
  /** This running app's id, as its /health reports it: proves the public URL reaches this app, not another. */
  instance: string;
  fetch?: typeof fetch;
  /** Per network check. Default 8 s. */
  timeoutMs?: number;
  /** The call records' health (CallStore.status); null when the records could not open. Without it, no check. */
  records?: () => RecordsStatus | null;
}

type Result = Omit<DoctorCheck, 'id' | 'title'>;
const pass = (detail: string): Result => ({ ok: true, detail, fix: '' });
const fail = (detail: string, fix: string): Result => ({ ok: false, detail, fix });
const skip = (detail: string, fix = ''): Result => ({ ok: null, detail, fix });

/** "What is wrong: what to do" (the shape of Parley's error messages) → both halves. */
function splitFix(message: string, fallback: string): { detail: string; fix: string } {
  const i = message.indexOf(': ');
  if (i < 0) return { detail: message, fix: fallback };
  const fix = message.slice(i + 2);
  return { detail: message.slice(0, i), fix: fix.charAt(0).toUpperCase() + fix.slice(1) };
}

async function checkPort(d: DoctorDeps): Promise<Result> {
  const listening = d.listeningUrl();
  if (listening) return pass(`Parley is listening on ${listening}`);
  const { host, port } = d.config;
  const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const s = createServer();
    s.once('error', (err) => resolve(err as NodeJS.ErrnoException));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
  if (!error) return pass(`port ${port} on ${host} is free`);
  if (error.code === 'EADDRINUSE') {
    const other = await probeHealth(d, `http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    if (other.ok && other.body?.instance) return fail(`port ${port} is in use by another Parley that is already running`, `Use the running Parley, stop it first, or start this one with --port <another port> (PORT).`);
    return fail(`port ${port} on ${host} is in use by another program`, `Stop that program, or start Parley with --port <another port> (PORT in .env).`);
  }
  if (error.code === 'EACCES') return fail(`not allowed to listen on port ${port}`, 'Use a port above 1024 (--port 3000).');
  if (error.code === 'EADDRNOTAVAIL') return fail(`${host} is not an address of this computer`, 'Set HOST to 127.0.0.1 (this computer only) or 0.0.0.0 (your network).');
  return fail(`can't listen on ${host}:${port}: ${error.message}`, 'Pick another --port / --host.');
}

function checkPlugins(d: DoctorDeps): Result {
  const list = d.plugins.list();
  const problems: string[] = [];
  const fixes: string[] = [];
  const active: string[] = [];
  for (const kind of PLUGIN_KINDS) {
    const name = d.plugins.activeName(kind);
    const info = name ? list.find((p) => p.name === name) : undefined;
    if (isOptionalKind(kind)) {
      // Optional (turn): without one a turn ends after the silence, so nothing here fails the check.
      active.push(optionalPluginNote(d, kind, info));
      continue;
    }
    if (!info) {
      problems.push(`no ${kind} plugin`);
      fixes.push(`Install a ${kind} plugin into ${d.config.userPluginsDir} (or check PARLEY_${kind.toUpperCase()} names one that exists).`);
      continue;
    }
    if (info.status === 'broken' || info.status === 'failed') {
      problems.push(`${name} (${kind}) ${info.status === 'broken' ? 'does not load' : 'failed to start'}: ${info.error ?? 'unknown error'}`);
      fixes.push(info.status === 'broken' ? `Fix or remove ${info.dir}.` : `Fix what the error says (often a missing model: see Models), then restart Parley.`);
      continue;
    }
    active.push(`${kind}: ${name}`);
  }
  // Why calls are not answered (main/core/calls/not-ready.ts): a needed plugin above cannot start.
  if (problems.length) fixes.push('Until then every call hears the short "the assistant isn\'t ready yet" notice and is hung up.');
  for (const p of d.plugins.problems()) {
    problems.push(`skipped folder ${p.dir}: ${p.message}`);
    fixes.push(`Fix or remove ${p.dir}.`);
  }
  if (problems.length) return fail(problems.join('; '), [...new Set(fixes)].join(' '));
  return pass(active.join(', '));
}

/** An optional kind's plugin in one phrase: in use, not in use, or the one that would be used and why it is not. */
function optionalPluginNote(d: DoctorDeps, kind: PluginKind, info: PluginInfo | undefined): string {
  if (info && info.status !== 'broken' && info.status !== 'failed') return `${kind}: ${info.name}`;
  const fallback = kind === 'turn' ? 'turns end after the silence' : 'not used';
  const failed = info ?? d.plugins.list().find((p) => p.kind === kind && p.name === DEFAULT_PLUGINS[kind] && (p.status === 'failed' || p.status === 'broken'));
  if (!failed) return `${kind}: none (optional; ${fallback})`;
  return `${kind}: none — ${failed.name} ${failed.status === 'broken' ? 'does not load' : 'could not start'} (${failed.error ?? 'unknown error'}); optional, ${fallback}`;
}

async function checkModels(d: DoctorDeps): Promise<Result> {
  const lines: string[] = [];
  const problems: string[] = [];
  const fixes: string[] = [];
  const list = d.plugins.list();
  for (const kind of PLUGIN_KINDS as readonly PluginKind[]) {
    const required = !isOptionalKind(kind);
    let name = d.plugins.activeName(kind);
    // An optional kind's built-in default is not in use while its model is missing: say so, as a note.
    if (!name && !required) name = list.find((p) => p.kind === kind && p.name === DEFAULT_PLUGINS[kind])?.name ?? null;
    const info = name ? list.find((p) => p.name === name) : undefined;
    if (!info || info.status === 'broken') continue;
    if (!required) {
      lines.push(await optionalModelNote(d, info));
      continue;
    }
    // Only a `path` setting names a local file; openai-llm's `model` is a model's name on its server.
    const own = info.settings?.model?.type === 'path' ? info.values.model : undefined;
    if (typeof own === 'string' && own) {
      if (existsSync(own)) lines.push(`${name}: its own model ${own} (not in the catalogue: not hash-checked)`);
      else {
        problems.push(`${name}'s model setting points at ${own}, which does not exist`);
        fixes.push(`Fix ${name}'s "model" setting, or clear it to use the catalogue model.`);
      }
      continue;
    }
    const spec = info.models.find((m) => m.default) ?? info.models[0];
    if (!spec) {
      lines.push(`${name}: needs no model`);
      continue;
    }
    try {
      const m = await d.models.info(spec.id);
      if (m.status !== 'installed') {
        problems.push(`${spec.id} (${name}) is ${m.status === 'partial' ? `partly downloaded (${m.missingFiles.length} file(s) missing)` : 'not downloaded'}`);
        fixes.push(`Download it: Models → ${spec.id} → Download, or npm run models -- pull ${spec.id}.`);
        continue;
      }
      const verified = m.verified === null ? (await d.models.verify(spec.id)).ok : m.verified;
      if (!verified) {
        problems.push(`${spec.id} (${name}) is corrupt (a file's checksum does not match)`);
        fixes.push(`Download it again: npm run models -- pull ${spec.id} (or Models → Download).`);
        continue;
      }
      lines.push(`${spec.id} (${name}) present and verified`);
    } catch (err) {
      problems.push(`${spec.id} (${name}): ${errorMessage(err)}`);
      fixes.push(`npm run models -- verify ${spec.id} for details.`);
    }
  }
  if (problems.length) return fail(problems.join('; '), fixes.join(' '));
  return pass(lines.join('; ') || 'no active plugin needs a model');
}

/** The model of an optional kind's plugin, as a note: present, or how to get it (never a failed check). */
async function optionalModelNote(d: DoctorDeps, info: PluginInfo): Promise<string> {
  const own = info.settings?.model?.type === 'path' ? info.values.model : undefined;
  if (typeof own === 'string' && own) return existsSync(own) ? `${info.name}: its own model ${own}` : `${info.name}'s model setting points at ${own}, which does not exist (optional: fix or clear it)`;
  const spec = info.models.find((m) => m.default) ?? info.models[0];
  if (!spec) return `${info.name}: needs no model`;
  try {
    const m = await d.models.info(spec.id);
    if (m.status === 'installed') return `${spec.id} (${info.name}) present`;
    return `${spec.id} (${info.name}, optional) is not downloaded: turns end after the silence; npm run models -- pull ${spec.id} to end them sooner`;
  } catch (err) {
    return `${spec.id} (${info.name}, optional): ${errorMessage(err)}`;
  }
}

async function checkCredentials(d: DoctorDeps): Promise<Result> {
  const missing = d.account.missing();
  if (missing) return fail(`${missing} not set`, `Copy them from the Twilio console → Account info into Settings (or .env).`);
  try {
    const a = await d.account.rest().fetchAccount();
    if (a.status !== 'active') return fail(`Twilio account "${a.name}" is ${a.status}`, 'Add funds or reactivate the account in the Twilio console → Billing.');
    return pass(`account "${a.name}" (${a.type}${a.type === 'Trial' ? ': can call verified numbers only' : ''}) accepted the credentials`);
  } catch (err) {
    const { detail, fix } = splitFix(errorMessage(err), 'Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.');
    return fail(detail, fix);
  }
}

function checkSignatures(d: DoctorDeps): Result {
  const c = d.config;
  if (!c.validateSignatures) return fail('signature checks are OFF: anyone who finds the public URL can feed this app fake calls and status updates', 'Set PARLEY_VALIDATE_SIGNATURES=true (the default).');
  if (!c.twilioAuthToken) return skip('nothing to check signatures with: TWILIO_AUTH_TOKEN is not set', 'Set TWILIO_AUTH_TOKEN.');
  const urls = d.endpoint.urls();
  return pass(`webhooks and the media stream must carry a valid X-Twilio-Signature${urls.length ? ` for ${urls.join(' or ')}` : ' (no public URL yet: checked against the request\'s own Host)'}`);
}

async function checkTunnel(d: DoctorDeps): Promise<Result> {
  const c = d.config;
  if (!c.ngrokAuthtoken) {
    if (c.publicUrl) return skip(`not used: PUBLIC_URL is ${c.publicUrl}`);
    return fail('no tunnel (NGROK_AUTHTOKEN is not set) and no PUBLIC_URL: Twilio cannot reach this computer', 'Set NGROK_AUTHTOKEN (free: https://dashboard.ngrok.com/get-started/your-authtoken), or PUBLIC_URL if you run your own https proxy.');
  }
  if (!d.listeningUrl()) return skip('Parley is not running, so neither is its tunnel', 'Start Parley and run the doctor again.');
  const deadline = Date.now() + (d.timeoutMs ?? 8_000);
  while (d.endpoint.tunnel.phase === 'connecting' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const t = d.endpoint.tunnel;
  if (t.phase === 'up') return pass(`ngrok tunnel up: ${t.url} (Twilio routes only)`);
  if (t.phase === 'connecting') return fail('the ngrok tunnel is still connecting', 'Check the internet connection; run the doctor again in a minute.');
  const { detail, fix } = splitFix(t.error ?? `the tunnel is ${t.phase}`, 'Check NGROK_AUTHTOKEN and the internet connection.');
  return fail(detail, fix);
}

async function probeHealth(d: DoctorDeps, base: string): Promise<{ ok: boolean; status?: number; body?: { instance?: string }; error?: string }> {
  const f = d.fetch ?? fetch;
  try {
    const res = await f(`${base}/health`, { headers: { 'ngrok-skip-browser-warning': '1', accept: 'application/json' }, signal: AbortSignal.timeout(d.timeoutMs ?? 8_000), redirect: 'manual' });
    const text = await res.text();
    let body: { instance?: string } | undefined;
    try {
      body = JSON.parse(text) as { instance?: string };
    } catch {
      body = undefined;
    }
    return { ok: res.ok, status: res.status, ...(body ? { body } : {}) };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return { ok: false, error: cause ? `${errorMessage(err)} (${errorMessage(cause)})` : errorMessage(err) };
  }
}

async function checkReachable(d: DoctorDeps): Promise<Result> {
  const base = d.endpoint.url();
  if (!base) return fail('no public URL', d.endpoint.problem() ?? 'Set NGROK_AUTHTOKEN or PUBLIC_URL.');
  if (!d.listeningUrl()) return skip(`Parley is not running, so ${base} has nothing to reach`, 'Start Parley and run the doctor again.');
  const httpsNote = base.startsWith('https://') ? '' : ' — but it is not https, and Twilio media streams need wss://';
  const r = await probeHealth(d, base);
  const where = `${base}/health`;
  const forwarded = d.config.ngrokAuthtoken && !d.config.publicUrl ? 'the ngrok tunnel' : `the proxy behind ${base}`;
  if (r.error) return fail(`could not reach ${where}: ${r.error}`, `Check that ${forwarded} forwards to this computer's port ${d.config.port} and that this computer is online.`);
  if (!r.ok || !r.body) return fail(`${where} answered HTTP ${r.status}${r.body ? '' : ' (not Parley\'s JSON)'}`, `Check that ${forwarded} forwards to this computer's port ${d.config.port}, not to another server.`);
  if (r.body.instance !== d.instance) return fail(`${where} is answered by another server (or another Parley), not this one`, `Point ${d.config.publicUrl ? 'PUBLIC_URL / your proxy' : 'the tunnel'} at this Parley.`);
  if (httpsNote) return fail(`${where} reaches this Parley${httpsNote}`, 'Put an https proxy in front (or use the ngrok tunnel) and set PUBLIC_URL to its https:// address.');
  return pass(`${where} reaches this Parley from outside`);
}

function checkRecords(d: DoctorDeps): Result {
  const r = d.records!();
  if (!r) return fail('the call records could not be opened: calls are not recorded', 'See the log for why (the data folder must exist and be writable), fix it and restart Parley.');
  if (!r.ok) {
    return fail(
      `${r.failedWrites} call-record write${r.failedWrites === 1 ? '' : 's'} failed and writes are still failing`,
      'Free disk space on the drive that holds the data folder (or make the folder writable again). Parley retries by itself; calls that ended meanwhile are marked "ended (record incomplete)".',
    );
  }
  return pass(r.failedWrites === 0 ? 'call records are being written' : `call records are being written again (${r.failedWrites} writes failed earlier)`);
}

export async function runDoctor(d: DoctorDeps): Promise<DoctorReport> {
  const run = async (id: string, title: string, fn: () => Result | Promise<Result>): Promise<DoctorCheck> => {
    try {
      return { id, title, ...(await fn()) };
    } catch (err) {
      return { id, title, ok: false, detail: `the check itself failed: ${errorMessage(err)}`, fix: 'Report this with the log.' };
    }
  };
  // The network checks are independent: run them side by side.
  const network = Promise.all([
    run('twilio-credentials', 'Twilio credentials accepted', () => checkCredentials(d)),
    run('twilio-number', "Twilio number's voice URL points at this app", async () => {
      const n = await d.account.checkNumber();
      return { ok: n.ok, detail: n.detail, fix: n.fix };
    }),
    run('tunnel', 'Tunnel up', () => checkTunnel(d)),
    run('public-url', 'Public URL reaches /health from outside', () => checkReachable(d)),
  ]);
  const local = [
    await run('port', 'Server port', () => checkPort(d)),
    await run('plugins', 'Plugins valid', () => checkPlugins(d)),
    await run('models', 'Models present and verified', () => checkModels(d)),
    ...(d.records ? [await run('records', 'Call records written', () => checkRecords(d))] : []),
  ];
  const [credentials, number, tunnel, reach] = await network;
  const checks = [...local, credentials!, number!, await run('signatures', 'Twilio signatures checked', () => checkSignatures(d)), tunnel!, reach!];
  return { ok: checks.every((c) => c.ok !== false), checks };
}

/** The report as text for the terminal. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = report.checks.map((c) => {
    const mark = c.ok === true ? '✓' : c.ok === false ? '✗' : '–';
    const head = `${mark} ${c.title}: ${c.detail}`;
    return c.ok === false && c.fix ? `${head}\n    → ${c.fix}` : c.ok === null && c.fix ? `${head} (${c.fix})` : head;
  });
  const failed = report.checks.filter((c) => c.ok === false).length;
  lines.push('', failed ? `${failed} check(s) failed.` : 'All checks passed.');
  return lines.join('\n') + '\n';
}
