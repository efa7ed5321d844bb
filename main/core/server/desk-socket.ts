/**
 * The `/desk` WebSocket: the person at the desk joins a live call from the GUI. **Listen** hears both sides as
 * they flow (the caller as they arrive, the agent — or the desk — as it is sent to Twilio); **Take over** sends
 * their mic to the caller. One socket per call and GUI page; nothing here decides anything: taking over and
 * handing back are `POST /calls/:sid/takeover` / `handback` (or the `calls.takeOver` channel), and this socket
 * only carries audio.
 *
 * Who may open it: the same rules as a test call (test-call-socket.ts `testCallProblem`): this computer only, a
 * loopback Host, the GUI's own origin and the control token in `?token=`. Never served through the tunnel.
 *
 * Messages are JSON text frames, 20 ms of 8 kHz μ-law in base64 as on the Twilio wire:
 *   page → core: { "event": "listen", "on": true|false }   start / stop receiving the call's audio
 *                { "event": "media", "payload": "…" }       one frame of the desk's mic (used while taken over)
 *   core → page: { "event": "joined", "callSid": "CA…", "takenOver": false }
 *                { "event": "media", "track": "inbound"|"outbound", "payload": "…" }   while listening
 *                { "event": "ended", "reason": "…" }        the call is over; the socket then closes
 * A socket that carried the desk's voice and drops while the call is taken over hands the call back to the
 * agent: the caller must never be left with nobody on the line.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { LiveSession } from '../calls/call-registry.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { refuseUpgrade, type UpgradeHandler } from './http.ts';
import { testCallProblem } from './test-call-socket.ts';
import { sendUnlessStalled } from './ws-send.ts';

export const DESK_PATH = '/desk';
/** Largest message the page may send (a mic frame is ~300 bytes of JSON). */
const MAX_DESK_MESSAGE_BYTES = 4 * 1024;
/** A listener that stops reading is cut off past this much unsent audio (~30 s of both tracks). */
const MAX_DESK_BUFFERED_BYTES = 512 * 1024;
/** Bad messages tolerated before the socket is closed. */
const MAX_BAD_MESSAGES = 20;

export interface DeskSocketOptions {
  log: Logger;
  /** The control token (read at each upgrade). */
  token(): string;
  /** The live call the desk may join, or throws CALL_NOT_FOUND. */
  session(callSid: string): LiveSession;
  /** The call's end, to tell the page and close: subscribe, returns the unsubscribe. */
  onCallEnded(callSid: string, ended: (reason: string) => void): () => void;
}

export class DeskSocketServer {
  readonly #wss: WebSocketServer;
  readonly #o: DeskSocketOptions;
  readonly #log: Logger;
  readonly #sockets = new Set<WebSocket>();

  constructor(options: DeskSocketOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'desk' });
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_DESK_MESSAGE_BYTES, perMessageDeflate: false });
  }

  handler(): UpgradeHandler {
    return {
      path: DESK_PATH,
      // Checked here: the token comes in the URL and the Origin must be the GUI's (as for /test-call).
      access: 'public',
      handle: (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => {
        const problem = testCallProblem(req, url, this.#o.token(), { one: 'desk connection', many: 'desk connections' });
        if (problem) return this.#refuse(socket, 403, problem);
        const callSid = url.searchParams.get('callSid') ?? '';
        let session: LiveSession;
        try {
          if (!/^[A-Za-z0-9_-]{1,64}$/.test(callSid)) throw new Error(`"${callSid.slice(0, 80)}" is not a call SID: open /desk?callSid=CA…&token=…`);
          session = this.#o.session(callSid);
        } catch (err) {
          return this.#refuse(socket, 404, errorMessage(err));
        }
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connection(ws, session));
      },
    };
  }

  get connections(): number {
    return this.#sockets.size;
  }

  async close(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #refuse(socket: Duplex, status: number, message: string): void {
    this.#log.warn('desk connection refused', { reason: message });
    refuseUpgrade(socket, status, message);
  }

  #connection(ws: WebSocket, session: LiveSession): void {
    const { callSid } = session;
    const log = this.#log.child({ callSid });
    this.#sockets.add(ws);
    let unlisten: (() => void) | null = null;
    let spoke = false;
    let bad = 0;
    const send = (msg: unknown) => sendUnlessStalled(ws, JSON.stringify(msg), MAX_DESK_BUFFERED_BYTES, () => log.warn('desk listener is not keeping up: disconnected'));
    const stopListening = () => {
      unlisten?.();
      unlisten = null;
    };
    const offEnded = this.#o.onCallEnded(callSid, (reason) => {
      stopListening();
      send({ event: 'ended', reason });
      ws.close(1000, 'call ended');
    });
    send({ event: 'joined', callSid, takenOver: session.takenOver === true });
    log.info('the desk joined the call');

    const badMessage = (why: string) => {
      log.debug('bad desk message ignored', { error: why });
      if (++bad > MAX_BAD_MESSAGES) ws.close(1008, 'too many bad messages');
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      let msg: { event?: unknown; on?: unknown; payload?: unknown };
      try {
        if (isBinary) throw new Error('binary frames are not part of the desk protocol');
        msg = JSON.parse(String(data)) as typeof msg;
        if (!msg || typeof msg !== 'object') throw new Error('not a JSON object');
      } catch (err) {
        return badMessage(errorMessage(err));
      }
      if (msg.event === 'listen') {
        if (msg.on === true && !unlisten && session.tap) {
          unlisten = session.tap.subscribe((f) => send({ event: 'media', track: f.track, payload: Buffer.from(f.mulaw).toString('base64') }));
          log.info('the desk is listening');
        } else if (msg.on === false) stopListening();
      } else if (msg.event === 'media' && typeof msg.payload === 'string') {
        if (session.deskAudio?.(Buffer.from(msg.payload, 'base64'))) spoke = true;
      } else badMessage(`unknown event ${JSON.stringify(msg.event)?.slice(0, 40)} (or a media event without a payload)`);
    });
    ws.on('error', (err) => log.debug('desk socket error', { error: errorMessage(err) }));
    ws.on('close', () => {
      this.#sockets.delete(ws);
      stopListening();
      offEnded();
      if (spoke && session.takenOver && session.handBack?.()) log.warn('the desk disconnected while it had the call: handed back to the agent');
    });
  }
}
