/**
 * The host actions behind the Twilio tools (plugins/transfer-call, send-sms, press-keys): checked here, carried out
 * by the call's Twilio features (calls/call-features.ts). Who gets called or texted is the host's decision — a
 * setting, the caller's own number — never the LLM's.
 */
import type { ActionHandler } from './actions.ts';

export type TwilioToolAction =
  | { type: 'transfer_call'; reason: string }
  | { type: 'send_sms'; body: string; to?: string }
  | { type: 'press_keys'; digits: string };

/** What these actions need from the core (calls/action-host.ts: `twilioActionHost`). */
export interface TwilioActionHost {
  transferCall?(callSid: string, reason: string): Promise<unknown>;
  sendSms?(callSid: string, message: { body: string; to?: string }): Promise<unknown>;
  pressKeys?(callSid: string, digits: string): Promise<unknown>;
}

const text = (v: unknown, max: number): string => (typeof v === 'string' ? v.trim().slice(0, max) : '');
const unavailable = (what: string) => new Error(`${what} is not available here (no Twilio features in this core)`);

export const TWILIO_ACTIONS: { [T in TwilioToolAction['type']]: ActionHandler<Extract<TwilioToolAction, { type: T }>> } = {
  transfer_call: {
    // At once: "connecting you" is said by the host, and the LLM's next words would go to a stream that is ending.
    when: 'now',
    parse: (raw) => ({ type: 'transfer_call', reason: text(raw.reason, 200) }),
    run: async (a, r) => {
      if (!r.host.transferCall) throw unavailable('transfer_call');
      await r.host.transferCall(r.call.callSid, a.reason);
    },
  },
  send_sms: {
    when: 'now',
    parse: (raw) => {
      const body = text(raw.body, 1_600);
      if (!body) return 'send_sms needs the text of the message ("body")';
      const to = text(raw.to, 40);
      return { type: 'send_sms', body, ...(to ? { to } : {}) };
    },
    run: async (a, r) => {
      if (!r.host.sendSms) throw unavailable('send_sms');
      await r.host.sendSms(r.call.callSid, { body: a.body, ...(a.to ? { to: a.to } : {}) });
    },
  },
  press_keys: {
    // At once, and the tool waits until the keys were played: the LLM then listens for the menu's next prompt.
    when: 'now',
    parse: (raw) => {
      const digits = text(raw.digits, 64).replace(/[\s-]/g, '');
      return /^[0-9*#wA-D]{1,64}$/.test(digits) ? { type: 'press_keys', digits } : `press_keys needs "digits" made of 0-9, * , #, A-D and w (got ${JSON.stringify(raw.digits)})`;
    },
    run: async (a, r) => {
      if (!r.host.pressKeys) throw unavailable('press_keys');
      await r.host.pressKeys(r.call.callSid, a.digits);
    },
  },
};
