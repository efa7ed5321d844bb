/**
 * The preload bridge (sandboxed, context-isolated): the page gets `window.parley` with exactly two functions —
 * `invoke(channel, request)` for the contract's request channels and `onEvent(listener)` for core events.
 * No ipcRenderer, no Electron event objects, no Node reach the page.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { EVENT_CHANNEL, ipcName, isChannel, type GuiEvent, type IpcResult, type PreloadApi } from '../shared/contract.ts';

type Ipc = Pick<typeof ipcRenderer, 'invoke' | 'on' | 'removeListener'>;

export function createPreloadApi(ipc: Ipc): PreloadApi {
  return Object.freeze({
    invoke(channel: unknown, request: unknown): Promise<IpcResult<unknown>> {
      if (!isChannel(channel)) return Promise.resolve({ ok: false, error: { code: 'BAD_REQUEST', message: `unknown channel ${JSON.stringify(channel)}` } });
      return ipc.invoke(ipcName(channel), request) as Promise<IpcResult<unknown>>;
    },
    onEvent(listener: (event: GuiEvent) => void): () => void {
      if (typeof listener !== 'function') throw new TypeError('onEvent needs a function');
      // Hand the page the event payload only, never Electron's event object (it reaches the sender).
      const wrapped = (_event: unknown, payload: GuiEvent) => listener(payload);
      ipc.on(EVENT_CHANNEL, wrapped);
      return () => void ipc.removeListener(EVENT_CHANNEL, wrapped);
    },
  });
}

contextBridge.exposeInMainWorld('parley', createPreloadApi(ipcRenderer));
