/**
 * `npm run models -- list | pull <id>... | verify [<id>...] | remove <id>...`: the model manager on the
 * terminal. A progress bar when stdout is a terminal, plain lines otherwise (logs, CI). Exit codes: 0 ok,
 * 1 something failed, 2 bad usage, 130 cancelled with Ctrl-C.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage, isParleyError } from '../core/errors.ts';
import { loadCatalog, strayModelFolders } from '../core/models/catalog.ts';
import { ModelLibrary, type ModelInfo, type ModelProgressEvent } from '../core/models/library.ts';
import { formatBytes } from '../core/models/messages.ts';

const USAGE = `Usage: npm run models -- <command> [options]

Commands:
  list                 the models the plugins offer, and which are on disk
  pull <id>...         download models (an interrupted download resumes)
  pull --defaults      download every plugin's default model
  verify [<id>...]     check the sha256 of model files (no id: every model with files on disk)
  remove <id>...       delete a model's folder, partial downloads included

Options:
  --models-dir DIR     where models live (default: $PARLEY_MODELS_DIR, else ./models)
  --plugins-dir DIR    a folder of plugins to read manifests from; repeatable (default: the app's plugins/),
                       $PARLEY_PLUGINS_DIR is always added when set
  --json               list: print JSON
  -h, --help           this text`;

import { APP_ROOT } from '../core/config.ts';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function duration(sec: number | null): string {
  if (sec === null) return '--:--';
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}

/** Draws `model.progress` events: a redrawn bar on a terminal, a line per state change or 10 % otherwise. */
function progressPrinter(tty: boolean): { onEvent: (e: ModelProgressEvent) => void; end: () => void } {
  let drawn = false;
  let lastStep = -1;
  let lastLine = 0;
  let lastState = '';
  return {
    onEvent(e) {
      const pct = e.total ? Math.min(100, Math.floor((e.bytes / e.total) * 100)) : null;
      const amount = `${formatBytes(e.bytes)}${e.total !== null ? ` / ${formatBytes(e.total)}` : ''}`;
      const rate = e.rate !== null ? `${formatBytes(e.rate)}/s` : '';
      const final = e.state === 'done' || e.state === 'failed' || e.state === 'cancelled';
      if (tty) {
        const width = Math.max(10, Math.min(30, (process.stdout.columns ?? 80) - 70));
        const filled = pct === null ? 0 : Math.round((pct / 100) * width);
        const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
        const label = e.state === 'downloading' ? '' : `${e.state} `;
        process.stdout.write(`\r\x1b[K${e.modelId} ${label}${bar} ${pct === null ? '  ?' : String(pct).padStart(3)}%  ${amount}  ${rate}  ETA ${duration(e.etaSec)}`);
        drawn = true;
        if (final) {
          process.stdout.write('\n');
          drawn = false;
        }
        return;
      }
      const step = pct === null ? -1 : Math.floor(pct / 10);
      const now = Date.now();
      const changed = e.state !== lastState;
      if (!changed && !final && !(pct !== null ? step > lastStep : now - lastLine >= 5000)) return;
      lastState = e.state;
      lastStep = step;
      lastLine = now;
      const extras = [amount, rate, e.etaSec !== null && !final ? `ETA ${duration(e.etaSec)}` : ''].filter(Boolean).join(', ');
      process.stdout.write(`${e.modelId}: ${e.state}${pct !== null ? ` ${pct}%` : ''} (${extras})\n`);
    },
    end() {
      if (drawn) process.stdout.write('\n');
      drawn = false;
      lastStep = -1;
      lastState = '';
    },
  };
}

function statusText(m: ModelInfo): string {
  if (m.pulling) return 'downloading';
  if (m.status === 'missing') return 'not installed';
  if (m.status === 'partial') return `partial (${formatBytes(m.bytesOnDisk)}${m.size ? ` of ${formatBytes(m.size)}` : ''}; pull resumes)`;
  if (m.verified === true) return 'installed, verified';
  if (m.verified === false) return 'installed, FAILED verify';
  return 'installed (not verified yet)';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  // `npm run models -- list | head` closes the pipe early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'models-dir': { type: 'string' },
        'plugins-dir': { type: 'string', multiple: true },
        defaults: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${errorMessage(err)}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  const [command, ...ids] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }

  const modelsDir = resolve(values['models-dir'] ?? process.env.PARLEY_MODELS_DIR ?? resolve(APP_ROOT, 'models'));
  const pluginsDirs = values['plugins-dir']?.length ? values['plugins-dir'].map((d) => resolve(d)) : [resolve(APP_ROOT, 'plugins')];
  if (process.env.PARLEY_PLUGINS_DIR && !pluginsDirs.includes(resolve(process.env.PARLEY_PLUGINS_DIR))) pluginsDirs.push(resolve(process.env.PARLEY_PLUGINS_DIR));

  const catalog = await loadCatalog(pluginsDirs);
  for (const problem of catalog.problems) process.stderr.write(`warning: skipped ${problem.dir}: ${problem.message}\n`);

  const tty = Boolean(process.stdout.isTTY);
  const printer = progressPrinter(tty);
  const manager = new ModelLibrary({ modelsDir, catalog: catalog.entries, onEvent: printer.onEvent });
  const controller = new AbortController();
  process.on('SIGINT', () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });

  const known = (id: string) => {
    if (!catalog.entries.some((e) => e.id === id)) {
      fail(`No plugin offers a model called "${id}". Run \`npm run models -- list\` to see the ones that do.`, 1);
    }
  };

  switch (command) {
    case 'list': {
      const models = await manager.list();
      if (values.json) {
        process.stdout.write(JSON.stringify({ modelsDir, models }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`Models in ${modelsDir}\n\n`);
      if (models.length === 0) {
        process.stdout.write(`No plugin lists any models (read ${pluginsDirs.join(', ')}).\n`);
        return;
      }
      const rows = [['ID', 'PLUGIN', 'KIND', 'SIZE', 'STATUS']];
      for (const m of models) rows.push([`${m.id}${m.isDefault ? ' *' : ''}`, m.plugin, m.kind, m.size === null ? '?' : formatBytes(m.size), statusText(m)]);
      process.stdout.write(`${table(rows)}\n\n* the plugin's default. Download one with \`npm run models -- pull <id>\`.\n`);
      const stray = await strayModelFolders(modelsDir, catalog.entries);
      if (stray.length) process.stdout.write(`Folders no plugin lists (safe to delete if unused): ${stray.join(', ')}\n`);
      return;
    }
    case 'pull': {
      const targets = values.defaults ? catalog.entries.filter((e) => e.isDefault).map((e) => e.id) : ids;
      if (targets.length === 0) fail(`pull needs a model id (or --defaults).\n\n${USAGE}`, 2);
      targets.forEach(known);
      let failed = false;
      for (const id of targets) {
        try {
          const result = await manager.pull(id, { signal: controller.signal });
          printer.end();
          const downloaded = result.files.filter((f) => f.outcome === 'downloaded');
          process.stdout.write(
            downloaded.length === 0 ? `${id}: already installed in ${result.dir}\n` : `${id}: installed in ${result.dir} (${formatBytes(result.downloadedBytes)} downloaded)\n`,
          );
          for (const f of downloaded.filter((f) => f.checksum === 'first-use')) {
            process.stdout.write(`  note: the manifest has no sha256 for ${f.path}; recorded ${f.sha256} — \`verify\` checks against it from now on (trust on first use).\n`);
          }
        } catch (err) {
          printer.end();
          if (isParleyError(err, 'CANCELLED')) {
            process.stderr.write(`${errorMessage(err)}\n`);
            process.exit(130);
          }
          process.stderr.write(`error: ${errorMessage(err)}\n`);
          failed = true;
        }
      }
      if (failed) process.exit(1);
      return;
    }
    case 'verify': {
      ids.forEach(known);
      const targets = ids.length ? ids : (await manager.list()).filter((m) => m.status !== 'missing').map((m) => m.id);
      if (targets.length === 0) {
        process.stdout.write(`No model files in ${modelsDir} to verify.\n`);
        return;
      }
      let failed = false;
      for (const id of targets) {
        const result = await manager.verify(id, { signal: controller.signal });
        printer.end();
        for (const f of result.files) {
          const what =
            f.status === 'ok'
              ? `ok (${f.source === 'manifest' ? 'sha256 from the manifest' : 'sha256 recorded on first use'})`
              : f.status === 'recorded'
                ? `no sha256 in the manifest; recorded ${f.actual} (trust on first use)`
                : f.status === 'missing'
                  ? 'missing'
                  : `MISMATCH (expected ${f.expected}, got ${f.actual})`;
          process.stdout.write(`  ${id}/${f.path}: ${what}\n`);
        }
        if (result.ok) process.stdout.write(`${id}: ok\n`);
        else {
          failed = true;
          process.stderr.write(`error: ${result.error?.message ?? `${id} failed verification`}\n`);
        }
      }
      if (failed) process.exit(1);
      return;
    }
    case 'remove': {
      if (ids.length === 0) fail(`remove needs a model id.\n\n${USAGE}`, 2);
      ids.forEach(known);
      for (const id of ids) {
        await manager.remove(id);
        process.stdout.write(`${id}: removed ${manager.modelDir(id)}\n`);
      }
      return;
    }
    default:
      fail(`Unknown command "${command}".\n\n${USAGE}`, 2);
  }
}

main().catch((err: unknown) => fail(`error: ${errorMessage(err)}`));
