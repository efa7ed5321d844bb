/**
 * The page's side of the /desk WebSocket (docs/api.md, "/desk"): the person at the desk joins a live call.
 * **Listen** receives both sides as 20 ms μ-law frames and plays each track on its own player (the GUI mixes
 * them through one volume control); **Take over** sends the mic's frames, which the core plays to the caller
 * while the call is taken over. No browser audio API here: players and socket are handed in (unit-tested in Node).
 */
import { decodeMulaw, encodeMulaw, fromBase64, toBase64 } from './mulaw.ts';
import type { StreamSocketLike } from './test-call-stream.ts';

export const DESK_PATH = '/desk';

/** What the stream needs of a speaker (audio/player.ts SpeakerPlayer). */
export interface TrackPlayer {
  play(samples8k: Float32Array): void;
  flush(): void;
}

/** The /desk URL for a call, from a page at `location` with the GUI token. */
export function deskUrl(location: { protocol: string; host: string }, token: string, callSid: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${DESK_PATH}?token=${encodeURIComponent(token)}&callSid=${encodeURIComponent(callSid)}`;
}

export interface DeskStreamOptions {
  socket: StreamSocketLike;
  /** Plays the caller. */
  caller: TrackPlayer;
  /** Plays the agent's side (muted while this page speaks for it: nobody wants their own voice back). */
  agent: TrackPlayer;
  onEnd?(reason: string): void;
}

export class DeskStream {
  readonly #socket: StreamSocketLike;
  readonly #o: DeskStreamOptions;
  #open = false;
  #ended = false;
  #listening = false;
  #speaking = false;

  constructor(options: DeskStreamOptions) {
    this.#o = options;
    this.#socket = options.socket;
    const s = this.#socket;
    s.onopen = () => {
      this.#open = true;
      if (this.#listening) this.#send({ event: 'listen', on: true });
    };
    s.onmessage = (ev: { data: unknown }) => this.#message(ev.data);
    s.onclose = (ev: { code: number; reason: string }) => {
      if (!this.#open) return this.#end('Parley refused to join the call (it may have ended, or the GUI token is stale: reopen the link Parley printed)');
      this.#end(ev.code === 1000 ? 'the call ended' : `the connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    };
    s.onerror = () => {};
    if (s.readyState === 1) this.#open = true;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Hear the call (or stop). */
  listen(on: boolean): void {
    if (this.#ended || on === this.#listening) return;
    this.#listening = on;
    if (!on) {
      this.#o.caller.flush();
      this.#o.agent.flush();
    }
    if (this.#open) this.#send({ event: 'listen', on });
  }

  /** This page speaks for the agent (taken over): its own voice coming back is not played. */
  set speaking(on: boolean) {
    this.#speaking = on;
    if (on) this.#o.agent.flush();
  }

  /** One 20 ms frame of 8 kHz mic samples (160): reaches the caller only while the call is taken over. */
  sendFrame(samples8k: Float32Array): void {
    if (this.#ended || !this.#open) return;
    this.#send({ event: 'media', payload: toBase64(encodeMulaw(samples8k)) });
  }

  close(): void {
    if (this.#ended) return;
    this.#end('you left the call');
    this.#socket.close(1000, 'left');
  }

  #send(msg: unknown): void {
    if (this.#socket.readyState === 1) this.#socket.send(JSON.stringify(msg));
  }

  #message(data: unknown): void {
    let msg: { event?: unknown; track?: unknown; payload?: unknown; reason?: unknown };
    try {
      msg = JSON.parse(String(data)) as typeof msg;
    } catch {
      return;
    }
    if (msg.event === 'media' && typeof msg.payload === 'string' && this.#listening) {
      const player = msg.track === 'inbound' ? this.#o.caller : msg.track === 'outbound' && !this.#speaking ? this.#o.agent : null;
      try {
        player?.play(decodeMulaw(fromBase64(msg.payload)));
      } catch {
        /* not base64: skip the frame */
      }
    } else if (msg.event === 'ended') {
      this.#end(typeof msg.reason === 'string' ? `the call ended (${msg.reason})` : 'the call ended');
    }
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#o.caller.flush();
    this.#o.agent.flush();
    this.#o.onEnd?.(reason);
  }
}
