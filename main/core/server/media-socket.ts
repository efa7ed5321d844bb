/**
 * The `/media` WebSocket: one connection = one Twilio call. Each text frame goes through the wire module's
 * MediaStreamReader (twilio/media-stream.ts); this file only routes the events it returns. It refuses what it
 * can't handle with a log line that says why, and survives anything a peer sends — bad JSON, unknown events,
 * binary frames, media before `start`, abrupt closes — without touching other calls. Which socket belongs to
 * which call is the call registry's business: `onStart` gets the socket's `send` and `close`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { MAX_MESSAGE_BYTES, MediaStreamReader, checkMediaFormat, type InboundAudio, type StartMessage } from '../twilio/media-stream.ts';
import type { StreamSocket } from '../calls/call-registry.ts';
import { refuseUpgrade, type UpgradeHandler } from './http.ts';
import { sendUnlessStalled } from './ws-send.ts';

/** What the media server needs from the engine for each call. */
export interface CallHandler {
  onMedia(audio: InboundAudio): void;
  onMark(name: string): void;
  onDtmf(digit: string): void;
  end(reason: string): void;
}

export interface MediaSocketOptions {
  log: Logger;
  /** Create the call for a valid `start`. Throw to refuse the call (the socket is closed with the reason). */
  onStart(start: StartMessage, socket: StreamSocket): CallHandler;
  /** A problem worth surfacing in the GUI (refused format, plugin missing). */
  onProblem?(callSid: string | null, code: string, message: string): void;
  /** Bad messages tolerated per connection before it is closed. */
  maxBadMessages?: number;
  /** A socket that sends no `start` within this is closed (default 10 s). */
  startTimeoutMs?: number;
  /** Concurrent media sockets (read at each upgrade); the one over it gets a 503. Default: no limit. */
  maxStreams?(): number;
  /** A peer that stops reading is cut off once this much is buffered for it (default 1 MB ≈ 1 min of audio). */
  maxBufferedBytes?: number;
}

export const DEFAULT_START_TIMEOUT_MS = 10_000;
export const DEFAULT_MEDIA_MAX_BUFFERED_BYTES = 1024 * 1024;

export class MediaSocketServer {
  readonly #wss: WebSocketServer;
  readonly #opts: MediaSocketOptions;
  readonly #log: Logger;
  readonly #sockets = new Set<WebSocket>();
  /** Upgrades accepted but not yet connected. */
  #upgrading = 0;

  constructor(options: MediaSocketOptions) {
    this.#opts = options;
    this.#log = options.log.child({ component: 'media' });
    // Twilio frames are small; a huge one closes only its own connection (1009).
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.#wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.#connection(ws, req));
  }

  /** Register on an HttpServer under `path`. */
  handler(path = '/media'): UpgradeHandler {
    return {
      path,
      access: 'twilio',
      handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const max = this.#opts.maxStreams?.() ?? 0;
        const open = this.#sockets.size + this.#upgrading;
        if (max > 0 && open >= max) {
          this.#log.warn(`media stream refused: ${open} streams are open, the most allowed (PARLEY_MAX_STREAMS = ${max})`, { remote: req.socket.remoteAddress });
          refuseUpgrade(socket, 503, 'too many media streams');
          return;
        }
        // Handshakes in flight count too, so a burst of upgrades can't overshoot the cap.
        let pending = true;
        const settled = () => {
          if (pending) this.#upgrading--;
          pending = false;
        };
        this.#upgrading++;
        socket.once('close', settled);
        this.#wss.handleUpgrade(req, socket, head, (ws) => {
          settled();
          this.#wss.emit('connection', ws, req);
        });
      },
    };
  }

  get connections(): number {
    return this.#sockets.size;
  }

  #connection(ws: WebSocket, req: IncomingMessage): void {
    this.#sockets.add(ws);
    let log = this.#log.child({ remote: req.socket.remoteAddress });
    const reader = new MediaStreamReader();
    let call: CallHandler | null = null;
    let streamSid: string | null = null;
    let callSid: string | null = null;
    let lastSeq: number | null = null;
    let gaps = 0;
    let bad = 0;
    let warnedEarlyMedia = false;
    const maxBad = this.#opts.maxBadMessages ?? 50;
    const maxBuffered = this.#opts.maxBufferedBytes ?? DEFAULT_MEDIA_MAX_BUFFERED_BYTES;
    const startMs = this.#opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    // Twilio sends `start` right after connecting; a socket that doesn't is not Twilio, or not working.
    const startDeadline = setTimeout(() => {
      if (call || streamSid || ws.readyState !== ws.OPEN) return;
      log.warn(`media socket closed: no start within ${Math.round(startMs / 100) / 10} s`);
      ws.close(1008, 'no start in time');
      setTimeout(() => ws.terminate(), 1_000).unref?.(); // a peer that ignores the close frame too
    }, startMs);
    startDeadline.unref?.();

    const socket: StreamSocket = {
      // Memory must not grow without bound for a peer that stopped reading: Twilio reads at once. The 'close'
      // that follows a stall ends the call.
      send: (text) => sendUnlessStalled(ws, text, maxBuffered, (buffered) => log.warn(`media stream closed: the peer stopped reading (${buffered} bytes buffered, the most is ${maxBuffered})`)),
      close: (reason) => ws.close(1000, reason),
    };
    const finish = (reason: string) => {
      if (gaps) log.warn('media sequence gaps during the call', { gaps });
      if (call) {
        const c = call;
        call = null;
        try {
          c.end(reason);
        } catch (err) {
          log.error('ending the call failed', { error: errorMessage(err) });
        }
      }
    };
    const refuse = (code: string, message: string, closeCode = 1008) => {
      log.error(message);
      this.#opts.onProblem?.(callSid, code, message);
      finish('refused');
      ws.close(closeCode, message.slice(0, 120));
    };
    const tolerate = (message: string) => {
      bad++;
      if (bad <= 5) log.warn(`ignored a bad message: ${message}`);
      if (bad === maxBad) {
        log.error(`closing the stream after ${maxBad} bad messages`);
        finish('protocol errors');
        ws.close(1002, 'too many protocol errors');
      }
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        tolerate('binary frame (Twilio sends JSON text frames only)');
        return;
      }
      let msg;
      try {
        msg = reader.read(data.toString());
      } catch (err) {
        tolerate(errorMessage(err));
        return;
      }
      if ('sequenceNumber' in msg && msg.sequenceNumber !== null) {
        if (lastSeq !== null && msg.sequenceNumber > lastSeq + 1) {
          gaps += msg.sequenceNumber - lastSeq - 1;
          log.debug('sequence gap', { after: lastSeq, got: msg.sequenceNumber });
        }
        if (lastSeq === null || msg.sequenceNumber > lastSeq) lastSeq = msg.sequenceNumber;
      }
      if (msg.event === 'connected') return;
      if (msg.event === 'start') {
        if (call || streamSid) {
          tolerate('a second start on the same stream');
          return;
        }
        streamSid = msg.start.streamSid;
        callSid = msg.start.callSid;
        log = log.child({ callSid, streamSid });
        const formatProblem = checkMediaFormat(msg.start.mediaFormat);
        if (formatProblem) {
          refuse('UNSUPPORTED_MEDIA_FORMAT', formatProblem, 1003);
          return;
        }
        try {
          call = this.#opts.onStart(msg, socket);
        } catch (err) {
          const code = (err as { code?: string }).code ?? 'INTERNAL';
          refuse(code, `call refused: ${errorMessage(err)}`, code === 'FORBIDDEN' ? 1008 : 1011);
        }
        return;
      }
      if (!call) {
        if (msg.event === 'media') {
          if (!warnedEarlyMedia) log.warn('media before start ignored');
          warnedEarlyMedia = true;
        } else if (msg.event === 'stop') ws.close(1000);
        else tolerate(`${msg.event} before start`);
        return;
      }
      if (msg.streamSid !== streamSid) {
        tolerate(`${msg.event} for stream ${msg.streamSid}, but this socket carries ${streamSid}`);
        return;
      }
      try {
        switch (msg.event) {
          case 'media':
            if (msg.audio) call.onMedia(msg.audio);
            break;
          case 'mark':
            call.onMark(msg.mark.name);
            break;
          case 'dtmf':
            call.onDtmf(msg.dtmf.digit);
            break;
          case 'stop':
            finish('stop');
            ws.close(1000);
            break;
        }
      } catch (err) {
        tolerate(errorMessage(err));
      }
    });
    ws.on('error', (err) => log.warn('media socket error', { error: err.message }));
    ws.on('close', (code) => {
      clearTimeout(startDeadline);
      this.#sockets.delete(ws);
      if (call) log.info('media socket closed without stop', { code });
      finish('socket closed');
    });
  }

  /** Close every stream (shutdown). */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    for (const ws of this.#sockets) ws.close(code, reason);
  }

  async close(): Promise<void> {
    this.closeAll();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
