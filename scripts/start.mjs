#!/usr/bin/env node
// `npm start`: build the GUI and the app bundles, then launch the desktop app (Electron).
// Electron's binary comes from GitHub, so `npm install` skips it (.npmrc ignore-scripts); when it is missing this
// script tries to fetch it once (node node_modules/electron/install.js). When that is impossible — an offline
// machine, GitHub unreachable — or there is no display, it says so plainly and runs the headless core instead,
// with the same GUI served to your browser: open the printed `GUI:` link.
//
//   npm start                  desktop app (or the browser fallback)
//   npm start -- --headless    always the headless core + browser GUI
//   npm start -- --help        the server's options (also accepted in headless mode)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAll } from './build.mjs';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const forceHeadless = args.includes('--headless');
const serverArgs = args.filter((a) => a !== '--headless');
const say = (line) => process.stdout.write(`parley: ${line}\n`);

function electronBinary() {
  const dir = join(root, 'node_modules', 'electron');
  try {
    const rel = readFileSync(join(dir, 'path.txt'), 'utf8').trim();
    const bin = join(dir, 'dist', rel);
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

function fetchElectron() {
  const installer = join(root, 'node_modules', 'electron', 'install.js');
  if (!existsSync(installer)) return { ok: false, why: 'the electron package is not installed (run `npm install`)' };
  say("Electron's binary is missing; fetching it once (node node_modules/electron/install.js)…");
  const r = spawnSync(process.execPath, [installer], { cwd: root, encoding: 'utf8', timeout: 5 * 60_000 });
  if (r.status === 0 && electronBinary()) return { ok: true };
  const lines = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const reason = lines.find((l) => /^(Error|RequestError|HTTPError)|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(l)) ?? lines[0] ?? (r.error ? r.error.message : `exit status ${r.status}`);
  return { ok: false, why: `the download failed (${reason.slice(0, 200)}); it comes from github.com, which this machine cannot reach` };
}

function hasDisplay() {
  return process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

function run(cmd, argv, env = process.env) {
  const child = spawn(cmd, argv, { cwd: process.cwd(), stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function headless(reason) {
  if (reason) say(`${reason}\nparley: starting the headless core instead — open the "GUI:" link below in your browser.`);
  run(process.execPath, ['--import', 'tsx', join(root, 'main', 'cli', 'headless.ts'), ...serverArgs]);
}

if (serverArgs.includes('--help') || serverArgs.includes('-h')) {
  headless(null);
} else {
  const started = Date.now();
  try {
    await buildAll();
    say(`built the GUI and the app in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    say(`the build failed: ${err?.message ?? err}`);
    process.exit(1);
  }
  if (forceHeadless) headless(null);
  else {
    let bin = electronBinary();
    let why = null;
    if (!bin) {
      const fetched = fetchElectron();
      if (fetched.ok) bin = electronBinary();
      else why = `the desktop app cannot start: Electron's binary is missing and ${fetched.why}.`;
    }
    if (bin && !hasDisplay()) {
      why = 'the desktop app cannot start: there is no display (DISPLAY / WAYLAND_DISPLAY unset).';
      bin = null;
    }
    if (!bin) headless(why);
    else {
      // Chromium refuses to run as root without --no-sandbox (containers, CI): say so rather than fail.
      const extra = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
      if (extra.length) say('running as root: starting Electron with --no-sandbox (Chromium requires it for root).');
      if (serverArgs.length) say(`the desktop app takes its settings from the Settings view and the environment; ignoring ${serverArgs.join(' ')}`);
      run(bin, [root, ...extra]);
    }
  }
}
