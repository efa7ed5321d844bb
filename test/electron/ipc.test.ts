/**
 * The Electron side of the IPC layer, with `electron` mocked: every contract channel is registered; a message
 * from anything but our window's top frame on parley://app is refused before a handler runs; requests are
 * validated; the preload exposes exactly `invoke` and `onEvent` and never hands the page Electron's event.
 */
import { describe, expect, it, vi, beforeEach } from 'vitest';

const electron = vi.hoisted(() => {
  const handlers = new Map<string, (event: unknown, request: unknown) => Promise<unknown>>();
  const exposed: Record<string, unknown> = {};
  const listeners = new Map<string, ((...args: unknown[]) => void)[]>();
  return {
    handlers,
    exposed,
    listeners,
    ipcMain: { handle: vi.fn((ch: string, fn: never) => handlers.set(ch, fn)), removeHandler: vi.fn((ch: string) => handlers.delete(ch)) },
    ipcRenderer: {
      invoke: vi.fn(async (ch: string, req: unknown) => ({ ok: true, value: { echoed: ch, req } })),
      on: vi.fn((ch: string, fn: (...args: unknown[]) => void) => listeners.set(ch, [...(listeners.get(ch) ?? []), fn])),
      removeListener: vi.fn((ch: string, fn: (...args: unknown[]) => void) => listeners.set(ch, (listeners.get(ch) ?? []).filter((f) => f !== fn))),
    },
    contextBridge: { exposeInMainWorld: vi.fn((key: string, api: unknown) => (exposed[key] = api)) },
  };
});
vi.mock('electron', () => ({ ...electron, default: electron }));

import { CHANNELS, EVENT_CHANNEL, ipcName, type PreloadApi } from '../../main/shared/contract.ts';
import type { Handlers } from '../../main/ipc/handlers.ts';
import { registerIpc, senderProblem } from '../../main/electron/ipc.ts';

function fakeContents(url: string) {
  const mainFrame = { url };
  return { mainFrame, isDestroyed: () => false, send: vi.fn() };
}

function allHandlers(calls: string[]): Handlers {
  return Object.fromEntries(CHANNELS.map((c) => [c, async (req: unknown) => (calls.push(c), { channel: c, req })])) as unknown as Handlers;
}

describe('main process IPC', () => {
  beforeEach(() => electron.handlers.clear());

  it('registers exactly one handler per contract channel, under parley:<channel>', () => {
    registerIpc({ ipcMain: electron.ipcMain as never, handlers: allHandlers([]), trustedContents: () => null });
    expect([...electron.handlers.keys()].sort()).toEqual(CHANNELS.map(ipcName).sort());
  });

  it('answers our window’s top frame on parley://app', async () => {
    const win = fakeContents('parley://app/index.html');
    const calls: string[] = [];
    registerIpc({ ipcMain: electron.ipcMain as never, handlers: allHandlers(calls), trustedContents: () => win as never });
    const result = await electron.handlers.get('parley:calls.interrupt')!({ sender: win, senderFrame: win.mainFrame }, { callSid: 'CA1' });
    expect(result).toEqual({ ok: true, value: { channel: 'calls.interrupt', req: { callSid: 'CA1' } } });
    expect(calls).toEqual(['calls.interrupt']);
  });

  it.each([
    ['another web contents', () => ({ sender: fakeContents('parley://app/index.html'), senderFrame: null })],
    ['a subframe', (w: ReturnType<typeof fakeContents>) => ({ sender: w, senderFrame: { url: 'parley://app/index.html' } })],
    ['a page navigated elsewhere', () => {
      const other = fakeContents('https://evil.example/');
      return { sender: other, senderFrame: other.mainFrame, swap: true };
    }],
    ['a file:// page', () => {
      const other = fakeContents('file:///etc/passwd');
      return { sender: other, senderFrame: other.mainFrame, swap: true };
    }],
  ])('refuses %s before any handler runs', async (_what, make) => {
    const win = fakeContents('parley://app/index.html');
    const event = make(win) as { sender: ReturnType<typeof fakeContents>; senderFrame: unknown; swap?: boolean };
    const trusted = event.swap ? event.sender : win;
    const calls: string[] = [];
    const refused: string[] = [];
    registerIpc({ ipcMain: electron.ipcMain as never, handlers: allHandlers(calls), trustedContents: () => trusted as never, onRefused: (c, r) => refused.push(`${c}: ${r}`) });
    const result = (await electron.handlers.get('parley:settings.get')!(event, null)) as { ok: boolean; error: { code: string } };
    expect(result.ok).toBe(false);
    expect(result.error.code).toBe('FORBIDDEN');
    expect(calls).toEqual([]);
    expect(refused).toHaveLength(1);
  });

  it('refuses messages while there is no window', () => {
    expect(senderProblem({ sender: fakeContents('parley://app/') as never, senderFrame: null }, null)).toMatch(/not from the Parley window/);
  });

  it('validates requests: bad payloads never reach the core', async () => {
    const win = fakeContents('parley://app/index.html');
    const calls: string[] = [];
    registerIpc({ ipcMain: electron.ipcMain as never, handlers: allHandlers(calls), trustedContents: () => win as never });
    const ev = { sender: win, senderFrame: win.mainFrame };
    for (const [channel, payload] of [
      ['calls.interrupt', { callSid: 42 }],
      ['calls.dial', { to: '+15551234567', evil: true }],
      ['settings.save', { values: { controlToken: 'x' } }],
      ['settings.save', { secrets: { twilioAuthToken: 7 } }],
      ['records.export', { format: 'xml' }],
      ['plugins.setActive', { kind: 'video', name: 'x' }],
      ['app.info', { unexpected: 1 }],
    ] as const) {
      const r = (await electron.handlers.get(ipcName(channel))!(ev, payload)) as { ok: boolean; error: { code: string; message: string } };
      expect(r.ok, `${channel} ${JSON.stringify(payload)}`).toBe(false);
      expect(r.error.code).toBe('BAD_REQUEST');
      expect(r.error.message).toContain(channel);
    }
    expect(calls).toEqual([]);
  });

  it('turns the core’s errors into code + message, never a stack', async () => {
    const win = fakeContents('parley://app/index.html');
    const { ParleyError } = await import('../../main/core/errors.ts');
    const handlers = allHandlers([]);
    handlers['calls.dial'] = async () => {
      throw new ParleyError('RATE_LIMITED', 'Too many calls; wait a minute.', { details: { retryAfterSec: 42 } });
    };
    handlers['calls.hangup'] = async () => {
      throw new TypeError('boom');
    };
    registerIpc({ ipcMain: electron.ipcMain as never, handlers, trustedContents: () => win as never });
    const ev = { sender: win, senderFrame: win.mainFrame };
    expect(await electron.handlers.get('parley:calls.dial')!(ev, { to: '+15551234567' })).toEqual({
      ok: false,
      error: { code: 'RATE_LIMITED', message: 'Too many calls; wait a minute.', details: { retryAfterSec: 42 } },
    });
    const internal = (await electron.handlers.get('parley:calls.hangup')!(ev, { callSid: 'CA1' })) as { error: { code: string; message: string } };
    expect(internal.error.code).toBe('INTERNAL');
    expect(internal.error.message).not.toMatch(/at .*\.ts/);
  });
});

describe('preload bridge', () => {
  it('exposes exactly invoke and onEvent as window.parley, frozen', async () => {
    await import('../../main/electron/preload.ts');
    expect(electron.contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    const api = electron.exposed.parley as PreloadApi;
    expect(Object.keys(api).sort()).toEqual(['invoke', 'onEvent']);
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('invoke only reaches contract channels', async () => {
    const api = electron.exposed.parley as PreloadApi;
    electron.ipcRenderer.invoke.mockClear();
    expect(await api.invoke('records.list', { q: 'x' })).toEqual({ ok: true, value: { echoed: 'parley:records.list', req: { q: 'x' } } });
    for (const bad of ['parley:event', 'ELECTRON_BROWSER_WINDOW_ALERT', '__proto__', 42]) {
      const r = await api.invoke(bad as never, null);
      expect(r.ok).toBe(false);
    }
    expect(electron.ipcRenderer.invoke).toHaveBeenCalledTimes(1);
  });

  it('onEvent hands the page the payload only, and unsubscribes', () => {
    const api = electron.exposed.parley as PreloadApi;
    const got: unknown[] = [];
    const off = api.onEvent((e) => got.push(e));
    const [listener] = electron.listeners.get(EVENT_CHANNEL)!;
    const electronEvent = { sender: { send: () => {} }, ports: [] };
    listener!(electronEvent, { type: 'plugins.changed', at: 1 });
    expect(got).toEqual([{ type: 'plugins.changed', at: 1 }]);
    off();
    expect(electron.listeners.get(EVENT_CHANNEL)).toEqual([]);
  });
});
