/**
 * Desktop notifications in the headless GUI (the browser's Notification API): an incoming call and a new
 * message, while the page is not in front. Permission is asked only on a click (the status bar's
 * "Turn on notifications"), never on load. In the Electron app the main process notifies instead
 * (main/electron/notify.ts), so this stays off there.
 */
import type { GuiEvent } from '../../main/shared/contract.ts';
import { bridge } from './bridge.ts';
import { Store } from './store.ts';

export type NotifyPermission = 'granted' | 'denied' | 'default' | 'unsupported';

const api = (): typeof Notification | null => (bridge.mode === 'headless' && typeof Notification === 'function' ? Notification : null);

export const notifyPermission = new Store<NotifyPermission>(api()?.permission ?? 'unsupported');

/** Ask the browser (call this from a click). */
export async function askNotifyPermission(): Promise<void> {
  const N = api();
  if (!N) return;
  notifyPermission.set(await N.requestPermission());
}

export function notificationText(event: GuiEvent): { title: string; body: string } | null {
  if (event.type === 'call.started' && event.direction === 'inbound') return { title: 'Incoming call', body: `${event.from ?? 'Unknown number'} — Parley is answering.` };
  if (event.type === 'call.message') {
    const who = event.name || event.callback || 'A caller';
    return { title: `New message from ${who}`, body: event.message.length > 180 ? `${event.message.slice(0, 177)}…` : event.message };
  }
  return null;
}

/** Show a notification for each event worth one, while the page is hidden or not focused. */
export function startBrowserNotifications(): () => void {
  return bridge.onEvent((event) => {
    const N = api();
    if (!N || N.permission !== 'granted') return;
    if (document.visibilityState === 'visible' && document.hasFocus()) return;
    const text = notificationText(event);
    if (!text) return;
    const n = new N(text.title, { body: text.body, tag: `${event.type}:${'callSid' in event ? event.callSid : ''}` });
    n.onclick = () => {
      focus();
      n.close();
    };
  });
}
