/**
 * What the agent can do on a live call through Twilio besides talking: put the caller through to a human
 * (transfer.ts), text them (messages.ts), press keys on a phone menu (audio/dtmf.ts), and leave a voicemail when
 * answering-machine detection says a machine answered (amd.ts). The tools (plugins/transfer-call, send-sms,
 * press-keys) ask for these through host actions; the webhooks Twilio calls back on (`/voice/amd`,
 * `/voice/transfer-result`) land here too. Settings are read on every use: they change at run time.
 */
import { dtmfFrames } from '../audio/dtmf.ts';
import type { CallRegistry, LiveSession } from './call-registry.ts';
import type { Config } from '../config.ts';
import { ParleyError, errorMessage, isParleyError } from '../errors.ts';
import type { CallDirection, CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ChatMessage } from '../plugins/api.ts';
import type { TwilioAccount } from '../twilio/account.ts';
import { amdVerdict } from '../twilio/amd.ts';
import { planSms } from '../twilio/messages.ts';
import { checkE164 } from '../twilio/phone-number.ts';
import { RESUME_PARAMETER, TRANSFER_RESULT_PATH, afterTransferTwiml, dialStage, transferAnswered, transferTwiml } from '../twilio/transfer.ts';
import { callDirection, mediaStreamUrl } from '../twilio/twiml.ts';
import { ownerMessageText, smsToAnyNumberAllowed, type Persona } from '../personas.ts';
import { isTestCallSid } from '../../shared/calls.ts';

/** What these features need of a call's session (CallSession). */
export interface FeatureSession extends LiveSession {
  readonly history: readonly ChatMessage[];
  readonly turnId: number;
  finalWords(text: string, options: { interrupt: boolean }): Promise<void>;
  reopen(): void;
  sendAudio(frames: Uint8Array[], timeoutMs: number): Promise<boolean>;
}

export interface CallFeaturesOptions {
  config: Config;
  account: TwilioAccount;
  calls: CallRegistry;
  events: CoreEvents;
  log: Logger;
  publicUrl(): string;
  /** Hang a call up (REST when configured, and its stream). */
  hangup(callSid: string): Promise<void>;
  /** The call's persona (personas-for-calls.ts): its numbers and wording come before the app's settings. */
  persona?(callSid: string): Pick<Persona, 'name' | 'transferNumber' | 'voicemailMessage' | 'smsToAnyNumber' | 'ownerNumber'>;
}

/** A caller put through to a human: what is needed to bring them back to the agent if nobody answers. */
interface Transfer {
  to: string;
  at: number;
  history: ChatMessage[];
  lastTurnId: number;
  direction: CallDirection;
  from: string | null;
  callerTo: string | null;
}

/** How long a transfer waits for its `<Dial action>` answer before it is forgotten. */
const TRANSFER_MEMORY_MS = 60 * 60_000;
/** The longest the "connecting you" line may take to play before the transfer goes ahead anyway. */
const LAST_WORDS_MS = 15_000;

export interface Resume {
  history: ChatMessage[];
  lastTurnId: number;
  greeting: string;
}

export class CallFeatures {
  readonly #o: CallFeaturesOptions;
  readonly #log: Logger;
  readonly #transfers = new Map<string, Transfer>();

  constructor(options: CallFeaturesOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'call-features' });
  }

  #session(callSid: string): FeatureSession {
    const s = this.#o.calls.session(callSid);
    if (!s || !('finalWords' in s)) throw new ParleyError('CALL_NOT_FOUND', `no live call ${callSid} with the agent on it`);
    return s as FeatureSession;
  }

  #base(what: string): string {
    const base = this.#o.publicUrl();
    if (!base) throw new ParleyError('NOT_CONFIGURED', `Can't ${what}: Twilio has no public URL to call this app back at (set PUBLIC_URL or NGROK_AUTHTOKEN).`);
    return base;
  }

  // ── Transfer ─────────────────────────────────────────────────────────────────

  /**
   * Put the caller through to a human: say the transfer message, then update the call with `<Dial>` TwiML
   * (which ends the stream). `number` overrides the configured PARLEY_TRANSFER_NUMBER (a persona's).
   */
  async transfer(callSid: string, options: { number?: string } = {}): Promise<{ to: string }> {
    const c = this.#o.config;
    const configured = options.number ?? (this.#o.persona?.(callSid).transferNumber || c.transferNumber);
    if (!configured) throw new ParleyError('NOT_CONFIGURED', 'No number to transfer callers to: set PARLEY_TRANSFER_NUMBER (Settings → transfer number), e.g. +15551234567.');
    const to = checkE164(configured, 'PARLEY_TRANSFER_NUMBER');
    // Everything that can be checked is checked before the caller hears "connecting you".
    const rest = this.#o.account.rest();
    const base = this.#base('transfer the call');
    const session = this.#session(callSid);
    await Promise.race([session.finalWords(c.transferMessage, { interrupt: false }), delay(LAST_WORDS_MS)]);
    // After the last words: they are part of the conversation the caller may come back to.
    this.#prune();
    this.#transfers.set(callSid, { to, at: Date.now(), history: session.history.map((m) => ({ ...m })), lastTurnId: session.turnId, direction: session.direction, from: session.from, callerTo: session.to });
    try {
      await rest.redirectCall(callSid, transferTwiml({ number: to, actionUrl: `${base}${TRANSFER_RESULT_PATH}` }));
    } catch (err) {
      this.#transfers.delete(callSid);
      session.reopen();
      throw err;
    }
    this.#log.info('call transferred', { callSid, to });
    this.#o.events.emit({ type: 'call.transfer', callSid, to, stage: 'dialing', at: Date.now() });
    return { to };
  }

  /** `<Dial action>`: how the transfer went. Answers with the TwiML that comes next (hang up, or back to the agent). */
  transferResult(form: Record<string, string>): string {
    const callSid = form.CallSid;
    if (!callSid) throw new ParleyError('BAD_REQUEST', 'transfer result without CallSid');
    const stage = dialStage(form.DialCallStatus);
    const t = this.#transfers.get(callSid);
    const back = !transferAnswered(stage) && stage !== 'canceled';
    this.#o.events.emit({ type: 'call.transfer', callSid, to: t?.to ?? form.To ?? '', stage, ...(back ? { returned: true } : {}), at: Date.now() });
    this.#log.info('transfer over', { callSid, stage, backToAgent: back });
    if (!back) this.#transfers.delete(callSid);
    else this.#o.calls.announce(callSid); // the caller's new stream may open
    const direction = t?.direction ?? callDirection(form.Direction);
    return afterTransferTwiml(stage, {
      streamUrl: mediaStreamUrl(this.#o.publicUrl() || 'https://localhost'),
      parameters: { callSid, from: t?.from ?? form.From, to: t?.callerTo ?? form.To, direction, callerName: form.CallerName },
    });
  }

  /** A new stream for a call coming back from an unanswered transfer: its conversation so far and what to say. */
  resumeFor(callSid: string, parameters: Record<string, string>): Resume | null {
    if (!parameters[RESUME_PARAMETER]?.startsWith('transfer-')) return null;
    const t = this.#transfers.get(callSid);
    this.#transfers.delete(callSid);
    if (!t) return null;
    return { history: t.history, lastTurnId: t.lastTurnId, greeting: this.#o.config.transferNoAnswerMessage };
  }

  #prune(): void {
    const old = Date.now() - TRANSFER_MEMORY_MS;
    for (const [sid, t] of this.#transfers) if (t.at < old) this.#transfers.delete(sid);
  }

  // ── Text messages ────────────────────────────────────────────────────────────

  /** Text the caller (or, when allowed, another number) from the call's Twilio number. */
  async sendSms(callSid: string, input: { to?: unknown; body: unknown }): Promise<{ sid: string; to: string }> {
    const call = this.#o.calls.session(callSid) ?? this.#o.calls.get(callSid);
    if (!call) throw new ParleyError('CALL_NOT_FOUND', `no live call ${callSid}`);
    const c = this.#o.config;
    const emit = (to: string, status: 'sent' | 'refused' | 'failed', detail?: string) =>
      this.#o.events.emit({ type: 'call.sms', callSid, to, status, ...(detail ? { detail } : {}), at: Date.now() });
    let plan;
    try {
      plan = planSms({ direction: call.direction ?? 'inbound', from: call.from, to: call.to }, input, {
        anyNumber: this.#o.persona ? smsToAnyNumberAllowed(this.#o.persona(callSid), c.smsToAnyNumber) : c.smsToAnyNumber,
        fallbackFrom: c.twilioPhoneNumber,
      });
    } catch (err) {
      emit(typeof input.to === 'string' ? input.to.slice(0, 40) : '', 'refused', errorMessage(err));
      throw err;
    }
    try {
      const m = await this.#o.account.rest().createMessage(plan);
      this.#log.info('text message sent', { callSid, to: plan.to, sid: m.sid });
      emit(plan.to, 'sent');
      return { sid: m.sid, to: plan.to };
    } catch (err) {
      emit(plan.to, isParleyError(err, 'NOT_CONFIGURED') ? 'refused' : 'failed', errorMessage(err));
      throw err;
    }
  }

  /**
   * A message was taken on the call: text it to the persona's owner ("Message from NAME (CALLBACK): TEXT"), when the
   * persona has an owner's number and Twilio is set up. Never throws: a failure is logged and recorded as a
   * `call.sms` event, and the call goes on. A test call (the GUI's microphone) never texts anyone.
   */
  async textOwner(callSid: string, m: { name: string; callback: string; message: string }): Promise<{ sid: string; to: string } | null> {
    const persona = this.#o.persona?.(callSid);
    const owner = persona?.ownerNumber ?? '';
    if (!owner || isTestCallSid(callSid) || !this.#o.account.configured()) return null;
    const call = this.#o.calls.session(callSid) ?? this.#o.calls.get(callSid);
    const ours = call ? (call.direction === 'outbound' ? call.from : call.to) : null;
    const from = ours && /^\+[1-9]\d{6,14}$/.test(ours) ? ours : this.#o.config.twilioPhoneNumber;
    const emit = (status: 'sent' | 'failed', detail: string) => this.#o.events.emit({ type: 'call.sms', callSid, to: owner, status, detail, at: Date.now() });
    try {
      if (!from) throw new ParleyError('NOT_CONFIGURED', 'no number to text from: set TWILIO_PHONE_NUMBER to an SMS-capable number of your Twilio account');
      const sent = await this.#o.account.rest().createMessage({ to: owner, from, body: ownerMessageText(m) });
      this.#log.info('message texted to the owner', { callSid, persona: persona!.name, to: owner, sid: sent.sid });
      emit('sent', `the message for the owner of persona "${persona!.name}"`);
      return { sid: sent.sid, to: owner };
    } catch (err) {
      this.#log.warn('could not text the message to the owner; it is kept in the inbox', { callSid, persona: persona!.name, to: owner, error: errorMessage(err) });
      emit('failed', `texting the message to the owner failed: ${errorMessage(err)}`);
      return null;
    }
  }

  // ── Keys on a phone menu ─────────────────────────────────────────────────────

  /** Play DTMF digits to the far end (in-band: see audio/dtmf.ts for why). Resolves once Twilio played them. */
  async pressKeys(callSid: string, digits: unknown): Promise<{ digits: string; played: boolean }> {
    if (typeof digits !== 'string') throw new ParleyError('BAD_REQUEST', '"digits" must be a string such as "1" or "123#"');
    let frames: Uint8Array[];
    try {
      frames = dtmfFrames(digits);
    } catch (err) {
      throw new ParleyError('BAD_REQUEST', errorMessage(err));
    }
    const session = this.#session(callSid);
    const played = await session.sendAudio(frames, frames.length * 20 + 10_000);
    this.#o.events.emit({ type: 'call.keys', callSid, digits, at: Date.now() });
    return { digits, played };
  }

  // ── Answering machines ───────────────────────────────────────────────────────

  /** The AsyncAmdStatusCallback: record who answered; on a machine, leave the voicemail after the beep. */
  answeredBy(form: Record<string, string>): { ok: true } {
    const callSid = form.CallSid;
    if (!callSid) throw new ParleyError('BAD_REQUEST', 'answering-machine result without CallSid');
    const v = amdVerdict(form.AnsweredBy);
    const detectionMs = Number(form.MachineDetectionDuration);
    this.#o.events.emit({ type: 'call.answered_by', callSid, answeredBy: v.answeredBy, outcome: v.outcome, ...(Number.isFinite(detectionMs) ? { detectionMs } : {}), at: Date.now() });
    this.#log.info('answering-machine detection', { callSid, answeredBy: v.answeredBy });
    if (v.leaveMessage) void this.#leaveVoicemail(callSid);
    else if (v.hangUp) void this.#hangUp(callSid, 'a fax machine answered');
    return { ok: true };
  }

  async #leaveVoicemail(callSid: string): Promise<void> {
    const message = (this.#o.persona?.(callSid).voicemailMessage.trim() || this.#o.config.voicemailMessage).trim();
    const session = this.#o.calls.session(callSid);
    if (message && session && 'finalWords' in session) {
      this.#log.info('leaving the voicemail message', { callSid });
      await (session as FeatureSession).finalWords(message, { interrupt: true });
    }
    await this.#hangUp(callSid, message ? 'voicemail left' : 'an answering machine answered');
  }

  async #hangUp(callSid: string, why: string): Promise<void> {
    try {
      await this.#o.hangup(callSid);
      this.#log.info(`hung up: ${why}`, { callSid });
    } catch (err) {
      this.#log.warn(`could not hang up (${why})`, { callSid, error: errorMessage(err) });
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
