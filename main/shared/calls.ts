/** A call that is not over yet, as `GET /calls` and the GUI's `calls.list` give it. */
import type { AgentState, CallDirection, CallPlugins, CallStatus } from './events.ts';

export interface LiveCall {
  callSid: string;
  /** null while the call has no media stream yet (queued, ringing, answered a moment ago). */
  streamSid: string | null;
  direction: CallDirection;
  from: string | null;
  to: string | null;
  startedAt: number;
  /** null until the media stream connects. */
  state: AgentState | null;
  /** null until the media stream connects. */
  plugins: CallPlugins | null;
  /** The call's status as Twilio last reported it (`in-progress` while the stream runs). */
  status: CallStatus;
}
