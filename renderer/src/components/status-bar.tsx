/**
 * The status bar: server, public tunnel, Twilio — each green or red with what to do when red — the call
 * records when writes fail (a full disk), the lines in use against capacity (PARLEY_MAX_CALLS), and "Check
 * setup", which runs the core's doctor and lists every check with its fix; "Get started" opens the first-run checklist.
 */
import { useState } from 'preact/hooks';
import type { ComponentStatus, DoctorReport, StatusReport } from '../../../main/shared/contract.ts';
import { refreshStatus, status } from '../app-state.ts';
import { bridge, call, messageOf } from '../bridge.ts';
import { askNotifyPermission, notifyPermission } from '../notifications.ts';
import { useStore } from '../store.ts';
import { ActionButton, Dot, ErrorBox } from './ui.tsx';

const urlOf = (c: ComponentStatus | undefined): string | null => (c && 'url' in c && typeof c.url === 'string' ? c.url : null);

type Part = 'server' | 'tunnel' | 'twilio' | 'records';
const NAMES: Record<Part, string> = { server: 'Server', tunnel: 'Tunnel', twilio: 'Twilio', records: 'Records' };
/** What to do, when the core's own detail does not say already. */
const TODO: Record<Part, string> = {
  server: 'Parley cannot take calls until its server runs: see the message, or restart Parley.',
  tunnel: 'Twilio needs a public https address: add your ngrok authtoken in Settings, or set a Public URL.',
  twilio: 'Add your Account SID, Auth token and phone number in Settings (from the Twilio console).',
  records: 'Calls go on, but what is said is not all kept: free disk space where Parley keeps its data, or make that folder writable.',
};

/** Calls served against capacity, when the core reports them (`GET /status` `calls`). */
function linesOf(s: StatusReport | null): { inUse: number; capacity: number } | null {
  const c = (s as { calls?: { inUse?: unknown; capacity?: unknown } } | null)?.calls;
  return c && typeof c.inUse === 'number' && typeof c.capacity === 'number' ? { inUse: c.inUse, capacity: c.capacity } : null;
}

/** The parts shown: the call records only once a write has failed (there is nothing to say before). */
function partsOf(s: StatusReport | null): Part[] {
  const base: Part[] = ['server', 'tunnel', 'twilio'];
  return s?.records && s.records.failedWrites > 0 ? [...base, 'records'] : base;
}

export function StatusBar(props: { connection: string; onGetStarted?: () => void }) {
  const s = useStore(status);
  const notify = useStore(notifyPermission);
  const [open, setOpen] = useState(false);
  const [doctor, setDoctor] = useState<DoctorReport | null>(null);
  const [doctorError, setDoctorError] = useState<string | null>(null);
  const lines = linesOf(s);
  const summary = (key: Part, c: ComponentStatus | undefined) => {
    if (!c) return `${NAMES[key]}: checking`;
    if (key === 'records') {
      const n = s?.records?.failedWrites ?? 0;
      return `${NAMES[key]}: ${c.ok ? `${n} failed earlier` : `${n} write${n === 1 ? '' : 's'} failed`}`;
    }
    const url = urlOf(c);
    if (key === 'tunnel' && c.ok && url) return url.replace(/^https?:\/\//, '');
    return `${NAMES[key]}: ${c.ok ? 'ready' : 'not ready'}`;
  };
  return (
    <footer class="status-bar">
      {open ? (
        <div class="status-panel" id="status-panel" role="region" aria-label="Setup status">
          <ul>
            {partsOf(s).map((key) => {
              const c = s?.[key];
              return (
                <li key={key} data-component={key}>
                  <Dot ok={c ? c.ok : null} /> <strong>{NAMES[key]}</strong>: {c?.detail ?? 'checking…'}
                  {urlOf(c) && !c!.detail.includes(urlOf(c)!) ? (
                    <>
                      {' '}
                      <code>{urlOf(c)}</code>
                    </>
                  ) : null}
                  {c && !c.ok ? <p class="small todo">{TODO[key]}</p> : null}
                </li>
              );
            })}
          </ul>
          <div class="toolbar">
            <ActionButton
              kind="primary"
              busyLabel="Checking…"
              onAction={async () => {
                setDoctorError(null);
                try {
                  setDoctor(await call('status.doctor'));
                } catch (err) {
                  setDoctor(null);
                  setDoctorError(messageOf(err));
                }
                await refreshStatus();
              }}
            >
              Check setup
            </ActionButton>
            <button type="button" class="btn plain" onClick={() => setOpen(false)}>
              Close
            </button>
          </div>
          <ErrorBox error={doctorError} />
          {doctor ? (
            <ol class="doctor" aria-label="Setup checks">
              {doctor.checks.map((c) => (
                <li key={c.id} class={c.ok === null ? 'skipped' : c.ok ? 'pass' : 'fail'}>
                  <Dot ok={c.ok} /> <strong>{c.title}</strong> <span class="sr-only">{c.ok === null ? 'not checked' : c.ok ? 'passed' : 'failed'}</span>
                  <p class="small">{c.detail}</p>
                  {c.ok === false && c.fix ? <p class="small todo">Fix: {c.fix}</p> : null}
                </li>
              ))}
            </ol>
          ) : null}
        </div>
      ) : null}
      <button type="button" class="status-toggle" aria-expanded={open} aria-controls="status-panel" onClick={() => setOpen(!open)}>
        {partsOf(s).map((key) => (
          <span class="status-item" key={key} data-component={key} title={s?.[key]?.detail}>
            <Dot ok={s?.[key] ? s[key].ok : null} /> {summary(key, s?.[key])}
          </span>
        ))}
        {lines ? (
          <span class="status-item" data-component="calls" title="Calls beyond this hear a short “all lines are busy” notice and are hung up (setting PARLEY_MAX_CALLS).">
            <Dot ok={lines.inUse < lines.capacity} /> Lines: {lines.inUse} of {lines.capacity} in use
          </span>
        ) : null}
        <span class="status-more">{open ? 'Hide' : 'Details & check setup'}</span>
      </button>
      {notify === 'default' ? (
        <button type="button" class="btn plain small" title="A desktop notification for an incoming call and for a new message" onClick={() => void askNotifyPermission()}>
          Turn on notifications
        </button>
      ) : null}
      {props.onGetStarted ? (
        <button type="button" class="btn plain small get-started-btn" onClick={props.onGetStarted}>
          Get started
        </button>
      ) : null}
      {bridge.mode === 'headless' ? (
        <span class={`conn conn-${props.connection}`} role="status">
          {props.connection === 'open' ? 'Connected' : props.connection === 'connecting' ? 'Connecting…' : props.connection === 'no-token' ? 'No access token' : 'Reconnecting…'}
        </span>
      ) : null}
    </footer>
  );
}
