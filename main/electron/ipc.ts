/**
 * Electron IPC ↔ the contract's handlers. Every request channel is one `ipcMain.handle`; every message's sender
 * is checked first (our window's main frame, loaded from parley://app) — anything else is refused without
 * reaching a handler. Core events go to the window on the one event channel.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { Core } from '../core/app.ts';
import { CHANNELS, EVENT_CHANNEL, ipcName, type IpcResult } from '../shared/contract.ts';
import { dispatch, forwardEvents, type Handlers } from '../ipc/handlers.ts';
import { APP_ORIGIN, isAppUrl } from './protocol.ts';

export interface IpcOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  handlers: Handlers;
  /** The web contents allowed to talk to the app (the main window's). */
  trustedContents: () => WebContents | null;
  onRefused?: (channel: string, reason: string) => void;
}

/** Why a message is refused, or null when it comes from our window's top frame on parley://app. */
export function senderProblem(event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>, trusted: WebContents | null): string | null {
  if (!trusted || event.sender !== trusted) return 'not from the Parley window';
  const frame = event.senderFrame;
  if (!frame) return 'the sending frame is gone';
  if (frame !== event.sender.mainFrame) return 'not from the top frame';
  if (!isAppUrl(frame.url)) return `from ${frame.url.slice(0, 80) || 'a page with no URL'}, not ${APP_ORIGIN}`;
  return null;
}

export function registerIpc(options: IpcOptions): () => void {
  for (const channel of CHANNELS) {
    options.ipcMain.handle(ipcName(channel), async (event, request: unknown): Promise<IpcResult<unknown>> => {
      const problem = senderProblem(event, options.trustedContents());
      if (problem) {
        options.onRefused?.(channel, problem);
        return { ok: false, error: { code: 'FORBIDDEN', message: `IPC refused: ${problem}` } };
      }
      return dispatch(options.handlers, channel, request);
    });
  }
  return () => {
    for (const channel of CHANNELS) options.ipcMain.removeHandler(ipcName(channel));
  };
}

/** Core events → the window (if it is there). Returns the unsubscribe function. */
export function sendEventsTo(core: Core, contents: () => WebContents | null): () => void {
  return forwardEvents(core, (event) => {
    const wc = contents();
    if (wc && !wc.isDestroyed()) wc.send(EVENT_CHANNEL, event);
  });
}
