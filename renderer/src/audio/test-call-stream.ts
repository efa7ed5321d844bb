/**
 * The page's side of a test call: it plays Twilio for the engine, over the /test-call WebSocket, in the Twilio
 * Media Streams protocol (connected, start, media, mark, stop; 20 ms 8 kHz μ-law frames in base64). The engine
 * sends the agent's audio as `media`, a `mark` after each clause (echoed back once the audio before it has been
 * played: that is what the caller *heard*) and `clear` on barge-in (flush, and echo the marks still pending, as
 * Twilio does). No browser audio API here: the mic and speakers are handed in, so this is unit-tested in Node.
 */
import { decodeMulaw, encodeMulaw, fromBase64, toBase64 } from './mulaw.ts';

export const TEST_CALL_PATH = '/test-call';

/** What the stream needs of the speakers (audio/player.ts). */
export interface AgentSpeaker {
  /** Queue 8 kHz samples to play after what is queued. */
  play(samples8k: Float32Array): void;
  /** Call `done` once everything queued so far has been played (at once when nothing is queued). */
  afterQueued(done: () => void): void;
  /** Drop everything queued; pending `afterQueued` callbacks are called at once. */
  flush(): void;
}

/** The bits of a WebSocket the stream uses (the browser's, or a fake in tests). */
export interface StreamSocketLike {
  readonly readyState: number;
  send(text: string): void;
  close(code?: number, reason?: string): void;
  // Set by the stream (typed loosely so the DOM's WebSocket fits): open, message ({ data }), close ({ code, reason }), error.
  onopen: unknown;
  onmessage: unknown;
  onclose: unknown;
  onerror: unknown;
}

/** A made-up callSid for a test call: `TEST` and 32 hex digits (the core refuses any other shape here). */
export function newTestCallSid(random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))): string {
  return 'TEST' + Array.from(random(16), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The /test-call URL for a page at `location` with the GUI token. */
export function testCallUrl(location: { protocol: string; host: string }, token: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${TEST_CALL_PATH}?token=${encodeURIComponent(token)}`;
}

export interface TestCallStreamOptions {
  socket: StreamSocketLike;
  speaker: AgentSpeaker;
  callSid?: string;
  /** The stream ended (the engine hung up, or the connection dropped), with why. */
  onEnd?(reason: string): void;
}

export class TestCallStream {
  readonly callSid: string;
  readonly streamSid: string;
  readonly #socket: StreamSocketLike;
  readonly #speaker: AgentSpeaker;
  #seq = 1;
  #chunk = 1;
  #sentMs = 0;
  #open = false;
  #ended = false;
  #onEnd: ((reason: string) => void) | undefined;
  /** Frames the mic produced before the socket opened (sent once it does). */
  #early: Uint8Array[] = [];

  constructor(options: TestCallStreamOptions) {
    this.#socket = options.socket;
    this.#speaker = options.speaker;
    this.#onEnd = options.onEnd;
    this.callSid = options.callSid ?? newTestCallSid();
    this.streamSid = 'MZ' + this.callSid.slice(4);
    const s = this.#socket;
    s.onopen = () => this.#start();
    s.onmessage = (ev: { data: unknown }) => this.#message(ev.data);
    s.onclose = (ev: { code: number; reason: string }) => {
      if (!this.#open && !this.#ended) return this.#end('Parley refused the connection (the GUI token may be stale: reopen the link Parley printed; its log says why)');
      this.#end(ev.code === 1000 ? 'the call ended' : `the connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    };
    s.onerror = () => {};
    if (s.readyState === 1) this.#start();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** One 20 ms frame of 8 kHz mic samples (160). */
  sendFrame(samples8k: Float32Array): void {
    if (this.#ended) return;
    const bytes = encodeMulaw(samples8k);
    if (!this.#open) {
      if (this.#early.length < 50) this.#early.push(bytes);
      return;
    }
    this.#sendMedia(bytes);
  }

  /** Hang up: `stop`, then close. */
  stop(): void {
    if (this.#ended) return;
    if (this.#open) this.#send({ event: 'stop', sequenceNumber: String(this.#seq++), streamSid: this.streamSid, stop: { accountSid: '', callSid: this.callSid } });
    this.#end('you ended the test call');
    this.#socket.close(1000, 'test call ended');
  }

  #start(): void {
    if (this.#open || this.#ended) return;
    this.#open = true;
    this.#send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.#send({
      event: 'start',
      sequenceNumber: String(this.#seq++),
      streamSid: this.streamSid,
      start: {
        accountSid: '',
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: {},
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    for (const bytes of this.#early.splice(0)) this.#sendMedia(bytes);
  }

  #sendMedia(bytes: Uint8Array): void {
    this.#send({
      event: 'media',
      sequenceNumber: String(this.#seq++),
      streamSid: this.streamSid,
      media: { track: 'inbound', chunk: String(this.#chunk++), timestamp: String(this.#sentMs), payload: toBase64(bytes) },
    });
    this.#sentMs += 20;
  }

  #send(msg: unknown): void {
    if (this.#socket.readyState === 1) this.#socket.send(JSON.stringify(msg));
  }

  #message(data: unknown): void {
    let msg: { event?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
    try {
      msg = JSON.parse(String(data)) as typeof msg;
    } catch {
      return;
    }
    if (msg.event === 'media' && typeof msg.media?.payload === 'string') {
      try {
        this.#speaker.play(decodeMulaw(fromBase64(msg.media.payload)));
      } catch {
        /* not base64: skip the frame */
      }
    } else if (msg.event === 'mark' && typeof msg.mark?.name === 'string') {
      const name = msg.mark.name;
      this.#speaker.afterQueued(() => {
        if (!this.#ended) this.#send({ event: 'mark', sequenceNumber: String(this.#seq++), streamSid: this.streamSid, mark: { name } });
      });
    } else if (msg.event === 'clear') {
      this.#speaker.flush();
    }
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#open = false;
    this.#speaker.flush();
    this.#onEnd?.(reason);
  }
}
