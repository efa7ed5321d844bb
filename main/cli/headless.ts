/**
 * `npm run headless -- [options]`: the core without Electron. Prints `listening on http://HOST:PORT`, then
 * `GUI: http://127.0.0.1:PORT/#token=…` — the desktop app's GUI in a browser (main/web/gui-server.ts).
 * Run with --help for every option (they mirror the environment variables in .env.example).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createCore } from '../core/app.ts';
import { APP_ROOT, helpText, loadConfig, parseArgs } from '../core/config.ts';
import { errorMessage, isParleyError } from '../core/errors.ts';
import { attachWebGui, newGuiToken } from '../web/gui-server.ts';
import { headlessHost } from '../web/headless-host.ts';
import { rendererBuilder } from '../web/renderer-build.ts';
import { rendererBuilt } from '../web/static-files.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (parseArgs(argv).help) {
    process.stdout.write(helpText('npm run headless --'));
    return;
  }
  const config = loadConfig({ argv });
  const core = createCore(config);
  // The GUI link carries the control token when one is configured, else a fresh random one for this run.
  const randomToken = newGuiToken();
  const version = (JSON.parse(readFileSync(resolve(APP_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // Straight after `npm install` there is no built GUI yet: build it now (and on demand, should it be removed).
  const build = rendererBuilder();
  const gui = attachWebGui(core, { token: () => config.controlToken || randomToken, host: headlessHost(version), build });
  const addr = await core.start();
  process.stdout.write(`listening on ${addr.url}\n`);
  process.stdout.write(`GUI: ${gui.url()}\n`);
  if (!rendererBuilt()) {
    process.stdout.write('  (building the GUI, a few seconds; the link works meanwhile and shows it once built)\n');
    build().then(
      () => process.stdout.write('  GUI built.\n'),
      (err: unknown) => process.stdout.write(`  the GUI could not be built: ${errorMessage(err)}\n`),
    );
  }
  // The control API's bearer token (PARLEY_CONTROL_TOKEN, or generated into the data folder on first run).
  process.stdout.write(`control API: curl -H "Authorization: Bearer ${config.controlToken}" ${addr.url}/status   (docs/api.md)\n`);
  const showPublic = (u: string | null | undefined) => u && process.stdout.write(`public URL (Twilio): ${u}  → voice webhook ${u}/voice/incoming\n`);
  if (core.publicUrl()) showPublic(core.publicUrl());
  else core.events.on('server.status', (e) => e.component === 'tunnel' && e.ok && showPublic(e.url));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    core.log.info(`${signal}: ending calls and stopping`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gui.close();
    await core.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`parley: ${isParleyError(err) ? err.message : errorMessage(err)}\n`);
  if (!isParleyError(err) && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
});
