/** The window: navigation, the current view, the status bar. Views are addressed by the URL hash (#/calls). */
import { useEffect, useRef, useState } from 'preact/hooks';
import { calls } from './app-state.ts';
import { bridge, type Connection } from './bridge.ts';
import { StatusBar } from './components/status-bar.tsx';
import { Toasts } from './components/toasts.tsx';
import { useStore } from './store.ts';
import { CallsView } from './views/calls.tsx';
import { DialView } from './views/dial.tsx';
import { HistoryView } from './views/history.tsx';
import { ModelsView } from './views/models.tsx';
import { PluginsView } from './views/plugins.tsx';
import { SettingsView } from './views/settings.tsx';

const VIEWS = [
  { id: 'calls', label: 'Calls' },
  { id: 'dial', label: 'Dial' },
  { id: 'history', label: 'History' },
  { id: 'plugins', label: 'Plugins' },
  { id: 'models', label: 'Models' },
  { id: 'settings', label: 'Settings' },
] as const;
type ViewId = (typeof VIEWS)[number]['id'];

/** `#/history/CA123` → view + selection; the token fragment (#token=…) is kept aside by the bridge. */
function parseRoute(hash: string): { view: ViewId; sid: string | null } {
  const m = /#\/([a-z]+)(?:\/([^&]+))?/.exec(hash);
  const view = (VIEWS.find((v) => v.id === m?.[1])?.id ?? 'calls') as ViewId;
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
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1} data-view={route.view}>
        {route.view === 'calls' ? <CallsView selected={route.sid} onSelect={(sid) => go('calls', sid, false)} /> : null}
        {route.view === 'dial' ? <DialView onDialled={(sid) => go('calls', sid)} /> : null}
        {route.view === 'history' ? <HistoryView selected={route.sid} onSelect={(sid) => go('history', sid, false)} /> : null}
        {route.view === 'plugins' ? <PluginsView /> : null}
        {route.view === 'models' ? <ModelsView /> : null}
        {route.view === 'settings' ? <SettingsView /> : null}
      </main>
      <StatusBar connection={connection} />
      <Toasts />
    </div>
  );
}
