/**
 * The `/test-call` WebSocket: the GUI's **Test call** — the person at the desk talks to the agent through the
 * computer's mic and speakers, with no Twilio account and no tunnel. The page speaks the very Twilio Media
 * Streams protocol (connected / start / media / mark / stop, 8 kHz μ-law in base64) and the stream is handled by
 * an ordinary MediaSocketServer, so the engine sees an ordinary call: same plugins, turn-taking, barge-in and
 * records. What differs is who may open it and how the call is marked:
 *
 * - Only this computer: a loopback peer and a loopback Host (no DNS rebinding), the control token (the GUI's
 *   token) in `?token=`, and — when the request carries an Origin, as every browser page does — the GUI's own
 *   origin only (`http://<the same host>` for the headless GUI, `parley://app` for the desktop app). A page from
 *   any other origin is refused. It is never served through the tunnel (only the Twilio routes are).
 * - The callSid must look like `TEST…` (the page makes one up), and the call's parameters are set here, not by
 *   the page: `test=true`, direction inbound, from "Test call". That is how the Calls view and the records tell
 *   a test call from a phone call.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';
import { ParleyError } from '../errors.ts';
import type { StartMessage } from '../twilio/media-stream.ts';
import type { StreamSocket } from '../calls/call-registry.ts';
import { hostName, isLoopbackHost, isLoopbackPeer, tokensEqual } from './access.ts';
import { MediaSocketServer, type CallHandler } from './media-socket.ts';
import { refuseUpgrade, type UpgradeHandler } from './http.ts';
import { TEST_CALL_FROM, isTestCallSid } from '../../shared/calls.ts';

export const TEST_CALL_PATH = '/test-call';
/** The desktop app's page origin (main/electron/protocol.ts APP_ORIGIN; the core can't import the shell). */
export const DESKTOP_APP_ORIGIN = 'parley://app';
export { TEST_CALL_FROM, TEST_CALL_SID, isTestCallSid } from '../../shared/calls.ts';

/**
 * Why this upgrade may not open a test call (or, with `what` = { one: 'desk connection', many: 'desk connections' },
 * another local-GUI-only socket such as /desk), or null.
 */
export function testCallProblem(req: IncomingMessage, url: URL, token: string, what = { one: 'test call', many: 'test calls' }): string | null {
  if (!isLoopbackPeer(req)) return `${what.many} are only for this computer`;
  if (!isLoopbackHost(req.headers.host)) return `${what.many} answer only to 127.0.0.1 or localhost, not ${hostName(req.headers.host) || 'no Host header'}`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== DESKTOP_APP_ORIGIN) return `${what.one} from a page of another origin (${String(origin).slice(0, 100)}) refused`;
  if (!token) return `${what.many} are locked until Parley has started and set up its control token`;
  const given = url.searchParams.get('token');
  if (!given || !tokensEqual(given, token)) return 'wrong or missing token: open the GUI from the link Parley printed (a test call passes its token on)';
  return null;
}

/** The parameters a test call runs with, whatever the page sent (it may only name itself). */
export function testCallStart(start: StartMessage): StartMessage {
  if (!isTestCallSid(start.start.callSid)) {
    throw new ParleyError('BAD_REQUEST', `a test call's callSid must be "TEST" and 8 to 64 letters or digits, not "${start.start.callSid.slice(0, 80)}"`);
  }
  return { ...start, start: { ...start.start, customParameters: { test: 'true', direction: 'inbound', from: TEST_CALL_FROM, to: 'Parley' } } };
}

export interface TestCallSocketOptions {
  log: Logger;
  /** The control token (read at each upgrade: it is set at start-up). */
  token(): string;
  /** Open the call, as for /media (the start's parameters are already the test call's). */
  onStart(start: StartMessage, socket: StreamSocket): CallHandler;
  onProblem?(callSid: string | null, code: string, message: string): void;
  /** Concurrent streams allowed, as for /media. */
  maxStreams?(): number;
  startTimeoutMs?: number;
  maxBufferedBytes?: number;
}

export class TestCallSocketServer {
  readonly #media: MediaSocketServer;
  readonly #opts: TestCallSocketOptions;
  readonly #log: Logger;

  constructor(options: TestCallSocketOptions) {
    this.#opts = options;
    this.#log = options.log.child({ component: 'test-call' });
    this.#media = new MediaSocketServer({
      log: this.#log,
      onStart: (start, socket) => options.onStart(testCallStart(start), socket),
      ...(options.onProblem ? { onProblem: options.onProblem } : {}),
      ...(options.maxStreams ? { maxStreams: options.maxStreams } : {}),
      ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
      ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}),
    });
  }

  /** Register on the loopback HttpServer (never on the public endpoint). */
  handler(): UpgradeHandler {
    const inner = this.#media.handler(TEST_CALL_PATH);
    return {
      path: TEST_CALL_PATH,
      // Checked here rather than by the router: the control token comes in the URL, and the Origin must match.
      access: 'public',
      handle: (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => {
        const problem = testCallProblem(req, url, this.#opts.token());
        if (problem) {
          this.#log.warn('test call refused', { reason: problem });
          refuseUpgrade(socket, 403, problem);
          return;
        }
        inner.handle(req, socket, head, url);
      },
    };
  }

  get connections(): number {
    return this.#media.connections;
  }

  async close(): Promise<void> {
    await this.#media.close();
  }
}
