/**
 * GUI state that lives across views: the live calls (built from core events, as they happen), model download
 * progress, and a version counter per data set so views refetch when the core says something changed.
 * `reduceCalls` is a pure function of (state, event): easy to reason about and to test.
 */
import { useEffect, useState } from 'preact/hooks';
import type { AgentState, CallDetail, CallDirection, GuiEvent, LiveCall, TurnMetrics } from '../../main/shared/contract.ts';

export interface AgentLine {
  text: string;
  heard: string;
  interrupted: boolean;
  final: boolean;
  /** The person at the desk said it (they had taken the call over), not the agent. */
  by?: 'desk';
}

export interface TurnView {
  turnId: number;
  caller?: { text: string; final: boolean };
  agent?: AgentLine;
  metrics?: TurnMetrics;
  /** What the caller said over this reply that was only a backchannel ("mm-hm"): the agent went on. */
  backchannels?: string[];
  /** What the agent did in this turn, between the caller's words and its reply: tool calls, messages taken. */
  actions?: ActionView[];
}

/** One action row of the transcript. */
export type ActionView =
  | { kind: 'tool'; id: string; name: string; arguments: Record<string, unknown>; state: 'running' | 'done' | 'failed' | 'cancelled'; result?: string; error?: string; durationMs?: number }
  | { kind: 'message'; id: string; name: string; callback: string; message: string }
  /** The desk's decision on an ask-first tool ("Approved: transfer_call"); pending ones are cards (CallView.approvals). */
  | { kind: 'approval'; id: string; name: string; state: 'approved' | 'denied' | 'timed-out'; cancelled?: boolean }
  /** A whisper: a private note from the desk for the agent's reply in this turn (never heard by the caller). */
  | { kind: 'note'; id: string; text: string }
  /** The desk took the call over (`active`) or handed it back. */
  | { kind: 'takeover'; id: string; active: boolean };

/** Adds or updates (same id) an action of a turn. */
function withAction(t: TurnView, action: ActionView): TurnView {
  const actions = [...(t.actions ?? [])];
  const i = actions.findIndex((a) => a.kind === action.kind && a.id === action.id);
  if (i >= 0) actions[i] = action;
  else actions.push(action);
  return { ...t, actions };
}

/** The turns of a recorded call (History), with its tool calls and taken messages as action rows. */
export function turnsFromRecord(detail: CallDetail): TurnView[] {
  let turns: TurnView[] = detail.turns.map((t) => ({
    turnId: t.turnId,
    ...(t.callerText !== null ? { caller: { text: t.callerText, final: true } } : {}),
    ...(t.agentText !== null || t.agentFullText !== null
      ? { agent: { text: t.agentFullText ?? t.agentText ?? '', heard: t.agentText ?? '', interrupted: t.interrupted, final: true } }
      : {}),
  }));
  const put = (turnId: number, action: ActionView) => {
    const i = turns.findIndex((t) => t.turnId === turnId);
    if (i >= 0) turns[i] = withAction(turns[i]!, action);
    else turns = [...turns, withAction({ turnId }, action)].sort((a, b) => a.turnId - b.turnId);
  };
  // Tool rows first, then the messages taken (a message is the outcome of a tool that is written after it).
  let lastTurn = 0;
  const messages: [number, ActionView][] = [];
  for (const e of detail.events) {
    const d = e.data;
    if (e.type === 'tool') {
      lastTurn = typeof d.turnId === 'number' ? d.turnId : lastTurn;
      put(lastTurn, {
        kind: 'tool',
        id: String(d.toolCallId ?? e.id),
        name: String(d.name ?? 'tool'),
        arguments: d.arguments !== null && typeof d.arguments === 'object' ? (d.arguments as Record<string, unknown>) : {},
        state: d.state === 'done' || d.state === 'failed' || d.state === 'cancelled' ? d.state : 'failed',
        ...(typeof d.result === 'string' ? { result: d.result } : {}),
        ...(typeof d.error === 'string' ? { error: d.error } : {}),
        ...(typeof d.durationMs === 'number' ? { durationMs: d.durationMs } : {}),
      });
    } else if (e.type === 'whisper' && typeof d.turnId === 'number') {
      put(d.turnId, { kind: 'note', id: String(e.id), text: String(d.text ?? '') });
    } else if (e.type === 'desk' && typeof d.turnId === 'number') {
      const i = turns.findIndex((t) => t.turnId === d.turnId);
      if (i >= 0 && turns[i]!.agent) turns[i] = { ...turns[i]!, agent: { ...turns[i]!.agent!, by: 'desk' } };
    } else if (e.type === 'takeover' && typeof d.turnId === 'number') {
      put(d.turnId, { kind: 'takeover', id: String(e.id), active: d.active === true });
    } else if (e.type === 'approval' && typeof d.turnId === 'number') {
      lastTurn = d.turnId;
      const state = d.state === 'approved' || d.state === 'timed-out' ? d.state : 'denied';
      put(d.turnId, { kind: 'approval', id: String(d.approvalId ?? e.id), name: String(d.tool ?? 'tool'), state, ...(d.cancelled === true ? { cancelled: true } : {}) });
    } else if (e.type === 'message') {
      // The turn of the tool that took it: the latest turn with caller words at that time.
      const turnId = detail.turns.filter((t) => t.callerAt !== null && t.callerAt <= e.at).at(-1)?.turnId ?? lastTurn;
      messages.push([turnId, { kind: 'message', id: String(d.messageId ?? e.id), name: String(d.name ?? ''), callback: String(d.callback ?? ''), message: String(d.message ?? '') }]);
    }
  }
  for (const [turnId, m] of messages) put(turnId, m);
  return turns;
}

export interface CallView {
  callSid: string;
  direction: CallDirection | null;
  from: string | null;
  to: string | null;
  startedAt: number;
  state: AgentState | null;
  status: string;
  endedAt: number | null;
  endReason: string | null;
  turns: TurnView[];
  dtmf: string;
  errors: { code: string; message: string; at: number }[];
  /** Ask-first tools waiting for Approve / Deny on this call (decided ones leave: the transcript shows them). */
  approvals?: ApprovalView[];
  /** The person at the desk has the call (Take over): the agent is silent until they hand it back. */
  takenOver?: boolean;
}

export type CallsState = Record<string, CallView>;

/** An ask-first tool waiting for the desk. */
export interface ApprovalView {
  approvalId: string;
  turnId: number;
  tool: string;
  arguments: Record<string, unknown>;
  /** Who it would reach, when the core knows (the transfer number, the number texted). */
  to?: string;
  at: number;
  /** When it counts as denied (epoch ms, the core's clock). */
  deadline: number;
}

const blank = (callSid: string, at: number): CallView => ({
  callSid,
  direction: null,
  from: null,
  to: null,
  startedAt: at,
  state: null,
  status: 'in-progress',
  endedAt: null,
  endReason: null,
  turns: [],
  dtmf: '',
  errors: [],
});

function withTurn(call: CallView, turnId: number, change: (t: TurnView) => TurnView): CallView {
  const turns = [...call.turns];
  const i = turns.findIndex((t) => t.turnId === turnId);
  if (i >= 0) turns[i] = change(turns[i]!);
  else {
    turns.push(change({ turnId }));
    turns.sort((a, b) => a.turnId - b.turnId);
  }
  return { ...call, turns };
}

const ENDED = ['completed', 'busy', 'no-answer', 'failed', 'canceled'];
/** Ended calls stay in the Calls view for this session (newest first), up to this many. */
const KEEP_ENDED = 20;

export function reduceCalls(state: CallsState, event: GuiEvent): CallsState {
  if (!('callSid' in event) || typeof event.callSid !== 'string') return state;
  const sid = event.callSid;
  const call = state[sid] ?? blank(sid, event.type === 'call.started' ? event.startedAt : 'at' in event ? event.at : Date.now());
  let next: CallView;
  switch (event.type) {
    case 'call.started':
      next = { ...call, direction: event.direction, from: event.from, to: event.to, startedAt: event.startedAt, state: 'listening', status: 'in-progress', endedAt: null };
      break;
    case 'call.state':
      next = { ...call, state: event.state };
      break;
    case 'call.status':
      next = {
        ...call,
        status: event.status,
        direction: call.direction ?? event.direction ?? null,
        from: call.from ?? event.from ?? null,
        to: call.to ?? event.to ?? null,
        endedAt: ENDED.includes(event.status) ? call.endedAt ?? event.at : call.endedAt,
      };
      break;
    case 'call.ended':
      next = { ...call, endedAt: event.endedAt, endReason: event.reason, state: null, status: ENDED.includes(call.status) ? call.status : 'completed', approvals: [] };
      break;
    case 'transcript':
      next =
        event.role === 'caller'
          ? withTurn(call, event.turnId, (t) => ({ ...t, caller: { text: event.text, final: event.final } }))
          : withTurn(call, event.turnId, (t) => ({ ...t, agent: { text: event.text, heard: event.heard, interrupted: event.interrupted, final: event.final, ...(event.by ? { by: event.by } : {}) } }));
      break;
    case 'call.whisper':
      next = withTurn(call, event.turnId, (t) => withAction(t, { kind: 'note', id: `w${event.at}`, text: event.text }));
      break;
    case 'call.takeover':
      next = withTurn({ ...call, takenOver: event.active }, event.turnId, (t) => withAction(t, { kind: 'takeover', id: `o${event.at}`, active: event.active }));
      break;
    case 'turn.metrics':
      next = withTurn(call, event.turnId, (t) => ({ ...t, metrics: event.metrics }));
      break;
    case 'call.backchannel':
      next = withTurn(call, event.turnId, (t) => ({ ...t, backchannels: [...(t.backchannels ?? []), event.text] }));
      break;
    case 'call.tool':
      next = withTurn(call, event.turnId, (t) =>
        withAction(t, {
          kind: 'tool',
          id: event.toolCallId,
          name: event.name,
          arguments: event.arguments ?? {},
          state: event.state,
          ...(event.result !== undefined ? { result: event.result } : {}),
          ...(event.error !== undefined ? { error: event.error } : {}),
          ...(event.durationMs !== undefined ? { durationMs: event.durationMs } : {}),
        }),
      );
      break;
    case 'call.approval': {
      const waiting = (call.approvals ?? []).filter((a) => a.approvalId !== event.approvalId);
      if (event.state === 'pending') {
        const card: ApprovalView = { approvalId: event.approvalId, turnId: event.turnId, tool: event.tool, arguments: event.arguments ?? {}, at: event.at, deadline: event.deadline ?? event.at, ...(event.to ? { to: event.to } : {}) };
        next = { ...call, approvals: [...waiting, card] };
      } else {
        const row: ActionView = { kind: 'approval', id: event.approvalId, name: event.tool, state: event.state, ...(event.cancelled ? { cancelled: true } : {}) };
        next = withTurn({ ...call, approvals: waiting }, event.turnId, (t) => withAction(t, row));
      }
      break;
    }
    case 'call.message': {
      // A message has no turn of its own: it belongs to the turn whose tool took it (the latest one).
      const turnId = call.turns.at(-1)?.turnId ?? 0;
      next = withTurn(call, turnId, (t) => withAction(t, { kind: 'message', id: `m${event.at}`, name: event.name, callback: event.callback, message: event.message }));
      break;
    }
    case 'call.dtmf':
      next = { ...call, dtmf: call.dtmf + event.digit };
      break;
    case 'call.error':
      next = { ...call, errors: [...call.errors, { code: event.code, message: event.message, at: event.at }].slice(-10) };
      break;
    default:
      return state;
  }
  return prune({ ...state, [sid]: next });
}

function prune(state: CallsState): CallsState {
  const ended = Object.values(state).filter((c) => c.endedAt !== null).sort((a, b) => b.endedAt! - a.endedAt!);
  if (ended.length <= KEEP_ENDED) return state;
  const out = { ...state };
  for (const c of ended.slice(KEEP_ENDED)) delete out[c.callSid];
  return out;
}

/** Seed from `calls.list` (a reload or a reconnect): live calls we did not know; known ones keep their turns. */
export function seedCalls(state: CallsState, live: LiveCall[]): CallsState {
  const out = { ...state };
  const liveSids = new Set(live.map((c) => c.callSid));
  for (const c of live) {
    const known = out[c.callSid];
    out[c.callSid] = { ...(known ?? blank(c.callSid, c.startedAt)), direction: c.direction, from: c.from, to: c.to, startedAt: c.startedAt, state: c.state, endedAt: null, takenOver: c.takenOver === true };
  }
  // A call we thought live that the core no longer has ended while we were away.
  for (const c of Object.values(out)) if (c.endedAt === null && c.state !== null && !liveSids.has(c.callSid)) out[c.callSid] = { ...c, endedAt: Date.now(), state: null, endReason: 'ended' };
  return out;
}

/** A very small observable value with a Preact hook. */
export class Store<T> {
  #value: T;
  readonly #listeners = new Set<(v: T) => void>();
  constructor(value: T) {
    this.#value = value;
  }
  get(): T {
    return this.#value;
  }
  set(value: T): void {
    if (value === this.#value) return;
    this.#value = value;
    for (const l of this.#listeners) l(value);
  }
  update(change: (v: T) => T): void {
    this.set(change(this.#value));
  }
  subscribe(listener: (v: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** A value that ticks every `ms` (durations of live calls). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
