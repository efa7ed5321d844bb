/** The window: navigation, the current view, the status bar. Views are addressed by the URL hash (#/calls). */
import { useEffect, useRef, useState } from 'preact/hooks';
import { calls, inbox } from './app-state.ts';
import { bridge, call, type Connection } from './bridge.ts';
import { StatusBar } from './components/status-bar.tsx';
import { Toasts } from './components/toasts.tsx';
import { startBrowserNotifications } from './notifications.ts';
import { useStore } from './store.ts';
import { CallsView } from './views/calls.tsx';
import { GetStartedView } from './views/get-started.tsx';
import { DialView } from './views/dial.tsx';
import { HistoryView } from './views/history.tsx';
import { InboxView } from './views/inbox.tsx';
import { ModelsView } from './views/models.tsx';
import { PluginsView } from './views/plugins.tsx';
import { PersonasView } from './views/personas.tsx';
import { SettingsView } from './views/settings.tsx';

const VIEWS = [
  { id: 'calls', label: 'Calls' },
  { id: 'dial', label: 'Dial' },
  { id: 'history', label: 'History' },
  { id: 'inbox', label: 'Inbox' },
  { id: 'plugins', label: 'Plugins' },
  { id: 'models', label: 'Models' },
  { id: 'personas', label: 'Personas' },
  { id: 'settings', label: 'Settings' },
] as const;
/** Views reachable without a navigation link: Get started opens from the status bar (and on first launch). */
const EXTRA_VIEWS = ['get-started'] as const;
type ViewId = (typeof VIEWS)[number]['id'] | (typeof EXTRA_VIEWS)[number];
const FIRST_RUN_KEY = 'parley.getStarted.autoOpened';

/** `#/history/CA123` → view + selection; the token fragment (#token=…) is kept aside by the bridge. */
function parseRoute(hash: string): { view: ViewId; sid: string | null } {
  const m = /#\/([a-z-]+)(?:\/([^&]+))?/.exec(hash);
  const extra = EXTRA_VIEWS.find((v) => v === m?.[1]);
  const view = (extra ?? VIEWS.find((v) => v.id === m?.[1])?.id ?? 'calls') as ViewId;
  return { view, sid: m?.[2] ? decodeURIComponent(m[2]) : null };
}

function routeHash(view: ViewId, sid: string | null): string {
  const token = /(?:^#|&)(token=[^&]+)/.exec(location.hash)?.[1];
  return `#/${view}${sid ? `/${encodeURIComponent(sid)}` : ''}${token ? `&${token}` : ''}`;
}

export function App() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const [connection, setConnection] = useState<Connection>(bridge.connection());
  const main = useRef<HTMLElement>(null);
  const liveCount = Object.values(useStore(calls)).filter((c) => c.endedAt === null).length;
  const newMessages = useStore(inbox)?.undone ?? 0;

  // First launch: no view asked for, no call kept yet and setup not complete → Get started (once per browser).
  const autoOpened = useRef(false);
  useEffect(() => {
    if (connection !== 'open' || /#\/[a-z]/.test(location.hash)) return;
    let seen = false;
    try {
      seen = localStorage.getItem(FIRST_RUN_KEY) !== null;
    } catch {
      /* no storage: treat as first launch */
    }
    if (seen) return;
    void Promise.all([call('records.list', { limit: 1 }), call('status.get')]).then(
      ([page, st]) => {
        const incomplete = !st.tunnel?.ok || !st.twilio?.ok;
        if (page.total > 0 || !incomplete || /#\/[a-z]/.test(location.hash) || Object.values(calls.get()).some((c) => c.endedAt === null)) return;
        try {
          localStorage.setItem(FIRST_RUN_KEY, String(Date.now()));
        } catch {
          /* ignore */
        }
        autoOpened.current = true;
        go('get-started', null, false);
      },
      () => {},
    );
  }, [connection]);
  // A call that comes in while Get started opened by itself: show it.
  useEffect(() => {
    if (liveCount > 0 && autoOpened.current && route.view === 'get-started') {
      autoOpened.current = false;
      go('calls', null, false);
    }
  }, [liveCount]);

  useEffect(() => startBrowserNotifications(), []);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    const off = bridge.onConnection(setConnection);
    setConnection(bridge.connection()); // it may have opened before this effect ran
    return () => {
      removeEventListener('hashchange', onHash);
      off();
    };
  }, []);

  const go = (view: ViewId, sid: string | null = null, focus = true) => {
    history.replaceState(null, '', routeHash(view, sid));
    setRoute({ view, sid });
    if (focus) requestAnimationFrame(() => main.current?.focus());
  };

  if (connection === 'no-token') {
    return (
      <main class="no-token">
        <h1>Parley</h1>
        <p>This page needs the link Parley printed when it started — it ends with <code>#token=…</code>.</p>
        <p>Look for the line starting with “GUI:” in the terminal where you ran Parley.</p>
      </main>
    );
  }

  return (
    <div class="app">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <h1 class="brand">Parley</h1>
        <nav aria-label="Views">
          <ul>
            {VIEWS.map((v) => (
              <li key={v.id}>
                <a href={routeHash(v.id, null)} aria-current={route.view === v.id ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go(v.id))}>
                  {v.label}
                  {v.id === 'calls' && liveCount > 0 ? <span class="count" aria-label={`${liveCount} live`}>{liveCount}</span> : null}
                  {v.id === 'inbox' && newMessages > 0 ? <span class="count inbox-badge" aria-label={`${newMessages} new`}>{newMessages}</span> : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1} data-view={route.view}>
        {route.view === 'get-started' ? <GetStartedView onGo={(view) => ((autoOpened.current = false), go(view))} /> : null}
        {route.view === 'calls' ? <CallsView selected={route.sid} onSelect={(sid) => go('calls', sid, false)} /> : null}
        {route.view === 'dial' ? <DialView onDialled={(sid) => go('calls', sid)} /> : null}
        {route.view === 'history' ? <HistoryView selected={route.sid} onSelect={(sid) => go('history', sid, false)} /> : null}
        {route.view === 'inbox' ? <InboxView onOpenCall={(sid) => go('history', sid)} /> : null}
        {route.view === 'plugins' ? <PluginsView /> : null}
        {route.view === 'models' ? <ModelsView /> : null}
        {route.view === 'personas' ? <PersonasView /> : null}
        {route.view === 'settings' ? <SettingsView /> : null}
      </main>
      <StatusBar connection={connection} onGetStarted={() => ((autoOpened.current = false), go('get-started'))} />
      <Toasts />
    </div>
  );
}
