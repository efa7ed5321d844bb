/**
 * Transferring a call to a human, the way Twilio documents it for a call inside `<Connect><Stream>`: update the
 * live call with new TwiML through the REST API (`calls(sid).update({ twiml })`). That ends the media stream
 * (Twilio sends `stop`) and runs the new TwiML: a `<Dial>` to the human. When the dialled leg is over, Twilio
 * requests the `<Dial action>` URL with `DialCallStatus`; if nobody answered (no-answer, busy, failed), that
 * answer connects the caller back to the agent with a new `<Connect><Stream>`, and the agent says so.
 */
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import type { TransferStage } from '../../shared/events.ts';
import { streamTwiml, type StreamTwimlOptions } from './twiml.ts';

/** How long the human's phone rings before the caller comes back to the agent (Twilio's own default is 30). */
export const TRANSFER_RING_SEC = 25;

/** The webhook Twilio calls when the dialled leg ends. */
export const TRANSFER_RESULT_PATH = '/voice/transfer-result';

/** The `<Parameter>` a stream carries when it is the caller coming back from an unanswered transfer. */
export const RESUME_PARAMETER = 'resume';

export function transferTwiml(p: { number: string; actionUrl: string; timeoutSec?: number }): string {
  const response = new VoiceResponse();
  // No callerId: Twilio then shows the human the caller's own number on an inbound call, and ours on an outbound one.
  const dial = response.dial({ action: p.actionUrl, method: 'POST', timeout: p.timeoutSec ?? TRANSFER_RING_SEC });
  dial.number(p.number);
  return response.toString();
}

/** Twilio's `DialCallStatus` as a transfer stage (anything unknown counts as failed). */
export function dialStage(dialCallStatus: unknown): TransferStage {
  const s = String(dialCallStatus ?? '');
  return s === 'completed' || s === 'answered' || s === 'busy' || s === 'no-answer' || s === 'failed' || s === 'canceled' ? s : 'failed';
}

/** The human took the call (and it is over now): nothing more to do on the caller's leg. */
export function transferAnswered(stage: TransferStage): boolean {
  return stage === 'completed' || stage === 'answered';
}

/** The `<Dial action>` answer: hang up after a conversation with the human; otherwise back to the agent. */
export function afterTransferTwiml(stage: TransferStage, back: StreamTwimlOptions): string {
  if (transferAnswered(stage) || stage === 'canceled') {
    const response = new VoiceResponse();
    response.hangup();
    return response.toString();
  }
  return streamTwiml({ ...back, parameters: { ...back.parameters, [RESUME_PARAMETER]: `transfer-${stage}` } });
}
