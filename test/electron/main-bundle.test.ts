/**
 * The bundled Electron main process (dist/main.mjs, as packaged) run under plain Node with a fake `electron`
 * (test/fixtures/electron): it registers the privileged scheme before ready, loads the GUI through parley://
 * with its CSP, creates a locked-down window, starts a real core from the user-data folder, answers IPC from
 * its window only, stores a secret only as ciphertext, forwards core events, and quits cleanly.
 * This is as close to the desktop app as a machine without the Electron binary gets.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_PLUGINS } from '../helpers/core.ts';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
type Line = { what: string; [k: string]: any };

describe('bundled main process (dist/main.mjs)', () => {
  const lines: Line[] = [];
  const userData = mkdtempSync(join(tmpdir(), 'parley-userdata-'));
  let code: number | null = null;
  let stderr = '';

  beforeAll(async () => {
    const { buildAll } = (await import(join(root, 'scripts', 'build.mjs'))) as { buildAll(o: object): Promise<void> };
    await buildAll({ renderer: true, bundles: true });
    const env: NodeJS.ProcessEnv = { ...process.env, FAKE_USER_DATA: userData, PORT: '0', PARLEY_BUILTIN_PLUGINS_DIR: TEST_PLUGINS, PARLEY_VAD: 'energy', PARLEY_LOG_LEVEL: 'warn' };
    for (const k of ['PARLEY_DATA_DIR', 'PARLEY_MODELS_DIR', 'TWILIO_AUTH_TOKEN', 'NGROK_AUTHTOKEN']) delete env[k];
    const child = spawn(process.execPath, ['--import', join(root, 'test/fixtures/electron/register.mjs'), join(root, 'dist/main.mjs')], { cwd: userData, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    code = await new Promise<number | null>((r) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 45_000);
      child.on('exit', (c) => (clearTimeout(kill), r(c)));
    });
    for (const l of out.split('\n')) if (l.startsWith('FAKE ')) lines.push(JSON.parse(l.slice(5)) as Line);
  }, 90_000);

  const find = (what: string, pred: (l: Line) => boolean = () => true) => lines.find((l) => l.what === what && pred(l));

  it('starts, serves the GUI through parley:// with its CSP, and quits cleanly', () => {
    expect(code, stderr).toBe(0);
    expect(find('schemes')?.schemes[0]).toMatchObject({ scheme: 'parley', privileges: { standard: true, secure: true } });
    expect(find('protocol')?.privilegedFirst).toBe(true);
    expect(find('loaded')).toMatchObject({ url: 'parley://app/index.html', status: 200 });
    expect(find('loaded')?.csp).toContain("script-src 'self'");
    expect(find('error-box')).toBeUndefined();
    expect(find('quit')).toBeDefined();
  });

  it('creates the window locked down', () => {
    expect(find('window')?.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(find('window')?.webPreferences.preload).toMatch(/dist[\\/]preload\.cjs$/);
  });

  it('runs the core from the user-data folder and answers its own window only', () => {
    const info = find('ipc', (l) => l.channel === 'app.info')?.result;
    expect(info).toMatchObject({ ok: true, value: { mode: 'electron', dataDir: userData, modelsDir: join(userData, 'models') } });
    expect(find('ipc', (l) => l.channel === 'status.get')?.result.value.server.ok).toBe(true);
    expect(find('ipc', (l) => l.channel === 'settings.get (stranger)')?.result).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('saves a secret only as ciphertext, tells the GUI only that it is set, and forwards core events', () => {
    const saved = find('ipc', (l) => l.channel === 'settings.save')?.result;
    expect(saved.ok).toBe(true);
    expect(saved.value.secrets.twilioAuthToken).toEqual({ set: true, source: 'keychain' });
    expect(JSON.stringify(saved)).not.toContain('tok-from-gui');
    const secrets = readFileSync(join(userData, 'secrets.json'), 'utf8');
    expect(secrets).toContain('twilioAuthToken');
    expect(secrets).not.toContain('tok-from-gui');
    const settings = readFileSync(join(userData, 'settings.json'), 'utf8');
    expect(JSON.parse(settings).greeting).toBe('Hi from the test');
    expect(settings).not.toContain('tok-from-gui');
    expect(find('events')?.types).toContain('parley:event config.changed');
  });
});
