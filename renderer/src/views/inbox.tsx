/** Inbox: the messages the agent took for you on calls (the take_message tool), newest first, live. */
import { useEffect, useState } from 'preact/hooks';
import type { MessageRecord } from '../../../main/shared/contract.ts';
import { inbox, refreshInbox } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { ActionButton, Empty, ErrorBox } from '../components/ui.tsx';
import { dateTime, phone } from '../format.ts';
import { useStore } from '../store.ts';

export function InboxView(props: { onOpenCall: (sid: string) => void }) {
  const list = useStore(inbox);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call('messages.list').then(
      (l) => (inbox.set(l), setError(null)),
      (err) => setError(messageOf(err)),
    );
  }, []);

  return (
    <section aria-labelledby="inbox-h">
      <div class="view-head">
        <h2 id="inbox-h">Inbox</h2>
        <p class="muted" aria-live="polite">
          {list ? (list.undone === 0 ? 'No new messages.' : `${list.undone} new message${list.undone === 1 ? '' : 's'}.`) : 'Loading…'}
        </p>
      </div>
      <ErrorBox error={error} />
      {list && list.messages.length === 0 ? (
        <Empty title="No messages yet">
          <p class="muted">When the agent takes a message on a call (the take_message tool), it appears here.</p>
        </Empty>
      ) : null}
      <ol class="inbox-list" aria-label="Messages">
        {(list?.messages ?? []).map((m) => (
          <InboxItem key={m.id} m={m} onOpenCall={props.onOpenCall} />
        ))}
      </ol>
    </section>
  );
}

function InboxItem(props: { m: MessageRecord; onOpenCall: (sid: string) => void }) {
  const m = props.m;
  return (
    <li class={`inbox-item${m.done ? ' done' : ' new'}`} data-message={m.id}>
      <p class="inbox-meta">
        <strong class="inbox-name">{m.name || 'Unknown caller'}</strong>
        {m.callback ? (
          <>
            {' '}
            · call back <a href={`tel:${m.callback}`} class="inbox-callback">{phone(m.callback)}</a>
          </>
        ) : null}
        <span class="muted small"> · {dateTime(m.at)}</span>
        {m.done ? <span class="tag">done</span> : <span class="tag active">new</span>}
      </p>
      <div class="call-actions">
        <a
          href={`#/history/${encodeURIComponent(m.callSid)}`}
          onClick={(e) => {
            e.preventDefault();
            props.onOpenCall(m.callSid);
          }}
        >
          Open call
        </a>
        <ActionButton
          kind={m.done ? 'plain' : 'primary'}
          onAction={async () => {
            await call('messages.done', { id: m.id, done: !m.done });
            await refreshInbox();
          }}
        >
          {m.done ? 'Mark as new' : 'Mark as done'}
        </ActionButton>
      </div>
      <p class="inbox-message">“{m.message}”</p>
    </li>
  );
}
