/**
 * A simulated Twilio Media Streams peer — the phone side of a call — speaking the exact protocol: `connected`
 * then a realistic `start`, 20 ms μ-law `media` frames at real time (silence when the caller is quiet), `dtmf`,
 * `stop`. It "plays" the agent's audio at real time like Twilio does, echoes each `mark` once the audio before
 * it has played, and honours `clear` (drops buffered audio and echoes the pending marks at once).
 *
 * Used by `npm run simulate`, the protocol tests and the bench.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { FRAME_BYTES, FRAME_MS, toFrames } from '../core/audio/frames.ts';
import { MULAW_SILENCE, decodeFloat, encodeFloat } from '../core/audio/mulaw.ts';
import { resample } from '../core/audio/resample.ts';
import { readWav } from '../core/audio/wav.ts';
import { EchoPath, type EchoOptions } from './echo-path.ts';

export interface TwilioCallerOptions {
  url: string;
  headers?: Record<string, string>;
  accountSid?: string;
  callSid?: string;
  streamSid?: string;
  from?: string;
  to?: string;
  direction?: 'inbound' | 'outbound';
  customParameters?: Record<string, string>;
  mediaFormat?: { encoding: string; sampleRate: number; channels: number };
  /** Do not send `start` automatically (protocol tests). */
  manualStart?: boolean;
  /**
   * A speakerphone: what the phone plays comes back into its microphone this much later and quieter,
   * band-limited by the line, mixed with what the caller says (see echo-path.ts).
   */
  echo?: EchoOptions;
}

export interface Arrival {
  at: number;
  bytes: number;
}

export interface AgentBurst {
  /** Playback start/end (ms, performance.now()). */
  start: number;
  end: number | null;
  frames: number;
  /** Arrival time of the burst's first frame. */
  firstArrival: number;
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

type QueueItem = { kind: 'frame'; data: Uint8Array; arrival: number } | { kind: 'mark'; name: string };

export class TwilioCaller extends EventEmitter {
  readonly options: TwilioCallerOptions;
  readonly accountSid: string;
  readonly callSid: string;
  readonly streamSid: string;
  readonly ws: WebSocket;
  /** Every message the server sent, parsed, with its arrival time. */
  readonly received: { at: number; msg: Record<string, unknown> }[] = [];
  readonly mediaArrivals: Arrival[] = [];
  readonly clears: number[] = [];
  readonly marksReceived: string[] = [];
  readonly marksEchoed: { name: string; at: number; afterClear: boolean }[] = [];
  readonly bursts: AgentBurst[] = [];
  /** When the caller's utterances ended (last voiced frame sent). */
  readonly utteranceEnds: number[] = [];
  /** The same ends on the call's audio clock: ms of caller audio sent up to the end of the last voiced frame. */
  readonly utteranceEndClocksMs: number[] = [];
  /** When the caller's utterances started (first voiced frame sent). */
  readonly voiceOnsets: number[] = [];
  readonly utteranceStarts: number[] = [];
  /** Messages the server sent that are not media/mark/clear or lack the right streamSid. */
  readonly protocolViolations: string[] = [];

  #seq = 1;
  #chunk = 1;
  #startedAt = 0;
  #sentFrames = 0;
  #outgoing: Uint8Array[] = [];
  #speaking: { resolve: () => void; remaining: number; firstVoiced: number; lastVoiced: number } | null = null;
  #pendingSays: { frames: Uint8Array[]; resolve: () => void; firstVoiced: number; lastVoiced: number }[] = [];
  #ticker: NodeJS.Timeout | null = null;
  #playQueue: QueueItem[] = [];
  #playedFrames: { at: number; data: Uint8Array }[] = [];
  #currentBurst: AgentBurst | null = null;
  #closed = false;
  #clearedMarks = new Set<string>();
  readonly #echo: EchoPath | null;

  private constructor(options: TwilioCallerOptions, ws: WebSocket) {
    super();
    this.options = options;
    this.ws = ws;
    this.accountSid = options.accountSid ?? sid('AC');
    this.callSid = options.callSid ?? sid('CA');
    this.streamSid = options.streamSid ?? sid('MZ');
    this.#echo = options.echo ? new EchoPath(options.echo) : null;
    ws.on('message', (data, isBinary) => this.#onMessage(data.toString(), isBinary));
    ws.on('close', (code, reason) => {
      this.#closed = true;
      this.#stopTicker();
      this.emit('close', code, reason.toString());
    });
  }

  static connect(options: TwilioCallerOptions): Promise<TwilioCaller> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(options.url, { headers: options.headers, perMessageDeflate: false });
      const caller = new TwilioCaller(options, ws);
      ws.once('open', () => {
        caller.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
        if (!options.manualStart) caller.start();
        resolve(caller);
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`WebSocket upgrade refused: ${res.statusCode} ${body.trim()}`), { statusCode: res.statusCode })));
      });
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Send `start` and begin streaming 20 ms frames at real time. */
  start(): void {
    const p = this.options;
    this.send({
      event: 'start',
      sequenceNumber: String(this.#seq++),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: { from: p.from ?? '+15550001111', to: p.to ?? '+15559998888', direction: p.direction ?? 'inbound', callSid: this.callSid, ...p.customParameters },
        mediaFormat: p.mediaFormat ?? { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    });
    this.#startedAt = performance.now();
    this.#sentFrames = 0;
    this.#tick();
  }

  get startedAt(): number {
    return this.#startedAt;
  }

  #stopTicker(): void {
    if (this.#ticker) clearTimeout(this.#ticker);
    this.#ticker = null;
  }

  /** Every 20 ms of the call clock: one caller frame out, one agent frame played. Catches up after a late wake. */
  #tick(): void {
    this.#ticker = null;
    if (this.#closed) return;
    const now = performance.now();
    const due = Math.floor((now - this.#startedAt) / FRAME_MS) + 1;
    while (this.#sentFrames < due) {
      this.#sendFrame();
      this.#play(this.#startedAt + this.#sentFrames * FRAME_MS);
    }
    const next = this.#startedAt + this.#sentFrames * FRAME_MS;
    this.#ticker = setTimeout(() => this.#tick(), Math.max(0, next - performance.now()));
  }

  #sendFrame(): void {
    if (this.#outgoing.length === 0 && this.#pendingSays.length) {
      const say = this.#pendingSays.shift()!;
      this.#outgoing = say.frames;
      this.#speaking = { resolve: say.resolve, remaining: say.frames.length, firstVoiced: say.firstVoiced, lastVoiced: say.lastVoiced };
      this.utteranceStarts.push(performance.now());
    }
    const said = this.#outgoing.shift() ?? new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    // Frame k of the call clock covers samples k·160 … k·160 + 159; the echo in it was played ≥ 1 frame before.
    const frame = this.#echo ? this.#echo.mix(said, this.#sentFrames * FRAME_BYTES) : said;
    this.send({
      event: 'media',
      sequenceNumber: String(this.#seq++),
      media: { track: 'inbound', chunk: String(this.#chunk++), timestamp: String(this.#sentFrames * FRAME_MS), payload: Buffer.from(frame).toString('base64') },
      streamSid: this.streamSid,
    });
    this.#sentFrames++;
    if (this.#speaking) {
      const s = this.#speaking;
      if (s.remaining === s.firstVoiced) this.voiceOnsets.push(performance.now());
      s.remaining--;
      // The end of speech is the last frame with voice in it, not the file's trailing silence.
      if (s.remaining === s.lastVoiced) {
        this.utteranceEnds.push(performance.now());
        this.utteranceEndClocksMs.push(this.#sentFrames * FRAME_MS);
      }
      if (s.remaining === 0) {
        this.#speaking = null;
        s.resolve();
      }
    }
  }

  /** Twilio's playback: marks at the head are echoed (their audio has played), then one frame plays. */
  #play(at: number): void {
    while (this.#playQueue[0]?.kind === 'mark') this.#echoMark((this.#playQueue.shift() as { name: string }).name, false);
    const item = this.#playQueue.shift();
    // The frame plays in the same slot of the call clock as the caller frame just sent (every slot, silence too).
    this.#echo?.play(item?.kind === 'frame' ? item.data : null, (this.#sentFrames - 1) * FRAME_BYTES);
    if (item?.kind === 'frame') {
      this.#playedFrames.push({ at, data: item.data });
      if (!this.#currentBurst) {
        this.#currentBurst = { start: at, end: null, frames: 0, firstArrival: item.arrival };
        this.bursts.push(this.#currentBurst);
        this.emit('agent-start', this.#currentBurst);
      }
      this.#currentBurst.frames++;
    } else if (this.#currentBurst) {
      this.#currentBurst.end = at;
      const b = this.#currentBurst;
      this.#currentBurst = null;
      this.emit('agent-stop', b);
    }
  }

  #echoMark(name: string, afterClear: boolean): void {
    this.marksEchoed.push({ name, at: performance.now(), afterClear });
    this.send({ event: 'mark', sequenceNumber: String(this.#seq++), streamSid: this.streamSid, mark: { name } });
  }

  #onMessage(text: string, isBinary: boolean): void {
    const at = performance.now();
    if (isBinary) {
      this.protocolViolations.push('binary frame from server');
      return;
    }
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text);
    } catch {
      this.protocolViolations.push(`non-JSON frame: ${text.slice(0, 40)}`);
      return;
    }
    this.received.push({ at, msg });
    if (msg.streamSid !== this.streamSid) this.protocolViolations.push(`${String(msg.event)} with streamSid ${String(msg.streamSid)}`);
    switch (msg.event) {
      case 'media': {
        const payload = (msg.media as { payload?: unknown } | undefined)?.payload;
        if (typeof payload !== 'string') {
          this.protocolViolations.push('media without payload');
          return;
        }
        const data = new Uint8Array(Buffer.from(payload, 'base64'));
        if (data.length >= 4 && Buffer.from(data.subarray(0, 4)).toString('ascii') === 'RIFF') this.protocolViolations.push('media payload has a WAV header');
        this.mediaArrivals.push({ at, bytes: data.length });
        // Twilio accepts any length; split into 20 ms frames for the playback model.
        for (let off = 0; off < data.length; off += FRAME_BYTES) this.#playQueue.push({ kind: 'frame', data: data.subarray(off, off + FRAME_BYTES), arrival: at });
        this.emit('media', data);
        break;
      }
      case 'mark': {
        const name = (msg.mark as { name?: unknown } | undefined)?.name;
        if (typeof name !== 'string') {
          this.protocolViolations.push('mark without name');
          return;
        }
        this.marksReceived.push(name);
        this.#playQueue.push({ kind: 'mark', name });
        break;
      }
      case 'clear': {
        this.clears.push(at);
        // Twilio drops buffered audio and returns the pending marks right away.
        const pending = this.#playQueue.filter((i): i is { kind: 'mark'; name: string } => i.kind === 'mark');
        this.#playQueue = [];
        for (const m of pending) {
          this.#clearedMarks.add(m.name);
          this.#echoMark(m.name, true);
        }
        if (this.#currentBurst) {
          this.#currentBurst.end = at;
          const b = this.#currentBurst;
          this.#currentBurst = null;
          this.emit('agent-stop', b);
        }
        this.emit('clear', at);
        break;
      }
      default:
        this.protocolViolations.push(`unexpected event ${String(msg.event)} from server`);
    }
  }

  /**
   * Queue 8 kHz speech; resolves when its last frame has been sent. `voiceOnsets` / `utteranceEnds` record
   * when the first / last frame louder than -45 dBFS went out (speech as a listener would place it).
   */
  say(samples8k: Float32Array): Promise<void> {
    const frames = toFrames(encodeFloat(samples8k));
    let first = -1;
    let last = 0;
    frames.forEach((f, i) => {
      const x = decodeFloat(f);
      let e = 0;
      for (const v of x) e += v * v;
      if (Math.sqrt(e / x.length) > 0.0056) {
        if (first < 0) first = i;
        last = i;
      }
    });
    // Counted in frames remaining: the onset is noted just before its frame goes out, the end just after.
    const firstVoiced = frames.length - Math.max(0, first);
    const lastVoiced = frames.length - 1 - last;
    return new Promise((resolve) => this.#pendingSays.push({ frames, resolve, firstVoiced, lastVoiced }));
  }

  /** Speak a WAV file (any rate, resampled to 8 kHz). */
  sayWav(path: string): Promise<void> {
    const wav = readWav(path);
    return this.say(wav.sampleRate === 8000 ? wav.samples : resample(wav.samples, wav.sampleRate, 8000));
  }

  /** Keep streaming silence for `ms`. */
  silence(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  dtmf(digit: string): void {
    this.send({ event: 'dtmf', streamSid: this.streamSid, sequenceNumber: String(this.#seq++), dtmf: { track: 'inbound_track', digit } });
  }

  /** Resolve on the next `event` (optionally matching), or reject after timeoutMs. */
  waitFor<T = unknown>(event: string, timeoutMs = 10_000, predicate: (arg: T) => boolean = () => true): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, on);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${event}`));
      }, timeoutMs);
      const on = (arg: T) => {
        if (!predicate(arg)) return;
        clearTimeout(timer);
        this.off(event, on);
        resolve(arg);
      };
      this.on(event, on);
    });
  }

  /** Wait until the agent has been silent (nothing queued or playing) for `quietMs`. */
  async waitForAgentSilence(quietMs = 500, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const lastPlay = this.#playedFrames.at(-1)?.at ?? 0;
      if (!this.#currentBurst && this.#playQueue.length === 0 && performance.now() - lastPlay >= quietMs) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`agent still talking after ${timeoutMs} ms`);
  }

  /** The agent's audio on the call timeline (8 kHz mono), silence where it said nothing. */
  agentAudio(): Float32Array {
    const total = Math.max(this.#sentFrames, ...this.#playedFrames.map((f) => Math.round((f.at - this.#startedAt) / FRAME_MS) + 1), 0);
    const out = new Float32Array(total * FRAME_BYTES);
    for (const f of this.#playedFrames) {
      const index = Math.round((f.at - this.#startedAt) / FRAME_MS);
      out.set(decodeFloat(f.data), Math.max(0, Math.min(index, total - 1)) * FRAME_BYTES);
    }
    return out;
  }

  /** Send `stop` and close, as Twilio does when the caller hangs up. */
  async hangup(): Promise<void> {
    if (this.#closed) return;
    this.send({ event: 'stop', sequenceNumber: String(this.#seq++), streamSid: this.streamSid, stop: { accountSid: this.accountSid, callSid: this.callSid } });
    this.#stopTicker();
    await new Promise<void>((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      const t = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2_000);
      this.ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.ws.close(1000);
    });
  }

  /** Drop the connection without `stop` (a network failure). */
  drop(): void {
    this.#stopTicker();
    this.ws.terminate();
  }
}
