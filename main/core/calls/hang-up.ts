/** Hanging up a call from this side: through Twilio's REST API when it is set up, and locally always. */
import { ParleyError, isParleyError } from '../errors.ts';
import type { TwilioAccount } from '../twilio/account.ts';
import type { CallRegistry } from './call-registry.ts';

export async function hangUp(calls: CallRegistry, account: TwilioAccount, callSid: string): Promise<void> {
  const hasStream = calls.session(callSid) !== null;
  if (account.configured()) {
    try {
      await account.hangup(callSid);
    } catch (err) {
      // A simulated call (no Twilio behind it) still hangs up here.
      if (!(hasStream && isParleyError(err, 'CALL_NOT_FOUND'))) throw err;
    }
  } else if (!hasStream) {
    if (calls.get(callSid)) throw new ParleyError('NOT_CONFIGURED', `Can't hang up through Twilio: set ${account.missing()} in Settings.`);
    throw new ParleyError('CALL_NOT_FOUND', `no live call ${callSid}. GET /calls lists the live calls.`);
  }
  calls.endStream(callSid, 'hung up');
}
