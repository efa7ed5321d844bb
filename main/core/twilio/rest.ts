/**
 * The Twilio REST API, through the official `twilio` package only: place and complete calls, check the
 * account, read and point the phone number. Twilio's errors become ParleyErrors whose message says what to do
 * (verify the number on a trial account, add funds, fix the credentials…).
 */
import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient.js';
import { ParleyError, errorMessage, type ErrorCode } from '../errors.ts';
import type { CallStatus } from '../event-bus.ts';

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  /**
   * Send API requests to this origin instead of https://api.twilio.com (tests point it at a local fake; the
   * request still goes through the package's own RequestClient).
   */
  apiBaseUrl?: string;
  timeoutMs?: number;
}

export interface CallInfo {
  sid: string;
  status: CallStatus;
  direction: string;
  to: string;
  from: string;
}

export interface AccountInfo {
  sid: string;
  name: string;
  status: string;
  /** `Trial` accounts can only call verified numbers. */
  type: string;
}

export interface NumberInfo {
  sid: string;
  phoneNumber: string;
  voiceUrl: string;
  voiceMethod: string;
  statusCallback: string;
  statusCallbackMethod: string;
}

export type TwilioAction = 'dial' | 'hangup' | 'lookup' | 'check' | 'number' | 'redirect' | 'message';

/**
 * Twilio's asynchronous answering-machine detection on an outbound call
 * (https://www.twilio.com/docs/voice/answering-machine-detection): the call connects at once and the verdict
 * (`AnsweredBy`) is POSTed to `callbackUrl`. `DetectMessageEnd` waits for the end of a machine's greeting (the
 * beep), so a voicemail can start on it.
 */
export interface MachineDetection {
  mode: 'Enable' | 'DetectMessageEnd';
  callbackUrl: string;
}

export interface MessageInfo {
  sid: string;
  status: string;
  to: string;
  from: string;
}

/** What the action was about, for messages. */
export interface FailureContext {
  action: TwilioAction;
  to?: string;
  from?: string;
  callSid?: string;
  phoneNumber?: string;
}

const TWILIO_API = 'https://api.twilio.com';

/** The package's RequestClient, with every request's origin moved to `base` (for the local fake). */
function redirectingClient(base: string, timeoutMs: number): RequestClient {
  const inner = new RequestClient({ timeout: timeoutMs });
  const target = new URL(base);
  return {
    request(opts: Parameters<RequestClient['request']>[0]) {
      const u = new URL(opts.uri);
      u.protocol = target.protocol;
      u.host = target.host;
      return inner.request({ ...opts, uri: u.toString() });
    },
  } as unknown as RequestClient;
}

export class TwilioRest {
  readonly accountSid: string;
  readonly #client: twilio.Twilio;

  constructor(options: TwilioRestOptions) {
    if (!/^AC[0-9a-fA-F]{32}$/.test(options.accountSid)) {
      const hint = options.accountSid.startsWith('SK') ? ' (an SK… value is an API key, not the account)' : '';
      throw new ParleyError('NOT_CONFIGURED', `TWILIO_ACCOUNT_SID must be your Account SID: AC followed by 32 hex characters${hint}. Copy it from the Twilio console → Account info.`);
    }
    this.accountSid = options.accountSid;
    const timeout = options.timeoutMs ?? 15_000;
    this.#client = twilio(options.accountSid, options.authToken, {
      timeout,
      autoRetry: false,
      ...(options.apiBaseUrl && options.apiBaseUrl !== TWILIO_API ? { httpClient: redirectingClient(options.apiBaseUrl, timeout) } : {}),
    });
  }

  async createCall(p: { to: string; from: string; url: string; statusCallback: string; machineDetection?: MachineDetection }): Promise<CallInfo> {
    try {
      const amd = p.machineDetection;
      const c = await this.#client.calls.create({
        to: p.to,
        from: p.from,
        url: p.url,
        method: 'POST',
        statusCallback: p.statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        ...(amd ? { machineDetection: amd.mode, asyncAmd: 'true', asyncAmdStatusCallback: amd.callbackUrl, asyncAmdStatusCallbackMethod: 'POST' } : {}),
      });
      return { sid: c.sid, status: c.status as CallStatus, direction: c.direction, to: c.to, from: c.from };
    } catch (err) {
      throw twilioFailure(err, { action: 'dial', to: p.to, from: p.from });
    }
  }

  /** Ends a live call (or cancels a ringing one). */
  async completeCall(callSid: string): Promise<CallInfo> {
    try {
      const c = await this.#client.calls(callSid).update({ status: 'completed' });
      return { sid: c.sid, status: c.status as CallStatus, direction: c.direction, to: c.to, from: c.from };
    } catch (err) {
      throw twilioFailure(err, { action: 'hangup', callSid });
    }
  }

  /**
   * Replace what a live call is doing with new TwiML. On a `<Connect><Stream>` call this ends the media stream
   * (Twilio sends `stop`) and the call goes on with the new TwiML: how a call is transferred with `<Dial>`.
   */
  async redirectCall(callSid: string, twiml: string): Promise<CallInfo> {
    try {
      const c = await this.#client.calls(callSid).update({ twiml });
      return { sid: c.sid, status: c.status as CallStatus, direction: c.direction, to: c.to, from: c.from };
    } catch (err) {
      throw twilioFailure(err, { action: 'redirect', callSid });
    }
  }

  /** Send a text message (Messages API). */
  async createMessage(p: { to: string; from: string; body: string }): Promise<MessageInfo> {
    try {
      const m = await this.#client.messages.create({ to: p.to, from: p.from, body: p.body });
      return { sid: m.sid, status: m.status, to: m.to, from: m.from };
    } catch (err) {
      throw twilioFailure(err, { action: 'message', to: p.to, from: p.from });
    }
  }

  async fetchCall(callSid: string): Promise<CallInfo> {
    try {
      const c = await this.#client.calls(callSid).fetch();
      return { sid: c.sid, status: c.status as CallStatus, direction: c.direction, to: c.to, from: c.from };
    } catch (err) {
      throw twilioFailure(err, { action: 'lookup', callSid });
    }
  }

  async fetchAccount(): Promise<AccountInfo> {
    try {
      const a = await this.#client.api.v2010.accounts(this.accountSid).fetch();
      return { sid: a.sid, name: a.friendlyName, status: a.status, type: a.type };
    } catch (err) {
      throw twilioFailure(err, { action: 'check' });
    }
  }

  /** The account's number with this E.164 value, or null when the account has no such number. */
  async findNumber(phoneNumber: string): Promise<NumberInfo | null> {
    try {
      const [n] = await this.#client.incomingPhoneNumbers.list({ phoneNumber, limit: 1 });
      return n ? numberInfo(n) : null;
    } catch (err) {
      throw twilioFailure(err, { action: 'number', phoneNumber });
    }
  }

  async updateNumber(sid: string, p: { voiceUrl: string; statusCallback: string }): Promise<NumberInfo> {
    try {
      const n = await this.#client.incomingPhoneNumbers(sid).update({ voiceUrl: p.voiceUrl, voiceMethod: 'POST', statusCallback: p.statusCallback, statusCallbackMethod: 'POST' });
      return numberInfo(n);
    } catch (err) {
      throw twilioFailure(err, { action: 'number' });
    }
  }
}

function numberInfo(n: { sid: string; phoneNumber: string; voiceUrl: string; voiceMethod: string; statusCallback: string; statusCallbackMethod: string }): NumberInfo {
  return { sid: n.sid, phoneNumber: n.phoneNumber, voiceUrl: n.voiceUrl ?? '', voiceMethod: n.voiceMethod ?? '', statusCallback: n.statusCallback ?? '', statusCallbackMethod: n.statusCallbackMethod ?? '' };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_NETWORK', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

const VERBS: Record<TwilioAction, string> = {
  dial: 'place the call',
  hangup: 'hang up the call',
  lookup: 'look up the call',
  check: 'check the account',
  number: 'read or update your phone number',
  redirect: 'transfer the call',
  message: 'send the text message',
};

/**
 * A Twilio failure as a ParleyError that says what to do. `details.twilioCode` keeps Twilio's own error code
 * (https://www.twilio.com/docs/api/errors/<code>); `details.status` is the HTTP status the control API answers.
 */
export function twilioFailure(err: unknown, ctx: FailureContext): ParleyError {
  const e = err as { status?: unknown; code?: unknown; message?: unknown; moreInfo?: unknown };
  const status = typeof e.status === 'number' ? e.status : null;
  const code = typeof e.code === 'number' ? e.code : null;
  const make = (pcode: ErrorCode, message: string, httpStatus?: number) =>
    new ParleyError(pcode, message, { cause: err, details: { ...(code !== null ? { twilioCode: code } : {}), ...(httpStatus ? { status: httpStatus } : {}) } });

  if (status === null) {
    const netCode = typeof e.code === 'string' ? e.code : (err as { cause?: { code?: unknown } })?.cause?.code;
    if (typeof netCode === 'string' && NETWORK_CODES.has(netCode)) {
      return make('TWILIO_ERROR', `Could not reach Twilio to ${VERBS[ctx.action]} (${netCode}): check this computer's internet connection, then try again.`, 503);
    }
    return make('TWILIO_ERROR', `Could not ${VERBS[ctx.action]} through Twilio: ${errorMessage(err)}`, 502);
  }
  const to = ctx.to ?? 'that number';
  const from = ctx.from ?? 'your number';
  const twilioText = typeof e.message === 'string' && e.message ? e.message : `HTTP ${status}`;
  const ref = code !== null ? ` (Twilio error ${code})` : '';
  const text = twilioText.toLowerCase();
  if (ctx.action === 'message') {
    if (code === 21610) return make('TWILIO_ERROR', `${to} has replied STOP to your number, so Twilio won't text it${ref}.`, 403);
    if (code === 21614) return make('INVALID_NUMBER', `${to} can't receive text messages (not a mobile number)${ref}.`, 400);
    if (code === 21606 || code === 21659) return make('TWILIO_ERROR', `${from} can't send text messages${ref}: use an SMS-capable number of this Twilio account (Phone Numbers → Active numbers, "SMS" capability).`, 403);
    if (code === 21408 || code === 21612) return make('TWILIO_ERROR', `Your Twilio account may not text ${to}${ref}: enable that country in the Twilio console → Messaging → Settings → Geo permissions.`, 403);
  }
  switch (code) {
    case 20003:
      return make('TWILIO_ERROR', `Twilio rejected the credentials${ref}: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in Settings (Twilio console → Account info). Rotating the token in the console invalidates the old one.`, 502);
    case 20404:
      if (ctx.action === 'hangup' || ctx.action === 'lookup' || ctx.action === 'redirect') return make('CALL_NOT_FOUND', `Twilio has no call ${ctx.callSid ?? ''} on this account${ref}: it may belong to another account, or never existed.`, 404);
      if (ctx.action === 'check') return make('TWILIO_ERROR', `Twilio has no account with this TWILIO_ACCOUNT_SID${ref}: copy the Account SID again from the Twilio console → Account info.`, 502);
      break;
    case 21211:
    case 21217:
    case 21214:
    case 13223:
    case 13224:
      return make('INVALID_NUMBER', `Twilio says ${to} is not a phone number it can call${ref}: check the country code and the digits, e.g. +15551234567.`, 400);
    case 21219:
    case 21608:
      return make('TWILIO_ERROR', `Your Twilio account is a trial account: it can only call numbers you have verified${ref}. Verify ${to} in the Twilio console (Phone Numbers → Verified Caller IDs), or upgrade the account.`, 403);
    case 21210:
    case 21212:
    case 21606:
      return make('TWILIO_ERROR', `Twilio won't place calls from ${from}${ref}: set TWILIO_PHONE_NUMBER to a voice-capable number of this Twilio account (Phone Numbers → Active numbers), or a verified caller ID.`, 403);
    case 21215:
    case 21216:
    case 13227:
      return make('TWILIO_ERROR', `Your Twilio account is not allowed to call ${to}${ref}: enable that country in the Twilio console → Voice → Settings → Geo permissions.`, 403);
    case 20005:
    case 10001:
      return make('TWILIO_ERROR', `Your Twilio account is not active, usually because its balance ran out${ref}: add funds in the Twilio console → Billing, then try again.`, 402);
    case 21220:
      return make('CALL_NOT_FOUND', `Call ${ctx.callSid ?? ''} is not in progress any more${ref}.`, 409);
    case 20429:
      return make('RATE_LIMITED', `Twilio is limiting requests${ref}: wait a minute, then try again.`, 429);
  }
  if (/insufficient|balance|funds/.test(text)) {
    return make('TWILIO_ERROR', `Your Twilio balance is too low to ${VERBS[ctx.action]}${ref}: add funds in the Twilio console → Billing, then try again.`, 402);
  }
  if (status === 401) return make('TWILIO_ERROR', `Twilio rejected the credentials${ref}: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in Settings.`, 502);
  if (status === 429) return make('RATE_LIMITED', `Twilio is limiting requests${ref}: wait a minute, then try again.`, 429);
  const more = typeof e.moreInfo === 'string' && e.moreInfo ? ` More: ${e.moreInfo}` : '';
  return make('TWILIO_ERROR', `Twilio refused to ${VERBS[ctx.action]}${ref}: ${twilioText}.${more}`, 502);
}
