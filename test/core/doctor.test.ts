/**
 * The setup doctor: all green on a complete setup (fake Twilio, fake ngrok, the public URL really fetched),
 * and every failed check saying what to do next — through core.doctor(), GET /doctor and `npm run doctor`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, type Config } from '../../main/core/config.ts';
import { runDoctor, type DoctorCheck, type DoctorDeps } from '../../main/core/setup-doctor.ts';
import type { NgrokConnectConfig } from '../../main/core/tunnel/ngrok.ts';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TWILIO_NUMBER } from '../helpers/fake-twilio.ts';
import { TEST_PLUGINS, startTestCore, until, type TestCore } from '../helpers/core.ts';

const TUNNEL = 'https://doc123.ngrok-free.app';
const byId = (checks: DoctorCheck[], id: string): DoctorCheck => checks.find((c) => c.id === id)!;

describe('a complete setup', () => {
  let fake: FakeTwilio;
  let t: TestCore;
  let forwardTo = '';
  beforeAll(async () => {
    fake = await new FakeTwilio().start();
    fake.numbers[0]!.voice_url = `${TUNNEL}/voice/incoming`;
    fake.numbers[0]!.status_callback = `${TUNNEL}/voice/status`;
    t = await startTestCore(
      { twilioAccountSid: ACCOUNT_SID, twilioAuthToken: AUTH_TOKEN, twilioPhoneNumber: TWILIO_NUMBER, ngrokAuthtoken: 'tok', greeting: '' },
      {
        twilioApiUrl: fake.url,
        ngrokConnect: async (c: NgrokConnectConfig) => ((forwardTo = c.addr), { url: () => TUNNEL, close: async () => {} }),
        // "The internet": requests to the tunnel's URL arrive at what the tunnel forwards to.
        fetch: (input, init) => fetch(String(input).replace(TUNNEL, forwardTo), init),
      },
    );
    await until(() => t.core.status().tunnel.ok && t.core.status().twilio.ok, 'tunnel and Twilio ready');
  });
  afterAll(async () => {
    await t.stop();
    await fake.stop();
  });

  it('passes every check, and GET /doctor says the same', async () => {
    const report = await t.core.doctor();
    expect(report.checks.map((c) => [c.id, c.ok])).toEqual([
      ['port', true],
      ['plugins', true],
      ['models', true],
      ['records', true],
      ['twilio-credentials', true],
      ['twilio-number', true],
      ['signatures', true],
      ['tunnel', true],
      ['public-url', true],
    ]);
    expect(report.ok).toBe(true);
    expect(byId(report.checks, 'public-url').detail).toBe(`${TUNNEL}/health reaches this Parley from outside`);
    const overHttp = await (await fetch(`${t.url}/doctor`, { headers: t.auth })).json();
    expect(overHttp.checks.map((c: { id: string; ok: boolean }) => c.ok)).toEqual(report.checks.map((c) => c.ok));
  });

  it('a number pointing elsewhere: says where to set the URL, or how to let Parley do it', async () => {
    fake.numbers[0]!.voice_url = 'https://old.example/voice';
    try {
      const c = byId((await t.core.doctor()).checks, 'twilio-number');
      expect(c.ok).toBe(false);
      expect(c.detail).toBe(`${TWILIO_NUMBER} sends calls to https://old.example/voice, not to ${TUNNEL}/voice/incoming`);
      expect(c.fix).toMatch(new RegExp(`Phone Numbers → \\${TWILIO_NUMBER} → Voice configuration.*Webhook ${TUNNEL}/voice/incoming \\(HTTP POST\\).*PARLEY_UPDATE_TWILIO_NUMBER`));
    } finally {
      fake.numbers[0]!.voice_url = `${TUNNEL}/voice/incoming`;
    }
  });

  it('bad credentials, the public URL answered by another server, signatures off: each with its fix', async () => {
    t.core.applySettings({ validateSignatures: false }); // (re-checks the credentials: before the failure is armed)
    await until(() => t.core.status().twilio.ok, 'credentials re-checked');
    fake.failNext('GET', /Accounts\/AC[0-9a-f]+\.json$/, { status: 401, code: 20003, message: 'Authenticate' });
    const other = createServer((_req, res) => res.end(JSON.stringify({ ok: true, instance: 'someone-else' })));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const realForward = forwardTo;
    forwardTo = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    try {
      const report = await t.core.doctor();
      expect(report.ok).toBe(false);
      expect(byId(report.checks, 'twilio-credentials')).toMatchObject({ ok: false, detail: 'Twilio rejected the credentials (Twilio error 20003)', fix: expect.stringMatching(/^Check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in Settings/) });
      expect(byId(report.checks, 'public-url')).toMatchObject({ ok: false, detail: expect.stringMatching(/is answered by another server/), fix: 'Point the tunnel at this Parley.' });
      expect(byId(report.checks, 'signatures')).toMatchObject({ ok: false, fix: 'Set PARLEY_VALIDATE_SIGNATURES=true (the default).' });
    } finally {
      t.core.applySettings({ validateSignatures: true });
      forwardTo = realForward;
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('the public URL unreachable: says to check the tunnel forwards here', async () => {
    const realForward = forwardTo;
    forwardTo = 'http://127.0.0.1:9';
    try {
      const c = byId((await t.core.doctor()).checks, 'public-url');
      expect(c.ok).toBe(false);
      expect(c.detail).toMatch(new RegExp(`could not reach ${TUNNEL}/health: fetch failed`));
      expect(c.fix).toMatch(/Check that the ngrok tunnel forwards to this computer's port/);
    } finally {
      forwardTo = realForward;
    }
  });
});

describe('doctor checks on their own', () => {
  const config = (over: Partial<Config> = {}): Config => ({ ...DEFAULTS, pluginSettings: {}, ...over }) as Config;
  const plugin = (name: string, kind: 'stt' | 'llm' | 'tts', over: Record<string, unknown> = {}) => ({ name, kind, dir: `/plugins/${name}`, status: 'ready', error: null, values: {}, models: [], ...over });
  const deps = (over: Partial<DoctorDeps> & { list?: unknown[]; problems?: unknown[]; info?: (id: string) => unknown }): DoctorDeps =>
    ({
      config: config(),
      plugins: { list: () => over.list ?? [], activeName: (k: string) => (over.list as { name: string; kind: string }[] | undefined)?.find((p) => p.kind === k)?.name ?? null, problems: () => over.problems ?? [] },
      models: { info: async (id: string) => over.info?.(id), verify: async () => ({ ok: false }) },
      account: { missing: () => '', rest: () => ({ fetchAccount: async () => ({ name: 'x', status: 'active', type: 'Full' }) }), checkNumber: async () => ({ ok: true, detail: '', fix: '' }) },
      endpoint: { url: () => '', urls: () => [], problem: () => 'Twilio cannot reach this computer yet: set NGROK_AUTHTOKEN or PUBLIC_URL.', tunnel: { phase: 'off' } },
      listeningUrl: () => null,
      instance: 'me',
      ...over,
    }) as unknown as DoctorDeps;

  it('call records: fails while writes are failing (a full disk), says to free space; passes once they work', async () => {
    const failing = { ok: false, failedWrites: 3, detail: '3 call-record writes failed' };
    const c = byId((await runDoctor(deps({ records: () => failing }))).checks, 'records');
    expect(c.ok).toBe(false);
    expect(c.detail).toBe('3 call-record writes failed and writes are still failing');
    expect(c.fix).toMatch(/^Free disk space on the drive that holds the data folder/);
    const again = byId((await runDoctor(deps({ records: () => ({ ok: true, failedWrites: 3, detail: '' }) }))).checks, 'records');
    expect(again).toMatchObject({ ok: true, detail: 'call records are being written again (3 writes failed earlier)' });
    expect(byId((await runDoctor(deps({ records: () => null }))).checks, 'records').ok).toBe(false);
  });

  it('plugins missing, broken or failed, and stray folders: named, with what to do', async () => {
    const report = await runDoctor(
      deps({
        list: [plugin('bad-stt', 'stt', { status: 'broken', error: 'SyntaxError: Unexpected token' }), plugin('my-llm', 'llm', { status: 'failed', error: 'model file missing' })],
        problems: [{ dir: '/x/junk', source: 'user', message: 'no manifest.json' }],
      }),
    );
    const c = byId(report.checks, 'plugins');
    expect(c.ok).toBe(false);
    expect(c.detail).toBe('bad-stt (stt) does not load: SyntaxError: Unexpected token; my-llm (llm) failed to start: model file missing; no tts plugin; skipped folder /x/junk: no manifest.json');
    expect(c.fix).toMatch(/Fix or remove \/plugins\/bad-stt\..*Install a tts plugin into.*Fix or remove \/x\/junk\./);
  });

  it('models not downloaded or corrupt: says which command (or button) fixes it', async () => {
    const spec = (id: string) => ({ models: [{ id, default: true, files: [] }] });
    const report = await runDoctor(
      deps({
        list: [plugin('whisper-stt', 'stt', spec('tiny.en')), plugin('llama-llm', 'llm', spec('qwen')), plugin('piper-tts', 'tts', { settings: { model: { type: 'path' } }, values: { model: '/nowhere/voice.onnx' } })],
        info: (id) => (id === 'tiny.en' ? { status: 'missing', missingFiles: ['a'] } : { status: 'installed', verified: false, missingFiles: [] }),
      }),
    );
    const c = byId(report.checks, 'models');
    expect(c.ok).toBe(false);
    expect(c.detail).toBe("tiny.en (whisper-stt) is not downloaded; qwen (llama-llm) is corrupt (a file's checksum does not match); piper-tts's model setting points at /nowhere/voice.onnx, which does not exist");
    expect(c.fix).toBe('Download it: Models → tiny.en → Download, or npm run models -- pull tiny.en. Download it again: npm run models -- pull qwen (or Models → Download). Fix piper-tts\'s "model" setting, or clear it to use the catalogue model.');
  });

  it('a `model` setting is a file only when its type is "path": openai-llm\'s model is a name on its server', async () => {
    const report = await runDoctor(
      deps({
        list: [
          plugin('whisper-stt', 'stt', { settings: { model: { type: 'path' } }, values: { model: '/nowhere/whisper' } }),
          plugin('openai-llm', 'llm', { settings: { model: { type: 'string' } }, values: { model: 'qwen2.5:0.5b' } }),
          plugin('piper-tts', 'tts', { settings: { model: { type: 'path' } }, values: { model: '' } }),
        ],
      }),
    );
    const c = byId(report.checks, 'models');
    expect(c.detail).toBe("whisper-stt's model setting points at /nowhere/whisper, which does not exist");
    expect(c.detail).not.toContain('qwen2.5');
    const ok = byId((await runDoctor(deps({ list: [plugin('openai-llm', 'llm', { settings: { model: { type: 'string' } }, values: { model: 'llama3.2:1b' } })] }))).checks, 'models');
    expect(ok).toMatchObject({ ok: true, detail: 'openai-llm: needs no model' });
  });

  it('the port taken by another program, or by another Parley', async () => {
    const busy = async (handler: RequestListener) => {
      const s: Server = createServer(handler);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const port = (s.address() as { port: number }).port;
      const c = byId((await runDoctor(deps({ config: config({ host: '127.0.0.1', port }) }))).checks, 'port');
      await new Promise<void>((r) => s.close(() => r()));
      return c;
    };
    expect(await busy((_q, res) => res.end('hello'))).toMatchObject({ ok: false, detail: expect.stringMatching(/in use by another program/), fix: expect.stringMatching(/--port <another port>/) });
    expect(await busy((_q, res) => res.end('{"ok":true,"instance":"abc"}'))).toMatchObject({ ok: false, detail: expect.stringMatching(/in use by another Parley that is already running/) });
  });

  it('every failed check of an empty setup has a fix', async () => {
    const report = await runDoctor(deps({ account: { missing: () => 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN', checkNumber: async () => ({ ok: null, detail: 'skipped', fix: 'x' }) } as never }));
    const failed = report.checks.filter((c) => c.ok === false);
    expect(failed.map((c) => c.id)).toEqual(['plugins', 'twilio-credentials', 'tunnel', 'public-url']);
    for (const c of failed) expect(c.fix.length, c.id).toBeGreaterThan(15);
  });
});

describe('npm run doctor', () => {
  it('prints the report and exits non-zero when a check fails', { timeout: 60_000 }, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-doctor-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, PARLEY_DATA_DIR: dataDir };
      for (const k of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_PHONE_NUMBER', 'NGROK_AUTHTOKEN', 'PUBLIC_URL', 'PARLEY_CONTROL_TOKEN']) env[k] = '';
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'main/cli/doctor.ts', '--plugins-dir', TEST_PLUGINS, '--port', '0'], { cwd: join(import.meta.dirname, '../..'), env, encoding: 'utf8' });
      expect(run.stdout).toContain('✓ Plugins valid: stt: test-stt, llm: test-llm, tts: test-tts');
      expect(run.stdout).toContain('✗ Twilio credentials accepted: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN not set\n    → Copy them from the Twilio console');
      expect(run.stdout).toMatch(/3 check\(s\) failed\.\n$/);
      expect(run.status).toBe(1);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
