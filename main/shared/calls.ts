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
  /** The person at the desk has taken the call over (the agent is silent until they hand it back). */
  takenOver?: boolean;
}

/** A test call's callSid (the GUI's Test call, mic and speakers, no Twilio): `TEST` and 8–64 letters or digits. */
export const TEST_CALL_SID = /^TEST[A-Za-z0-9]{8,64}$/;
/** The `from` a test call shows in the Calls view and History. */
export const TEST_CALL_FROM = 'Test call';

export function isTestCallSid(sid: string): boolean {
  return TEST_CALL_SID.test(sid);
}
