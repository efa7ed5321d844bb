/**
 * The user's Twilio account as Parley uses it: dial out (validated, rate-limited), hang up, check the
 * credentials, and — only with the user's consent (PARLEY_UPDATE_TWILIO_NUMBER) — point their number's voice URL
 * and status callback at this app's public URL. Reads the settings on every use: they can change at run time.
 */
import type { Config } from '../config.ts';
import { ParleyError, errorMessage, isParleyError } from '../errors.ts';
import type { CallStatus, CallStatusUpdate } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ComponentStatus } from '../../shared/status.ts';
import { checkE164, isE164 } from './phone-number.ts';
import { RateLimiter } from './rate-limit.ts';
import { AMD_CALLBACK_PATH } from './amd.ts';
import { TwilioRest, type AccountInfo } from './rest.ts';

export interface TwilioAccountOptions {
  config: Config;
  log: Logger;
  /** Where a dialled call's status goes. */
  calls: { update(status: CallStatusUpdate): unknown };
  /** The public base URL ('' when none). */
  publicUrl(): string;
  /** Why there is no public URL yet (null when there is one). */
  publicProblem(): string | null;
  onStatus(status: ComponentStatus): void;
  /** Twilio API origin (tests: a local fake). */
  apiBaseUrl?: string;
  now?: () => number;
}

export interface NumberCheck {
  ok: boolean | null;
  detail: string;
  fix: string;
}

export const webhookUrls = (publicUrl: string) => ({ voiceUrl: `${publicUrl}/voice/incoming`, statusCallback: `${publicUrl}/voice/status` });

export class TwilioAccount {
  readonly #o: TwilioAccountOptions;
  readonly #log: Logger;
  readonly #limiter: RateLimiter;
  #rest: { key: string; client: TwilioRest } | null = null;
  #checking: Promise<AccountInfo | null> | null = null;

  constructor(options: TwilioAccountOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'twilio' });
    this.#limiter = new RateLimiter({ limit: () => options.config.dialRatePerMinute, setting: 'PARLEY_DIAL_RATE', ...(options.now ? { now: options.now } : {}) });
  }

  /** Which credential settings are missing ('' when both are set). */
  missing(): string {
    const c = this.#o.config;
    return [!c.twilioAccountSid && 'TWILIO_ACCOUNT_SID', !c.twilioAuthToken && 'TWILIO_AUTH_TOKEN'].filter(Boolean).join(' and ');
  }

  configured(): boolean {
    return this.missing() === '';
  }

  /** The REST client for the current credentials (NOT_CONFIGURED naming the missing setting). */
  rest(): TwilioRest {
    const c = this.#o.config;
    const missing = this.missing();
    if (missing) throw new ParleyError('NOT_CONFIGURED', `Twilio is not set up: set ${missing} in Settings (Twilio console → Account info).`);
    const key = `${c.twilioAccountSid}\n${c.twilioAuthToken}`;
    if (this.#rest?.key !== key) this.#rest = { key, client: new TwilioRest({ accountSid: c.twilioAccountSid, authToken: c.twilioAuthToken, ...(this.#o.apiBaseUrl ? { apiBaseUrl: this.#o.apiBaseUrl } : {}) }) };
    return this.#rest.client;
  }

  /** Place a call that connects to this app's agent. */
  async dial(input: { to: string; from?: string }): Promise<{ callSid: string }> {
    if (!input || typeof input !== 'object') throw new ParleyError('BAD_REQUEST', 'dial needs { to: "+15551234567" }');
    // 1. The numbers, before anything else: a typo costs nothing.
    const to = checkE164(input.to, 'to');
    const configuredFrom = this.#o.config.twilioPhoneNumber;
    const fromGiven = input.from !== undefined && input.from !== null && input.from !== '';
    if (!fromGiven && !configuredFrom) throw new ParleyError('NOT_CONFIGURED', 'No number to call from: set TWILIO_PHONE_NUMBER in Settings to your Twilio number (e.g. +15551234567), or pass "from".');
    const from = checkE164(fromGiven ? input.from : configuredFrom, fromGiven ? 'from' : 'TWILIO_PHONE_NUMBER');
    // 2. Can Twilio reach us to run the call?
    const rest = this.rest();
    const base = this.#o.publicUrl();
    if (!base) throw new ParleyError('NOT_CONFIGURED', `Can't place calls yet: ${this.#o.publicProblem() ?? 'no public URL'}`);
    if (!base.startsWith('https://')) throw new ParleyError('NOT_CONFIGURED', `PUBLIC_URL ${base} is not https: Twilio's media streams need wss://. Put an https proxy in front, or use the ngrok tunnel.`);
    // 3. Not too many.
    this.#limiter.take();
    const call = await rest.createCall({
      to,
      from,
      url: `${base}/voice/incoming`,
      statusCallback: `${base}/voice/status`,
      ...(this.#o.config.machineDetection ? { machineDetection: { mode: 'DetectMessageEnd' as const, callbackUrl: `${base}${AMD_CALLBACK_PATH}` } } : {}),
    });
    this.#log.info('outbound call placed', { callSid: call.sid, to, from });
    this.#o.calls.update({ callSid: call.sid, status: call.status || 'queued', direction: 'outbound', from, to });
    return { callSid: call.sid };
  }

  /** Complete the call at Twilio. A call that is already over is not an error. */
  async hangup(callSid: string): Promise<void> {
    try {
      const c = await this.rest().completeCall(callSid);
      this.#o.calls.update({ callSid, status: c.status });
    } catch (err) {
      if (isParleyError(err) && err.details?.twilioCode === 21220) return; // not in progress any more
      throw err;
    }
  }

  /** Twilio's current status of a call, or null when it can't be asked. */
  async lookup(callSid: string): Promise<CallStatus | null> {
    if (!this.configured()) return null;
    return (await this.rest().fetchCall(callSid)).status;
  }

  /** Check the credentials against Twilio and report the result as the `twilio` status. */
  check(): Promise<AccountInfo | null> {
    if (this.#checking) return this.#checking;
    this.#checking = this.#check().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async #check(): Promise<AccountInfo | null> {
    const c = this.#o.config;
    if (!this.configured()) {
      this.#o.onStatus({ ok: false, detail: `Twilio is not set up: set ${this.missing()} (Twilio console → Account info) to take and make calls.` });
      return null;
    }
    this.#o.onStatus({ ok: false, detail: 'checking the Twilio credentials…' });
    try {
      const a = await this.rest().fetchAccount();
      if (a.status !== 'active') {
        this.#o.onStatus({ ok: false, detail: `Twilio account "${a.name}" is ${a.status}: add funds or reactivate it in the Twilio console.` });
        return a;
      }
      const notes = [
        a.type === 'Trial' ? 'trial account: it can call verified numbers only' : '',
        !c.twilioPhoneNumber ? 'set TWILIO_PHONE_NUMBER to call out' : !isE164(c.twilioPhoneNumber) ? `TWILIO_PHONE_NUMBER ${JSON.stringify(c.twilioPhoneNumber)} is not E.164 (+15551234567)` : '',
        !c.validateSignatures ? 'signature checks are OFF' : '',
      ].filter(Boolean);
      this.#o.onStatus({ ok: true, detail: `Twilio account "${a.name}" accepted the credentials${notes.length ? ` (${notes.join('; ')})` : ''}` });
      return a;
    } catch (err) {
      this.#o.onStatus({ ok: false, detail: errorMessage(err) });
      return null;
    }
  }

  /** Does the number's voice URL point at this app? For the doctor. */
  async checkNumber(): Promise<NumberCheck> {
    const c = this.#o.config;
    if (!this.configured()) return { ok: null, detail: 'skipped: Twilio credentials are not set', fix: `Set ${this.missing()} first.` };
    if (!c.twilioPhoneNumber) return { ok: false, detail: 'TWILIO_PHONE_NUMBER is not set', fix: 'Set TWILIO_PHONE_NUMBER to your Twilio number (Twilio console → Phone Numbers → Active numbers), e.g. +15551234567.' };
    const base = this.#o.publicUrl();
    if (!base) return { ok: false, detail: 'no public URL to compare with', fix: this.#o.publicProblem() ?? 'Set NGROK_AUTHTOKEN or PUBLIC_URL.' };
    const want = webhookUrls(base);
    let n;
    try {
      n = await this.rest().findNumber(c.twilioPhoneNumber);
    } catch (err) {
      return { ok: false, detail: errorMessage(err), fix: 'Fix the Twilio credentials (see the check above), then run the doctor again.' };
    }
    if (!n) return { ok: false, detail: `${c.twilioPhoneNumber} is not a number of this Twilio account`, fix: 'Set TWILIO_PHONE_NUMBER to one of your numbers (Twilio console → Phone Numbers → Active numbers), in E.164 form.' };
    const how = `In the Twilio console → Phone Numbers → ${n.phoneNumber} → Voice configuration, set "A call comes in" to Webhook ${want.voiceUrl} (HTTP POST) and "Call status changes" to ${want.statusCallback}; or turn on PARLEY_UPDATE_TWILIO_NUMBER and let Parley do it.`;
    if (n.voiceUrl !== want.voiceUrl) return { ok: false, detail: `${n.phoneNumber} sends calls to ${n.voiceUrl || '(nothing)'}, not to ${want.voiceUrl}`, fix: how };
    if (n.voiceMethod && n.voiceMethod.toUpperCase() !== 'POST') return { ok: false, detail: `${n.phoneNumber} calls ${n.voiceUrl} with ${n.voiceMethod}; Parley expects POST`, fix: how };
    if (n.statusCallback !== want.statusCallback) return { ok: true, detail: `${n.phoneNumber} → ${n.voiceUrl}; its status callback is ${n.statusCallback || 'not set'} (optional: Parley notices ended calls without it)`, fix: '' };
    return { ok: true, detail: `${n.phoneNumber} → ${n.voiceUrl}, status callback ${n.statusCallback}`, fix: '' };
  }

  /**
   * With the user's consent (PARLEY_UPDATE_TWILIO_NUMBER), point the number's voice URL and status callback at
   * `publicUrl`. Without it, nothing on the Twilio account is changed. Never throws: failures are logged.
   */
  async pointNumber(publicUrl: string): Promise<'updated' | 'unchanged' | 'skipped' | 'failed'> {
    const c = this.#o.config;
    if (!c.updateTwilioNumber || !publicUrl) return 'skipped';
    if (!this.configured() || !c.twilioPhoneNumber) {
      this.#log.warn('PARLEY_UPDATE_TWILIO_NUMBER is on, but the Twilio credentials or TWILIO_PHONE_NUMBER are missing: the number was not updated');
      return 'skipped';
    }
    if (!publicUrl.startsWith('https://')) {
      this.#log.warn(`not pointing ${c.twilioPhoneNumber} at ${publicUrl}: Twilio needs an https URL`);
      return 'skipped';
    }
    try {
      const rest = this.rest();
      const n = await rest.findNumber(c.twilioPhoneNumber);
      if (!n) {
        this.#log.warn(`PARLEY_UPDATE_TWILIO_NUMBER: ${c.twilioPhoneNumber} is not a number of this Twilio account; nothing was changed`);
        return 'failed';
      }
      const want = webhookUrls(publicUrl);
      if (n.voiceUrl === want.voiceUrl && n.statusCallback === want.statusCallback && n.voiceMethod.toUpperCase() === 'POST') return 'unchanged';
      await rest.updateNumber(n.sid, want);
      this.#log.info(`pointed ${n.phoneNumber} at ${want.voiceUrl} (was ${n.voiceUrl || 'nothing'}) and its status callback at ${want.statusCallback}`);
      return 'updated';
    } catch (err) {
      this.#log.warn(`could not update ${c.twilioPhoneNumber}'s voice URL: ${errorMessage(err)}`);
      return 'failed';
    }
  }
}
