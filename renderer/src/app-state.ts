/**
 * The GUI's shared state, fed by the core's events through the bridge: live calls, model progress, status,
 * and change counters that tell views to refetch (plugins, settings, records). Toasts live here too.
 */
import type { EventOf, GuiEvent, MessageList, StatusReport } from '../../main/shared/contract.ts';
import { bridge, call, messageOf } from './bridge.ts';
import { reduceCalls, seedCalls, Store, type CallsState } from './store.ts';

export type ModelProgress = EventOf<'model.progress'>;

export const calls = new Store<CallsState>({});
export const progress = new Store<Record<string, ModelProgress>>({});
export const status = new Store<StatusReport | null>(null);
export const versions = new Store({ plugins: 0, config: 0, records: 0 });
/** The inbox (messages taken on calls) and its undone count: the navigation's badge. */
export const inbox = new Store<MessageList | null>(null);

export async function refreshInbox(): Promise<void> {
  try {
    inbox.set(await call('messages.list'));
  } catch {
    // records unavailable: the Inbox view shows the error when opened
  }
}

export interface Toast {
  id: number;
  kind: 'info' | 'error';
  text: string;
}
export const toasts = new Store<Toast[]>([]);
let toastId = 0;

export function toast(text: string, kind: Toast['kind'] = 'info'): void {
  const id = ++toastId;
  toasts.update((list) => [...list.slice(-3), { id, kind, text }]);
  setTimeout(() => dismissToast(id), kind === 'error' ? 10_000 : 5000);
}

export function dismissToast(id: number): void {
  toasts.update((list) => list.filter((t) => t.id !== id));
}

const bump = (key: keyof ReturnType<typeof versions.get>) => versions.update((v) => ({ ...v, [key]: v[key] + 1 }));

export function handleEvent(event: GuiEvent): void {
  calls.update((s) => reduceCalls(s, event));
  switch (event.type) {
    case 'plugins.changed':
      bump('plugins');
      break;
    case 'config.changed':
      bump('config');
      break;
    case 'messages.changed':
      void refreshInbox();
      break;
    case 'call.started':
      void refreshStatus(); // lines in use
      break;
    case 'call.approval': {
      // The card is on that call's page; the toast reaches a person looking at another call or view.
      if (event.state !== 'pending') break;
      const c = calls.get()[event.callSid];
      const who = c ? (c.direction === 'outbound' ? c.to : c.from) : null;
      toast(`The agent asks to use ${event.tool}${who ? ` on the call with ${who}` : ''}: Approve or Deny it in Calls.`);
      break;
    }
    case 'call.ended':
      // The record is final a moment after the call ends.
      setTimeout(() => bump('records'), 300);
      void refreshStatus(); // lines in use
      break;
    case 'model.progress':
      progress.update((p) => ({ ...p, [event.modelId]: event }));
      break;
    case 'server.status': {
      const current = status.get();
      if (!current) break;
      if (event.component === 'records') status.set({ ...current, records: { ok: event.ok, detail: event.detail, failedWrites: event.failedWrites ?? 0 } });
      else status.set({ ...current, [event.component]: { ok: event.ok, detail: event.detail, url: event.url ?? null } });
      break;
    }
  }
}

export async function refreshStatus(): Promise<void> {
  try {
    status.set(await call('status.get'));
  } catch (err) {
    status.set({
      server: { ok: false, detail: messageOf(err), url: null },
      tunnel: { ok: false, detail: 'unknown', url: null },
      twilio: { ok: false, detail: 'unknown' },
    });
  }
}

async function refreshCalls(): Promise<void> {
  const live = await call('calls.list');
  calls.update((s) => seedCalls(s, live));
  // Turns of calls that were already going on: from the records (written turn by turn).
  for (const c of live) {
    if ((calls.get()[c.callSid]?.turns.length ?? 0) > 0) continue;
    call('records.get', { sid: c.callSid }).then(
      (detail) =>
        calls.update((s) => {
          const known = s[c.callSid];
          if (!known || known.turns.length > 0) return s;
          const turns = detail.turns.map((t) => ({
            turnId: t.turnId,
            ...(t.callerText !== null ? { caller: { text: t.callerText, final: true } } : {}),
            ...(t.agentText !== null || t.agentFullText !== null ? { agent: { text: t.agentFullText ?? t.agentText ?? '', heard: t.agentText ?? '', interrupted: t.interrupted, final: true } } : {}),
          }));
          return { ...s, [c.callSid]: { ...known, turns } };
        }),
      () => {},
    );
  }
}

/** Subscribe once, and refetch everything whenever the (headless) connection comes back. */
export function startSync(): void {
  bridge.onEvent(handleEvent);
  const all = () => {
    void refreshCalls().catch(() => {});
    void refreshStatus();
    void refreshInbox();
    versions.update((v) => ({ plugins: v.plugins + 1, config: v.config + 1, records: v.records + 1 }));
  };
  bridge.onConnection((state) => state === 'open' && all());
  if (bridge.connection() === 'open') all();
  // Status also changes without events (e.g. a tunnel dropping): look again now and then.
  setInterval(() => void refreshStatus(), 15_000);
}
