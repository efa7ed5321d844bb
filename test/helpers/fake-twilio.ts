/**
 * A local stand-in for api.twilio.com (node:http), driven by the real `twilio` client: calls (create, update,
 * fetch), messages (create), the account, and incoming phone numbers (list, update), with Basic auth checked like Twilio does and
 * Twilio-shaped error bodies on demand. Every request is recorded with its form parameters.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback } from './local-server.ts';
import { randomBytes } from 'node:crypto';

export const ACCOUNT_SID = 'AC' + 'a1'.repeat(16);
export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const TWILIO_NUMBER = '+15005550006';

export interface RecordedTwilioRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Form fields; repeated keys (StatusCallbackEvent) keep every value. */
  form: URLSearchParams;
  authorized: boolean;
}

export interface TwilioFailure {
  status: number;
  code: number;
  message: string;
}

interface FakeCall {
  sid: string;
  to: string;
  from: string;
  status: string;
  direction: string;
}

export interface FakeNumber {
  sid: string;
  phone_number: string;
  voice_url: string;
  voice_method: string;
  status_callback: string;
  status_callback_method: string;
}

export const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class FakeTwilio {
  readonly server = http.createServer((req, res) => void this.#handle(req, res));
  readonly requests: RecordedTwilioRequest[] = [];
  readonly calls = new Map<string, FakeCall>();
  /** Text messages sent (Messages API). */
  readonly messages: { sid: string; to: string; from: string; body: string; status: string }[] = [];
  readonly numbers: FakeNumber[] = [
    { sid: 'PN' + 'b2'.repeat(16), phone_number: TWILIO_NUMBER, voice_url: 'https://demo.twilio.com/welcome/voice/', voice_method: 'POST', status_callback: '', status_callback_method: 'POST' },
  ];
  account = { status: 'active', type: 'Full', friendly_name: 'My Parley account' };
  url = '';
  /** Answer the next request matching (method, path regex) with this Twilio error, once. */
  readonly #failures: { method: string; path: RegExp; failure: TwilioFailure }[] = [];

  async start(): Promise<this> {
    this.url = await listenOnLoopback(this.server);
    return this;
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  failNext(method: string, path: RegExp, failure: TwilioFailure): void {
    this.#failures.push({ method, path, failure });
  }

  requestsTo(method: string, path: RegExp): RecordedTwilioRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  #send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #error(res: ServerResponse, f: TwilioFailure): void {
    this.#send(res, f.status, { code: f.code, message: f.message, more_info: `https://www.twilio.com/docs/errors/${f.code}`, status: f.status });
  }

  #callJson(c: FakeCall) {
    return { sid: c.sid, account_sid: ACCOUNT_SID, to: c.to, from: c.from, status: c.status, direction: c.direction, uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${c.sid}.json` };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const method = req.method ?? 'GET';
    const expected = 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64');
    const authorized = req.headers.authorization === expected;
    this.requests.push({ method, path: u.pathname, query: u.searchParams, form, authorized });

    const failure = this.#failures.findIndex((f) => f.method === method && f.path.test(u.pathname));
    if (failure >= 0) {
      const [f] = this.#failures.splice(failure, 1);
      return this.#error(res, f!.failure);
    }
    if (!authorized) return this.#error(res, { status: 401, code: 20003, message: 'Authenticate' });
    const base = `/2010-04-01/Accounts/${ACCOUNT_SID}`;
    const p = u.pathname;
    if (method === 'GET' && p === `${base}.json`) {
      return this.#send(res, 200, { sid: ACCOUNT_SID, friendly_name: this.account.friendly_name, status: this.account.status, type: this.account.type });
    }
    if (method === 'POST' && p === `${base}/Calls.json`) {
      const call: FakeCall = { sid: sid('CA'), to: form.get('To') ?? '', from: form.get('From') ?? '', status: 'queued', direction: 'outbound-api' };
      this.calls.set(call.sid, call);
      return this.#send(res, 201, this.#callJson(call));
    }
    if (method === 'POST' && p === `${base}/Messages.json`) {
      const m = { sid: sid('SM'), account_sid: ACCOUNT_SID, to: form.get('To') ?? '', from: form.get('From') ?? '', body: form.get('Body') ?? '', status: 'queued', uri: `${base}/Messages/x.json` };
      this.messages.push(m);
      return this.#send(res, 201, m);
    }
    const callPath = new RegExp(`^${base}/Calls/(CA[0-9a-f]{32})\\.json$`).exec(p);
    if (callPath) {
      const call = this.calls.get(callPath[1]!);
      if (!call) return this.#error(res, { status: 404, code: 20404, message: `The requested resource ${p} was not found` });
      if (method === 'POST') {
        if (['completed', 'busy', 'failed', 'no-answer', 'canceled'].includes(call.status)) return this.#error(res, { status: 400, code: 21220, message: 'Call is not in-progress. Cannot redirect.' });
        const status = form.get('Status');
        if (status) call.status = status;
      }
      return this.#send(res, 200, this.#callJson(call));
    }
    if (method === 'GET' && p === `${base}/IncomingPhoneNumbers.json`) {
      const want = u.searchParams.get('PhoneNumber');
      const list = this.numbers.filter((n) => !want || n.phone_number === want);
      return this.#send(res, 200, { incoming_phone_numbers: list.map((n) => ({ ...n, account_sid: ACCOUNT_SID })), next_page_uri: null, page: 0, page_size: 50, start: 0, end: list.length - 1, uri: p, first_page_uri: p, previous_page_uri: null });
    }
    const numberPath = new RegExp(`^${base}/IncomingPhoneNumbers/(PN[0-9a-f]{32})\\.json$`).exec(p);
    if (numberPath && method === 'POST') {
      const n = this.numbers.find((x) => x.sid === numberPath[1]);
      if (!n) return this.#error(res, { status: 404, code: 20404, message: 'not found' });
      if (form.has('VoiceUrl')) n.voice_url = form.get('VoiceUrl')!;
      if (form.has('VoiceMethod')) n.voice_method = form.get('VoiceMethod')!;
      if (form.has('StatusCallback')) n.status_callback = form.get('StatusCallback')!;
      if (form.has('StatusCallbackMethod')) n.status_callback_method = form.get('StatusCallbackMethod')!;
      return this.#send(res, 200, { ...n, account_sid: ACCOUNT_SID });
    }
    this.#error(res, { status: 404, code: 20404, message: `fake Twilio has no ${method} ${p}` });
  }
}
