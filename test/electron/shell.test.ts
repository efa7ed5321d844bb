/**
 * The rest of the Electron shell, with `electron` mocked: secrets are stored only as safeStorage ciphertext and
 * refused where there is no real keychain; the window's web preferences follow the security checklist, new
 * windows and navigation away from the app are denied; the parley:// protocol serves the GUI with its CSP,
 * never a file outside it, and recordings with Range support.
 */
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

vi.mock('electron', () => ({ default: {} }));

import { KEYCHAIN_DETAIL, NO_KEYCHAIN_DETAIL, SafeStorageSecrets } from '../../main/electron/secrets.ts';
import { denyPermissions, isExternalLink, lockDownContents, windowOptions } from '../../main/electron/window.ts';
import { APP_URL, handleAppRequest, isAppUrl } from '../../main/electron/protocol.ts';

/** A stand-in for safeStorage: reversible, but visibly not plain text. */
function fakeSafeStorage(options: { available?: boolean; backend?: string } = {}) {
  return {
    isEncryptionAvailable: () => options.available ?? true,
    getSelectedStorageBackend: () => (options.backend ?? 'gnome_libsecret') as never,
    encryptString: (s: string) => Buffer.from([...Buffer.from(s)].map((b) => b ^ 0x5a)),
    decryptString: (b: Buffer) => Buffer.from([...b].map((x) => x ^ 0x5a)).toString(),
  };
}

describe('secrets (safeStorage)', () => {
  it('stores only ciphertext, reads it back at start-up, and forgets on clear', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'parley-secrets-')), 'secrets.json');
    const store = new SafeStorageSecrets(file, fakeSafeStorage(), 'linux');
    expect(store.writable()).toEqual({ writable: true, detail: KEYCHAIN_DETAIL });
    store.save('twilioAuthToken', 'tok-123456');
    expect(readFileSync(file, 'utf8')).not.toContain('tok-123456');
    expect(store.has('twilioAuthToken')).toBe(true);
    expect(store.has('ngrokAuthtoken')).toBe(false);
    expect(new SafeStorageSecrets(file, fakeSafeStorage(), 'linux').load()).toEqual({ twilioAuthToken: 'tok-123456' });
    store.clear('twilioAuthToken');
    expect(store.load()).toEqual({});
  });

  it.each([
    ['no encryption at all', { available: false }, 'darwin'],
    ["Linux's hard-coded-key fallback (basic_text)", { backend: 'basic_text' }, 'linux'],
  ] as const)('refuses to save with %s, saying what to do instead', (_what, opts, platform) => {
    const file = join(mkdtempSync(join(tmpdir(), 'parley-secrets-')), 'secrets.json');
    const store = new SafeStorageSecrets(file, fakeSafeStorage(opts), platform);
    expect(store.writable()).toEqual({ writable: false, detail: NO_KEYCHAIN_DETAIL });
    expect(() => store.save('ngrokAuthtoken', 'x')).toThrow(/environment or in \.env/);
  });

  it('skips (and reports) a secret that no longer decrypts', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'parley-secrets-')), 'secrets.json');
    writeFileSync(file, JSON.stringify({ twilioAuthToken: 'AAAA', somethingElse: 'BBBB' }));
    const storage = { ...fakeSafeStorage(), decryptString: () => { throw new Error('keychain changed'); } };
    const problems: string[] = [];
    expect(new SafeStorageSecrets(file, storage, 'darwin').load((k) => problems.push(k))).toEqual({});
    expect(problems).toEqual(['twilioAuthToken']);
  });
});

describe('window', () => {
  it('follows the security checklist', () => {
    const prefs = windowOptions('/app/preload.cjs').webPreferences!;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, preload: '/app/preload.cjs' });
  });

  it('denies new windows (https links go to the browser) and navigation away from the app', () => {
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    const on: Record<string, (e: { preventDefault(): void }, url?: string) => void> = {};
    const contents = { setWindowOpenHandler: (h: typeof openHandler) => (openHandler = h), on: (ev: string, fn: (typeof on)[string]) => (on[ev] = fn) };
    const opened: string[] = [];
    lockDownContents(contents as never, { openExternal: async (u: string) => void opened.push(u) });
    expect(openHandler!({ url: 'https://www.twilio.com/console' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://www.twilio.com/console']);
    const navigate = (url: string) => {
      const e = { prevented: false, preventDefault() { this.prevented = true; } };
      on['will-navigate']!(e, url);
      return e.prevented;
    };
    expect(navigate(APP_URL)).toBe(false);
    expect(navigate('https://evil.example/')).toBe(true);
    expect(navigate('file:///home/user/.ssh/id_rsa')).toBe(true);
    expect(navigate('parley://other/index.html')).toBe(true);
    const webview = { prevented: false, preventDefault() { this.prevented = true; } };
    on['will-attach-webview']!(webview);
    expect(webview.prevented).toBe(true);
    expect(isExternalLink('javascript:alert(1)')).toBe(false);
  });

  it('refuses a permission request that names no origin or media types (the microphone rule: test/electron/permissions.test.ts)', () => {
    let request: ((wc: unknown, p: string, cb: (ok: boolean) => void) => void) | undefined;
    let check: (() => boolean) | undefined;
    denyPermissions({ setPermissionRequestHandler: (h: never) => (request = h), setPermissionCheckHandler: (h: never) => (check = h) } as never);
    const answers: boolean[] = [];
    request!(null, 'media', (ok) => answers.push(ok));
    expect(answers).toEqual([false]);
    expect(check!()).toBe(false);
  });
});

describe('parley:// protocol', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-renderer-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Parley</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  const wav = join(dir, 'call.wav');
  writeFileSync(wav, Buffer.alloc(1000, 7));
  const options = { rendererDir: dir, recordingFile: (sid: string) => (sid === 'CA1' ? wav : null) };
  const get = (url: string, headers: Record<string, string> = {}) => handleAppRequest(new Request(url, { headers }), options);

  it('serves the GUI with a strict Content-Security-Policy', async () => {
    const res = await get('parley://app/index.html');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect((await get('parley://app/assets/app.js')).status).toBe(200);
  });

  it('never serves a file outside the GUI', async () => {
    for (const url of ['parley://app/assets/..%2F..%2Fetc%2Fpasswd', 'parley://app/assets/%2e%2e%2fcall.wav', 'parley://app/../call.wav', 'parley://app/call.wav', 'parley://other/index.html']) {
      expect((await get(url)).status, url).toBe(404);
    }
  });

  it('serves a recording, with Range for seeking', async () => {
    const full = await get('parley://app/recordings/CA1.wav');
    expect(full.status).toBe(200);
    expect((await full.arrayBuffer()).byteLength).toBe(1000);
    const part = await get('parley://app/recordings/CA1.wav', { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    expect((await get('parley://app/recordings/CA2.wav')).status).toBe(404);
  });

  it('knows its own URLs', () => {
    expect(isAppUrl('parley://app/index.html#/calls')).toBe(true);
    expect(isAppUrl('parley://app.evil/index.html')).toBe(false);
    expect(isAppUrl('parley://user@app/')).toBe(false);
  });
});
