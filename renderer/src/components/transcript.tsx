/**
 * A call's conversation, turn by turn. The agent's words are shown as the caller experienced them: what was
 * played (Twilio-acknowledged) in normal type; what was generated but never heard — the rest of a reply the
 * caller interrupted — struck through and faded, cut exactly where the caller stopped hearing it.
 */
import type { ActionView, AgentLine, TurnView } from '../store.ts';

const TOOL_STATE: Record<Extract<ActionView, { kind: 'tool' }>['state'], string> = {
  running: 'running…',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

function argsText(args: Record<string, unknown>): string {
  const text = Object.entries(args)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** A tool call and its result, or a message taken: what the agent did between the caller's words and its reply. */
export function ActionRow(props: { action: ActionView }) {
  const a = props.action;
  if (a.kind === 'note') {
    return (
      <div class="line action whisper-note" data-action="note" title="A private note for the agent: the caller never hears it">
        <span class="who">Note</span>
        <p>
          <span class="cut-label">whisper</span> {a.text}
        </p>
      </div>
    );
  }
  if (a.kind === 'takeover') {
    return (
      <div class="line action takeover" data-action="takeover">
        <span class="who">Desk</span>
        <p>{a.active ? 'You took the call over: the agent is silent.' : 'You handed the call back to the agent.'}</p>
      </div>
    );
  }
  if (a.kind === 'approval') {
    const said = a.state === 'approved' ? 'Approved' : a.cancelled ? 'Cancelled' : a.state === 'timed-out' ? 'Not answered (denied)' : 'Denied';
    return (
      <div class={`line action approval s-${a.state}`} data-action="approval" data-tool={a.name}>
        <span class="who">Desk</span>
        <p>
          {said}: <code>{a.name}</code>
          {a.cancelled ? <span class="muted small"> (the caller interrupted or the call ended first)</span> : null}
        </p>
      </div>
    );
  }
  if (a.kind === 'message') {
    return (
      <div class="line action message-taken" data-action="message">
        <span class="who">Message</span>
        <p>
          <strong>{a.name || 'Caller'}</strong>
          {a.callback ? <> · call back {a.callback}</> : null}: “{a.message}”
        </p>
      </div>
    );
  }
  const outcome = a.state === 'failed' ? a.error : a.state === 'done' ? a.result : undefined;
  return (
    <div class={`line action tool s-${a.state}`} data-action="tool" data-tool={a.name}>
      <span class="who">Tool</span>
      <p>
        <code>{a.name}</code>({argsText(a.arguments)}) <span class="cut-label">{TOOL_STATE[a.state]}</span>
        {a.durationMs !== undefined ? <span class="muted small"> {a.durationMs} ms</span> : null}
        {outcome ? <span class="tool-result"> → {outcome.length > 300 ? `${outcome.slice(0, 299)}…` : outcome}</span> : null}
      </p>
    </div>
  );
}

/** Notes and take-overs happen before the turn's words (a whisper is for the reply to come); tools after the caller's. */
function startsTurn(a: ActionView): boolean {
  return a.kind === 'note' || a.kind === 'takeover';
}

export function AgentText(props: { line: AgentLine }) {
  const { text, heard, interrupted, final } = props.line;
  const prefix = text.startsWith(heard);
  const rest = prefix ? text.slice(heard.length) : text;
  if (!rest.trim()) return <span class="heard">{heard || text}</span>;
  if (!interrupted && !final) {
    return (
      <>
        <span class="heard">{heard}</span>
        <span class="pending" title="Generated, not played yet">
          {rest}
        </span>
      </>
    );
  }
  return (
    <>
      {prefix ? <span class="heard">{heard}</span> : heard ? <span class="heard">{heard} </span> : null}
      <del class="unheard" title="Never heard: the caller interrupted here">
        <span class="sr-only">Not heard: </span>
        {rest}
      </del>
      {interrupted ? <span class="cut-label">interrupted</span> : null}
    </>
  );
}

export function Transcript(props: { turns: TurnView[]; live?: boolean; emptyText?: string }) {
  const turns = props.turns.filter((t) => t.caller || t.agent || t.actions?.length);
  if (turns.length === 0) return <p class="muted">{props.emptyText ?? 'Nothing said yet.'}</p>;
  return (
    <ol class="transcript" aria-live={props.live ? 'polite' : undefined} aria-label="Transcript">
      {turns.map((t) => (
        <li key={t.turnId} class="turn" data-turn={t.turnId}>
          {t.actions?.filter(startsTurn).map((a) => <ActionRow key={`${a.kind}:${a.id}`} action={a} />)}
          {t.caller ? (
            <div class={`line caller${t.caller.final ? '' : ' partial'}`}>
              <span class="who">Caller</span>
              <p>{t.caller.text || '…'}</p>
            </div>
          ) : null}
          {t.actions?.filter((a) => !startsTurn(a)).map((a) => <ActionRow key={`${a.kind}:${a.id}`} action={a} />)}
          {t.agent ? (
            <div class={`line agent${t.agent.interrupted ? ' was-interrupted' : ''}${t.agent.by === 'desk' ? ' desk' : ''}`}>
              <span class="who">{t.agent.by === 'desk' ? 'You' : 'Agent'}</span>
              <p>
                <AgentText line={t.agent} />
              </p>
            </div>
          ) : null}
          {t.backchannels?.map((b, i) => (
            <div key={i} class="line backchannel" title="The caller only acknowledged: playback paused for it and went on">
              <span class="who">Caller</span>
              <p>
                <span class="backchannel-text">{b ? `“${b}”` : '(a short sound)'}</span> <span class="cut-label">backchannel ignored</span>
              </p>
            </div>
          ))}
        </li>
      ))}
    </ol>
  );
}
