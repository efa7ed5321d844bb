/**
 * The core's side of the built-in host actions (actions.ts): what `end_call` and `take_message` do to a live
 * call. Other actions (transfer, sms, keys) extend `ActionHost` with what they need.
 */
import { ParleyError, errorMessage, isParleyError } from '../errors.ts';
import type { CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { CallRegistry } from './call-registry.ts';
import type { TwilioAccount } from '../twilio/account.ts';
import type { ActionHost } from '../tools/actions.ts';
import type { TwilioActionHost } from '../tools/twilio-actions.ts';
import type { CallFeatures } from './call-features.ts';
import { isTestCallSid } from '../../shared/calls.ts';

export interface ActionHostDeps {
  calls: Pick<CallRegistry, 'endStream'>;
  account: Pick<TwilioAccount, 'configured' | 'hangup'>;
  events: CoreEvents;
  log: Logger;
  /** Text a taken message to the call's persona's owner (CallFeatures.textOwner); never throws. */
  textOwner?(callSid: string, message: { name: string; callback: string; message: string }): Promise<unknown>;
}

export function createActionHost(d: ActionHostDeps): ActionHost {
  return {
    async endCall(callSid, reason) {
      // Closing the stream ends a <Connect><Stream> call (no TwiML follows it); the REST hang-up makes sure.
      d.calls.endStream(callSid, reason);
      if (!d.account.configured() || isTestCallSid(callSid)) return;
      try {
        await d.account.hangup(callSid);
      } catch (err) {
        // A simulated call has no Twilio call behind it.
        if (!isParleyError(err, 'CALL_NOT_FOUND')) d.log.warn('hanging up through Twilio failed; the stream is closed', { callSid, error: errorMessage(err) });
      }
    },
    async takeMessage(call, m) {
      d.events.emit({ type: 'call.message', callSid: call.callSid, name: m.name, callback: m.callback, message: m.message, at: Date.now() });
      d.log.info('message taken', { callSid: call.callSid, tool: m.tool });
      // In the background: Twilio's answer must not hold up the agent's reply, and its failure is not the call's.
      void d.textOwner?.(call.callSid, m).catch((err: unknown) => d.log.warn('texting the owner failed', { callSid: call.callSid, error: errorMessage(err) }));
    },
  };
}

/** The ActionHost members for these actions, done by the core's call features (looked up when used). */
export function twilioActionHost(features: () => CallFeatures): Required<TwilioActionHost> {
  return {
    transferCall: async (callSid) => {
      noPhoneLine(callSid, 'put the caller through');
      return features().transfer(callSid);
    },
    sendSms: async (callSid, m) => {
      noPhoneLine(callSid, 'text the caller');
      return features().sendSms(callSid, m);
    },
    pressKeys: (callSid, digits) => features().pressKeys(callSid, digits),
  };
}

/** A test call (the GUI's mic and speakers) has no Twilio call and no caller's number behind it. */
function noPhoneLine(callSid: string, what: string): void {
  if (isTestCallSid(callSid)) throw new ParleyError('BAD_REQUEST', `this is a test call from the computer's microphone: there is no phone line to ${what}. It works on a real call.`);
}
