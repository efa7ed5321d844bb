/** Small shared pieces: labelled fields with their error, buttons that show they are busy, badges. */
import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { AgentState, CallDirection } from '../../../main/shared/contract.ts';
import { messageOf } from '../bridge.ts';
import { toast } from '../app-state.ts';

let fieldSeq = 0;
export const useId = (prefix: string) => useState(() => `${prefix}-${++fieldSeq}`)[0];

export function Field(props: {
  label: string;
  hint?: ComponentChildren;
  error?: string | undefined;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => JSX.Element;
}) {
  const id = useId('f');
  const hintId = props.hint ? `${id}-hint` : '';
  const errId = props.error ? `${id}-err` : '';
  const describedBy = [hintId, errId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={id}>{props.label}</label>
      {props.children({ id, describedBy, invalid: !!props.error })}
      {props.hint ? (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p class="error-text" id={errId} role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** A button running an async action: disabled while busy; failures become an error toast unless handled. */
export function ActionButton(props: {
  onAction: () => Promise<unknown>;
  children: ComponentChildren;
  kind?: 'primary' | 'danger' | 'plain';
  disabled?: boolean;
  busyLabel?: string;
  label?: string;
  onError?: (err: unknown) => void;
  class?: string;
}) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={`btn ${props.kind ?? 'plain'} ${props.class ?? ''}`}
      disabled={props.disabled || busy}
      aria-busy={busy}
      aria-label={props.label}
      onClick={async () => {
        setBusy(true);
        try {
          await props.onAction();
        } catch (err) {
          if (props.onError) props.onError(err);
          else toast(messageOf(err), 'error');
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy && props.busyLabel ? props.busyLabel : props.children}
    </button>
  );
}

export function ErrorBox(props: { error: string | null; title?: string }) {
  if (!props.error) return null;
  return (
    <div class="error-box" role="alert">
      {props.title ? <strong>{props.title} </strong> : null}
      {props.error}
    </div>
  );
}

const STATE_TEXT: Record<AgentState, string> = { listening: 'Listening', thinking: 'Thinking', speaking: 'Speaking' };

export function StateBadge(props: { state: AgentState | null; ended?: boolean; status?: string }) {
  if (props.ended) return <span class="badge ended">Ended</span>;
  if (!props.state) return <span class="badge">{props.status && props.status !== 'in-progress' ? props.status[0]!.toUpperCase() + props.status.slice(1) : 'Connecting'}</span>;
  return <span class={`badge state-${props.state}`}>{STATE_TEXT[props.state]}</span>;
}

export function Direction(props: { direction: CallDirection | null }) {
  if (!props.direction) return null;
  return (
    <span class={`direction ${props.direction}`} title={props.direction === 'inbound' ? 'Incoming call' : 'Outgoing call'}>
      <span aria-hidden="true">{props.direction === 'inbound' ? '↙' : '↗'}</span>
      <span class="sr-only">{props.direction === 'inbound' ? 'Incoming' : 'Outgoing'}</span>
    </span>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      {props.children}
    </div>
  );
}

export function Dot(props: { ok: boolean | null }) {
  return <span class={`dot ${props.ok === null ? 'unknown' : props.ok ? 'ok' : 'bad'}`} aria-hidden="true" />;
}
