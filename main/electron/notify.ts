/**
 * Desktop notifications in the app: an incoming call and a new message (`call.message`) show an OS
 * notification (Electron's `Notification`, given in so tests need no Electron); clicking one brings the window
 * forward. The text names the caller, never what was said beyond the message itself.
 */
import type { Core } from '../core/app.ts';
import type { CoreEvent } from '../shared/events.ts';

export interface NotificationText {
  title: string;
  body: string;
}

/** What to show for a core event, or null when it is not worth a notification. */
export function notificationFor(event: CoreEvent): NotificationText | null {
  if (event.type === 'call.started' && event.direction === 'inbound') {
    return { title: 'Incoming call', body: `${event.from ?? 'Unknown number'} — Parley is answering.` };
  }
  if (event.type === 'call.message') {
    const who = event.name || event.callback || 'A caller';
    return { title: `New message from ${who}`, body: event.message.length > 180 ? `${event.message.slice(0, 177)}…` : event.message };
  }
  return null;
}

/** The part of Electron's `Notification` class this uses. */
export interface NotificationClass {
  isSupported(): boolean;
  new (options: { title: string; body: string; silent?: boolean }): { show(): void; on(event: 'click', listener: () => void): unknown };
}

/** Show a notification for each event that has one. Returns the unsubscribe function. */
export function notifyOnEvents(core: Pick<Core, 'events'>, Notification: NotificationClass, onClick: () => void): () => void {
  return core.events.onAny((event: CoreEvent) => {
    const text = notificationFor(event);
    if (!text || !Notification.isSupported()) return;
    const n = new Notification({ title: text.title, body: text.body });
    n.on('click', onClick);
    n.show();
  });
}
