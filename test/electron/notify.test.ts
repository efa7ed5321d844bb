/** Desktop notifications in the app: an inbound call and a new message notify; other events do not. */
import { describe, expect, it } from 'vitest';
import { notificationFor, notifyOnEvents } from '../../main/electron/notify.ts';
import type { CoreEvent } from '../../main/shared/events.ts';

type Listener = (e: CoreEvent) => void;

function fakeCore() {
  const listeners = new Set<Listener>();
  return {
    events: { onAny: (l: Listener) => (listeners.add(l), () => void listeners.delete(l)) },
    emit: (e: CoreEvent) => listeners.forEach((l) => l(e)),
  };
}

describe('desktop notifications (Electron)', () => {
  it('shows one for an incoming call and one for a message, clickable, and none for an outbound call', () => {
    const shown: { title: string; body: string }[] = [];
    const clicks: (() => void)[] = [];
    class FakeNotification {
      static isSupported() {
        return true;
      }
      constructor(private readonly o: { title: string; body: string }) {}
      on(_: 'click', l: () => void) {
        clicks.push(l);
        return this;
      }
      show() {
        shown.push(this.o);
      }
    }
    const core = fakeCore();
    let focused = 0;
    const off = notifyOnEvents(core as never, FakeNotification, () => focused++);
    const started = (direction: 'inbound' | 'outbound') => ({ type: 'call.started', callSid: 'CA1', streamSid: 'MZ1', direction, from: '+15550001111', to: '+15559998888', startedAt: 1 }) as CoreEvent;
    core.emit(started('outbound'));
    core.emit(started('inbound'));
    core.emit({ type: 'call.message', callSid: 'CA1', name: 'Ada', callback: '+15550001111', message: 'Please call back about Tuesday.', at: 2 });
    core.emit({ type: 'plugins.changed', at: 3 });
    expect(shown).toEqual([
      { title: 'Incoming call', body: '+15550001111 — Parley is answering.' },
      { title: 'New message from Ada', body: 'Please call back about Tuesday.' },
    ]);
    clicks[0]!();
    expect(focused).toBe(1);
    off();
    core.emit(started('inbound'));
    expect(shown.length).toBe(2);
  });

  it('shows nothing where the OS has no notifications', () => {
    let made = 0;
    class Unsupported {
      static isSupported() {
        return false;
      }
      constructor() {
        made++;
      }
      on() {
        return this;
      }
      show() {}
    }
    const core = fakeCore();
    notifyOnEvents(core as never, Unsupported, () => {});
    core.emit({ type: 'call.message', callSid: 'CA1', name: '', callback: '', message: 'x', at: 1 });
    expect(made).toBe(0);
    expect(notificationFor({ type: 'call.message', callSid: 'CA1', name: '', callback: '', message: 'x'.repeat(300), at: 1 })!.body.length).toBe(178);
  });
});
