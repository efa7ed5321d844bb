/**
 * The window's permissions: the microphone for the app's own page (parley://app), audio only, for the Test
 * call; nothing else — not the camera, not screen capture, not notifications, not another origin or a sub-frame.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
vi.mock('electron', () => ({}));
import { denyPermissions, isOwnMicrophoneCheck, isOwnMicrophoneRequest } from '../../main/electron/window.ts';
import { handleAppRequest } from '../../main/electron/protocol.ts';

type RequestHandler = (wc: { getURL(): string } | null, permission: string, cb: (ok: boolean) => void, details?: unknown) => void;
type CheckHandler = (wc: unknown, permission: string, origin: string, details: unknown) => boolean;

function installed() {
  let request: RequestHandler | undefined;
  let check: CheckHandler | undefined;
  denyPermissions({ setPermissionRequestHandler: (h: never) => (request = h), setPermissionCheckHandler: (h: never) => (check = h) } as never);
  const ask = (permission: string, details?: unknown, page = 'parley://app/index.html') => {
    const answers: boolean[] = [];
    request!({ getURL: () => page }, permission, (ok) => answers.push(ok), details);
    expect(answers).toHaveLength(1);
    return answers[0];
  };
  return { ask, check: check! };
}

const mic = { requestingUrl: 'parley://app/index.html', isMainFrame: true, mediaTypes: ['audio'] };

describe('window permissions', () => {
  it('grants the microphone to the app page, audio only', () => {
    const { ask, check } = installed();
    expect(ask('media', mic)).toBe(true);
    expect(check(null, 'media', 'parley://app', { mediaType: 'audio', isMainFrame: true })).toBe(true);
  });

  it('refuses the camera, screen capture and audio with video', () => {
    const { ask, check } = installed();
    expect(ask('media', { ...mic, mediaTypes: ['video'] })).toBe(false);
    expect(ask('media', { ...mic, mediaTypes: ['audio', 'video'] })).toBe(false);
    expect(ask('media', { ...mic, mediaTypes: [] })).toBe(false);
    expect(ask('media', { requestingUrl: mic.requestingUrl })).toBe(false);
    expect(ask('display-capture', mic)).toBe(false);
    expect(check(null, 'media', 'parley://app', { mediaType: 'video', isMainFrame: true })).toBe(false);
    expect(check(null, 'media', 'parley://app', {})).toBe(false);
  });

  it('refuses the microphone to any other origin, a sub-frame, or a window showing something else', () => {
    const { ask, check } = installed();
    expect(ask('media', { ...mic, requestingUrl: 'https://evil.example/' })).toBe(false);
    expect(ask('media', { ...mic, requestingUrl: 'parley://other/index.html' })).toBe(false);
    expect(ask('media', { ...mic, requestingUrl: 'http://127.0.0.1:3000/' })).toBe(false);
    expect(ask('media', { ...mic, isMainFrame: false })).toBe(false);
    expect(ask('media', mic, 'https://evil.example/')).toBe(false);
    expect(check(null, 'media', 'https://evil.example', { mediaType: 'audio', isMainFrame: true })).toBe(false);
    expect(check(null, 'media', 'parley://app', { mediaType: 'audio', isMainFrame: false })).toBe(false);
  });

  it('keeps every other permission denied (notifications included)', () => {
    const { ask, check } = installed();
    for (const p of ['notifications', 'geolocation', 'clipboard-read', 'midi', 'midiSysex', 'pointerLock', 'fullscreen', 'openExternal', 'unknown']) {
      expect(ask(p, mic)).toBe(false);
      expect(check(null, p, 'parley://app', { mediaType: 'audio', isMainFrame: true })).toBe(false);
    }
    expect(isOwnMicrophoneRequest('media', undefined, 'parley://app/index.html')).toBe(false);
    expect(isOwnMicrophoneCheck('media', undefined, { mediaType: 'audio' })).toBe(false);
  });
});

describe('the window may reach the Test call socket', () => {
  it("the GUI page's CSP lets it connect to the core's loopback port (ws://127.0.0.1 only)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-renderer-'));
    try {
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Parley</title>');
      const res = await handleAppRequest(new Request('parley://app/index.html'), { rendererDir: dir, recordingFile: () => null });
      expect(res.status).toBe(200);
      const connect = /connect-src ([^;]*)/.exec(res.headers.get('content-security-policy') ?? '')?.[1];
      expect(connect?.split(' ')).toEqual(["'self'", 'ws://127.0.0.1:*']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
