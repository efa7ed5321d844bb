/** Calls: every live call (and this session's ended ones), the selected call's live transcript and latency,
 * and what a person needs mid-call: cut the agent off, hang up, listen, whisper, take over and hand back. */
import { calls, toast } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { Approvals } from '../components/approvals.tsx';
import { LatencyChart } from '../components/latency-chart.tsx';
import { Transcript } from '../components/transcript.tsx';
import { TestCallButton } from '../components/test-call.tsx';
import { DeskControls } from '../components/desk-controls.tsx';
import { ActionButton, Direction, Empty, StateBadge } from '../components/ui.tsx';
import { duration, phone, time } from '../format.ts';
import { useNow, useStore, type CallView } from '../store.ts';

const other = (c: CallView) => (c.direction === 'outbound' ? c.to : c.from);

export function CallsView(props: { selected: string | null; onSelect: (sid: string) => void }) {
  const all = Object.values(useStore(calls));
  const now = useNow();
  const live = all.filter((c) => c.endedAt === null).sort((a, b) => b.startedAt - a.startedAt);
  const ended = all.filter((c) => c.endedAt !== null).sort((a, b) => b.endedAt! - a.endedAt!);
  const selected = all.find((c) => c.callSid === props.selected) ?? live[0] ?? ended[0] ?? null;

  return (
    <div class="split">
      <section class="list-pane" aria-labelledby="live-calls-h">
        <h2 id="live-calls-h">Live calls {live.length > 0 ? <span class="count">{live.length}</span> : null}</h2>
        <TestCallButton />
        {live.length === 0 ? <p class="muted small">No call right now.</p> : null}
        <ul class="call-list">
          {[...live, ...ended].map((c) => {
            const isEnded = c.endedAt !== null;
            return (
              <li key={c.callSid}>
                <button
                  type="button"
                  class={`call-item${selected?.callSid === c.callSid ? ' selected' : ''}${isEnded ? ' ended' : ''}`}
                  aria-current={selected?.callSid === c.callSid ? 'true' : undefined}
                  onClick={() => props.onSelect(c.callSid)}
                  data-sid={c.callSid}
                >
                  <Direction direction={c.direction} />
                  <span class="number">{phone(other(c))}</span>
                  <span class="dur">{duration((c.endedAt ?? now) - c.startedAt)}</span>
                  <StateBadge state={c.state} ended={isEnded} status={c.status} />
                </button>
              </li>
            );
          })}
        </ul>
      </section>
      <section class="detail-pane" aria-label="Call details">
        {selected ? (
          <CallDetail c={selected} now={now} />
        ) : (
          <Empty title="No calls yet">
            <p>Calls appear here the moment they connect, with the conversation as it happens.</p>
            <p class="small">
              Try one without Twilio: <code>npm run simulate -- --url ws://127.0.0.1:3000/media --wav test/fixtures/audio/hello.wav</code>
            </p>
          </Empty>
        )}
      </section>
    </div>
  );
}

function CallDetail(props: { c: CallView; now: number }) {
  const c = props.c;
  const isEnded = c.endedAt !== null;
  return (
    <article class="call-detail" data-sid={c.callSid}>
      <header class="call-head">
        <div>
          <h2>
            <Direction direction={c.direction} /> {phone(c.direction === 'outbound' ? c.to : c.from)} <StateBadge state={c.state} ended={isEnded} status={c.status} />
            {c.takenOver && !isEnded ? <span class="badge taken-over">Taken over</span> : null}
          </h2>
          <p class="muted small">
            {c.direction === 'outbound' ? 'Outgoing' : 'Incoming'} · started {time(c.startedAt)} · {duration((c.endedAt ?? props.now) - c.startedAt)}
            {isEnded ? ` · ended (${c.endReason ?? c.status})` : ''}
            {c.dtmf ? ` · keys pressed: ${c.dtmf}` : ''}
          </p>
        </div>
        <div class="call-actions">
          <ActionButton
            kind="plain"
            disabled={isEnded}
            label="Interrupt the agent"
            onAction={async () => {
              await call('calls.interrupt', { callSid: c.callSid });
              toast('Agent interrupted.');
            }}
          >
            Interrupt
          </ActionButton>
          <ActionButton
            kind="danger"
            disabled={isEnded}
            busyLabel="Hanging up…"
            onAction={() => call('calls.hangup', { callSid: c.callSid })}
            onError={(err) => toast(`Could not hang up: ${messageOf(err)}`, 'error')}
          >
            Hang up
          </ActionButton>
        </div>
      </header>
      {c.errors.length > 0 ? (
        <ul class="call-errors" aria-label="Problems during this call">
          {c.errors.map((e) => (
            <li key={e.at}>
              <strong>{e.code}</strong> {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <Approvals c={c} />
      {isEnded ? null : <DeskControls c={c} />}
      <Transcript turns={c.turns} live={!isEnded} emptyText={isEnded ? 'Nothing was said.' : 'Waiting for the first words…'} />
      <LatencyChart rows={c.turns.filter((t) => t.metrics).map((t) => ({ turnId: t.turnId, metrics: t.metrics! }))} />
    </article>
  );
}
