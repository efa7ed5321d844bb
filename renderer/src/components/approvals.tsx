/**
 * "Ask first" tools waiting on a call: one card each, with what the agent wants to do in plain words, the time
 * left before it counts as denied, and Approve / Deny (`calls.approve`). A decided or timed-out card leaves;
 * the transcript then shows "Approved: transfer_call" and so on.
 */
import { toast } from '../app-state.ts';
import { call, messageOf } from '../bridge.ts';
import { phone } from '../format.ts';
import { useNow, type ApprovalView, type CallView } from '../store.ts';
import { ActionButton } from './ui.tsx';

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** What the agent asks to do, as a person would say it. */
export function describeApproval(a: Pick<ApprovalView, 'tool' | 'arguments' | 'to'>): string {
  const args = a.arguments;
  if (a.tool === 'transfer_call') {
    const reason = str(args.reason);
    return `Transfer the caller to ${a.to ? phone(a.to) : 'the transfer number'}${reason ? ` (${clip(reason, 120)})` : ''}`;
  }
  if (a.tool === 'send_sms') return `Text ${a.to ? phone(a.to) : 'the caller'}: “${clip(str(args.body), 300)}”`;
  if (a.tool === 'press_keys') return `Press the keys ${str(args.digits)}`;
  const words = Object.entries(args)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return `Use ${a.tool}${words ? ` (${clip(words, 300)})` : ''}`;
}

function ApprovalCard(props: { callSid: string; a: ApprovalView }) {
  const { a } = props;
  useNow(250); // re-render for the countdown; the time itself is read fresh
  const left = Math.max(0, Math.ceil((a.deadline - Date.now()) / 1000));
  const decide = (approve: boolean) => () => call('calls.approve', { callSid: props.callSid, approvalId: a.approvalId, approve });
  const failed = (err: unknown) => toast(`Could not decide: ${messageOf(err)}`, 'error');
  return (
    <li class="approval-card" data-approval={a.approvalId} data-tool={a.tool} role="group" aria-label={`The agent asks: ${a.tool}`}>
      <p class="approval-ask">
        <strong>The agent asks to:</strong> {describeApproval(a)}
      </p>
      <p class="muted small">
        <code>{a.tool}</code> · <span class="approval-left" aria-live="off">{left} s</span> left, then it is denied
      </p>
      <div class="approval-actions">
        <ActionButton kind="primary" busyLabel="Approving…" onAction={decide(true)} onError={failed}>
          Approve
        </ActionButton>
        <ActionButton kind="danger" busyLabel="Denying…" onAction={decide(false)} onError={failed}>
          Deny
        </ActionButton>
      </div>
    </li>
  );
}

/** The call's waiting approvals (nothing when there are none). */
export function Approvals(props: { c: CallView }) {
  const waiting = props.c.endedAt === null ? (props.c.approvals ?? []) : [];
  if (waiting.length === 0) return null;
  return (
    <ul class="approvals" aria-label="Waiting for your approval">
      {waiting.map((a) => (
        <ApprovalCard key={a.approvalId} callSid={props.c.callSid} a={a} />
      ))}
    </ul>
  );
}
