/**
 * History: every call Parley has kept — search what was said or a number, filter by date and outcome, open a
 * call for its transcript (with what the caller actually heard), latencies and recording; delete a call; set
 * how long records are kept; export everything as JSON or CSV.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CallDetail, CallPage, CallQuery } from '../../../main/shared/contract.ts';
import { toast, versions } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { LatencyChart } from '../components/latency-chart.tsx';
import { CallTimeline } from '../components/timeline.tsx';
import { Transcript } from '../components/transcript.tsx';
import { ActionButton, Direction, Empty, ErrorBox, Field } from '../components/ui.tsx';
import { dateTime, duration, ms, phone, time } from '../format.ts';
import { turnsFromRecord, useStore, type TurnView } from '../store.ts';

/** Answering-machine detection's verdict on an outbound call, as the list and the detail say it. */
const ANSWERED_BY = { human: 'a person', machine: 'a machine (voicemail)', unknown: 'unknown' } as const;

const STATUSES = ['completed', 'in-progress', 'busy', 'no-answer', 'failed', 'canceled'];
const PAGE = 50;

interface Filters {
  q: string;
  number: string;
  status: string;
  from: string;
  to: string;
}

function toQuery(f: Filters, limit: number): CallQuery {
  const q: CallQuery = { limit };
  if (f.q.trim()) q.q = f.q.trim();
  if (f.number.trim()) q.number = f.number.trim();
  if (f.status) q.status = f.status;
  // Dates are local days: from the start of `from` to the end of `to`.
  if (f.from) q.from = new Date(`${f.from}T00:00:00`).getTime();
  if (f.to) q.to = new Date(`${f.to}T00:00:00`).getTime() + 86_400_000;
  return q;
}

export function HistoryView(props: { selected: string | null; onSelect: (sid: string | null) => void }) {
  const v = useStore(versions).records;
  const [filters, setFilters] = useState<Filters>({ q: '', number: '', status: '', from: '', to: '' });
  const [limit, setLimit] = useState(PAGE);
  const [page, setPage] = useState<CallPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const t = setTimeout(() => {
      call('records.list', toQuery(filters, limit)).then(
        (p) => {
          setPage(p);
          setError(null);
        },
        (err) => setError(messageOf(err)),
      );
    }, 200);
    return () => clearTimeout(t);
  }, [filters, limit, v, reload]);

  const setF = (key: keyof Filters) => (e: Event) => setFilters({ ...filters, [key]: (e.target as HTMLInputElement).value });

  const exportAs = async (format: 'json' | 'csv') => {
    const since = filters.from ? new Date(`${filters.from}T00:00:00`).getTime() : undefined;
    const file = await call('records.export', since === undefined ? { format } : { format, since });
    const url = URL.createObjectURL(new Blob([file.content], { type: file.mime }));
    const a = document.createElement('a');
    a.href = url;
    a.download = file.filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    toast(`Exported ${file.calls} calls (${file.turns} turns) as ${file.filename}.`);
  };

  return (
    <div class="split history">
      <section class="list-pane wide" aria-labelledby="history-h">
        <div class="view-head">
          <h2 id="history-h">History</h2>
          <div class="toolbar">
            <ActionButton onAction={() => exportAs('json')}>Export JSON</ActionButton>
            <ActionButton onAction={() => exportAs('csv')}>Export CSV</ActionButton>
          </div>
        </div>
        <form class="filters" role="search" aria-label="Filter calls" onSubmit={(e) => e.preventDefault()}>
          <label>
            <span>Search</span>
            <input type="search" name="q" placeholder="Words said, or a number" value={filters.q} onInput={setF('q')} />
          </label>
          <label>
            <span>Number</span>
            <input type="text" name="number" inputMode="tel" value={filters.number} onInput={setF('number')} />
          </label>
          <label>
            <span>Outcome</span>
            <select name="status" value={filters.status} onChange={setF('status')}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>From</span>
            <input type="date" name="from" value={filters.from} onInput={setF('from')} />
          </label>
          <label>
            <span>To</span>
            <input type="date" name="to" value={filters.to} onInput={setF('to')} />
          </label>
        </form>
        <ErrorBox error={error} />
        {page && page.calls.length === 0 ? <p class="muted">{page.total === 0 && !Object.values(filters).some(Boolean) ? 'No calls recorded yet.' : 'No call matches.'}</p> : null}
        {page && page.calls.length > 0 ? (
          <>
            <table class="calls-table">
              <caption class="sr-only">Calls, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Number</th>
                  <th scope="col">Length</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Turns</th>
                </tr>
              </thead>
              <tbody>
                {page.calls.map((c) => (
                  <tr key={c.sid} class={props.selected === c.sid ? 'selected' : ''} data-sid={c.sid}>
                    <td>
                      <button type="button" class="link" aria-current={props.selected === c.sid ? 'true' : undefined} onClick={() => props.onSelect(c.sid)}>
                        {dateTime(c.startedAt)}
                      </button>
                    </td>
                    <td>
                      <Direction direction={c.direction} /> {phone(c.direction === 'outbound' ? c.to : c.from)}
                      {c.persona ? (
                        <span class="tag persona-tag" title="The persona that took the call">
                          {c.persona}
                        </span>
                      ) : null}
                    </td>
                    <td>{c.durationMs !== null ? duration(c.durationMs) : '—'}</td>
                    <td>
                      <span class={`outcome o-${c.status}`}>{c.status}</span>
                      {c.recording ? <span class="tag" title="Has a recording">rec</span> : null}
                      {c.answeredBy ? (
                        <span class={`tag answered-${c.answeredBy}`} title="Who answered (Twilio's answering-machine detection)">
                          {ANSWERED_BY[c.answeredBy]}
                        </span>
                      ) : null}
                    </td>
                    <td>{c.turnCount}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p class="muted small">
              {page.calls.length} of {page.total} calls.{' '}
              {page.total > page.calls.length ? (
                <button type="button" class="link" onClick={() => setLimit(limit + PAGE)}>
                  Show more
                </button>
              ) : null}
            </p>
          </>
        ) : null}
        <Retention />
      </section>
      <section class="detail-pane" aria-label="Call record">
        {props.selected ? (
          <RecordDetail
            sid={props.selected}
            onDeleted={() => {
              props.onSelect(null);
              setReload((n) => n + 1);
            }}
          />
        ) : (
          <Empty title="Pick a call">
            <p>Its transcript, latencies and recording show here.</p>
          </Empty>
        )}
      </section>
    </div>
  );
}

function turnsOf(detail: CallDetail): TurnView[] {
  return turnsFromRecord(detail);
}

function RecordDetail(props: { sid: string; onDeleted: () => void }) {
  const [detail, setDetail] = useState<CallDetail | null>(null);
  const [recording, setRecording] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const audio = useRef<HTMLAudioElement>(null);
  const v = useStore(versions).records;

  useEffect(() => {
    setConfirming(false);
    call('records.get', { sid: props.sid }).then(
      (d) => {
        setDetail(d);
        setError(null);
      },
      (err) => setError(messageOf(err)),
    );
    call('records.recordingUrl', { sid: props.sid }).then((r) => setRecording(r.url), () => setRecording(null));
  }, [props.sid, v]);

  if (error) return <ErrorBox error={error} />;
  if (!detail) return <p class="muted">Loading…</p>;
  return (
    <article class="record" data-sid={detail.sid}>
      <header class="call-head">
        <div>
          <h2>
            <Direction direction={detail.direction} /> {phone(detail.direction === 'outbound' ? detail.to : detail.from)}
          </h2>
          <p class="muted small">
            {dateTime(detail.startedAt)} · {detail.durationMs !== null ? duration(detail.durationMs) : 'length unknown'} ·{' '}
            {/* Its end was lost to failed writes (a full disk): how it really ended is unknown. */}
            {detail.endReason === 'record-incomplete' ? 'ended (record incomplete)' : `${detail.status}${detail.endReason ? ` (${detail.endReason})` : ''}`}
            {detail.plugins ? ` · ${detail.plugins.stt} / ${detail.plugins.llm} / ${detail.plugins.tts}` : ''}
            {detail.answeredBy ? ` · answered by ${ANSWERED_BY[detail.answeredBy]}` : ''}
            {detail.persona ? (
              <>
                {' · persona '}
                <span class="record-persona">{detail.persona}</span>
              </>
            ) : null}
          </p>
        </div>
        <div class="call-actions">
          {confirming ? (
            <div class="confirm" role="group" aria-label="Confirm deletion">
              <span>Delete this call{detail.recording ? ' and its recording' : ''}?</span>
              <ActionButton
                kind="danger"
                onAction={async () => {
                  await call('records.delete', { sid: detail.sid });
                  toast('Call deleted.');
                  props.onDeleted();
                }}
              >
                Delete
              </ActionButton>
              <button type="button" class="btn plain" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </div>
          ) : (
            <button type="button" class="btn plain" onClick={() => setConfirming(true)}>
              Delete…
            </button>
          )}
        </div>
      </header>
      {recording ? (
        <div class="recording">
          <h3>Recording</h3>
          <audio ref={audio} controls preload="metadata" src={recording} aria-label="Call recording: caller on the left, agent on the right" />
        </div>
      ) : detail.recording ? (
        <p class="muted small">The recording is still being written.</p>
      ) : null}
      <h3>Timeline</h3>
      <CallTimeline sid={detail.sid} audio={() => audio.current} version={v + (recording ? 1 : 0)} />
      <h3>Transcript</h3>
      <Transcript turns={turnsOf(detail)} emptyText="Nothing was said." />
      <LatencyChart rows={detail.turns.filter((t) => t.latencies).map((t) => ({ turnId: t.turnId, metrics: Object.fromEntries(Object.entries(t.latencies!).filter(([, x]) => x !== null)) }))} />
      {detail.events.length > 0 ? (
        <details class="events">
          <summary>Events ({detail.events.length})</summary>
          <ul>
            {detail.events.map((e) => (
              <li key={e.id}>
                <span class="mono small">{time(e.at)}</span> {e.type} <span class="muted small">{JSON.stringify(e.data)}</span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      <p class="muted small">
        Voice to voice per turn:{' '}
        {detail.turns
          .filter((t) => t.latencies?.voiceToVoiceMs !== null && t.latencies?.voiceToVoiceMs !== undefined)
          .map((t) => ms(t.latencies!.voiceToVoiceMs))
          .join(', ') || '—'}
      </p>
    </article>
  );
}

function Retention() {
  const v = useStore(versions).config;
  const [days, setDays] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    call('settings.get').then((s) => setDays(String(s.values.retentionDays)), () => {});
  }, [v]);
  return (
    <form
      class="retention"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          await call('settings.save', { values: { retentionDays: days } });
          toast(Number(days) > 0 ? `Calls older than ${days} days will be deleted.` : 'Calls are kept forever.');
        } catch (err) {
          setError(messageOf(err));
        }
      }}
    >
      <Field label="Keep call records for (days)" hint="0 keeps everything. Older calls and their recordings are deleted automatically." error={error}>
        {({ id, describedBy, invalid }) => (
          <div class="secret-row">
            <input id={id} type="number" min={0} value={days} aria-describedby={describedBy} aria-invalid={invalid} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
            <button type="submit" class="btn plain">
              Apply
            </button>
          </div>
        )}
      </Field>
    </form>
  );
}
