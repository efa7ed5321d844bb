/**
 * The ngrok tunnel (`@ngrok/ngrok`, in-process: no ngrok binary to install). It forwards the public https URL to
 * a local address — the Twilio-only listener, never the control API. Connecting is retried with exponential
 * backoff while ngrok can't be reached (offline); a rejected authtoken or domain is not retried (it won't fix
 * itself): the state says what to do. Once connected, ngrok's own session reconnects after network blips; its
 * status changes are reported as `reconnecting` / `up`.
 *
 * `connect` is injectable: the real one needs ngrok's servers, the tests drive the adapter with a fake.
 */
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';

/** What the adapter needs from an ngrok listener. */
export interface NgrokListenerLike {
  url(): string | null;
  close(): Promise<void>;
}

export interface NgrokConnectConfig {
  addr: string;
  authtoken: string;
  domain?: string;
  /** 'closed': the session lost its connection (ngrok retries); 'connected': it is back. */
  onStatusChange?(status: string): void;
}

export type NgrokConnect = (config: NgrokConnectConfig) => Promise<NgrokListenerLike>;

export type TunnelPhase = 'off' | 'connecting' | 'up' | 'reconnecting' | 'retrying' | 'failed';

export interface TunnelState {
  phase: TunnelPhase;
  url: string | null;
  /** What went wrong and what to do, when not up. */
  error: string | null;
  /** When the next attempt is due (phase `retrying`). */
  retryInMs: number | null;
  attempts: number;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000, factor: 2 };

export interface NgrokTunnelOptions {
  log: Logger;
  onChange(state: TunnelState): void;
  connect?: NgrokConnect;
  backoff?: Partial<Backoff>;
}

/** The real connect: loads the native module on first use. */
export const ngrokConnect: NgrokConnect = async (config) => {
  const ngrok = await import('@ngrok/ngrok');
  return ngrok.forward({
    addr: config.addr,
    authtoken: config.authtoken,
    ...(config.domain ? { domain: config.domain } : {}),
    ...(config.onStatusChange ? { onStatusChange: config.onStatusChange } : {}),
  });
};

/** ngrok's error in words a user can act on, and whether trying again could help. */
export function describeNgrokError(err: unknown, domain?: string): { message: string; retry: boolean } {
  const raw = errorMessage(err);
  const code = /ERR_NGROK_\d+/.exec(raw)?.[0] ?? null;
  const tag = code ? ` (${code})` : '';
  if (code === 'ERR_NGROK_105' || code === 'ERR_NGROK_106' || code === 'ERR_NGROK_107' || /authtoken|authentication failed/i.test(raw)) {
    return { message: `ngrok rejected NGROK_AUTHTOKEN${tag}: copy your token again from https://dashboard.ngrok.com/get-started/your-authtoken into Settings.`, retry: false };
  }
  if (code === 'ERR_NGROK_108') {
    return { message: `ngrok allows one session at a time on your plan and another ngrok agent is running with this token${tag}: stop it (or the other Parley), Parley keeps retrying.`, retry: true };
  }
  if (code === 'ERR_NGROK_313' || code === 'ERR_NGROK_320' || code === 'ERR_NGROK_319' || /domain/i.test(raw)) {
    return { message: `ngrok would not give this tunnel the domain ${domain ? `"${domain}"` : 'asked for'}${tag}: reserve it in the ngrok dashboard (Domains) or clear NGROK_DOMAIN.`, retry: false };
  }
  if (/tcp connection|dns|resolve|timed out|timeout|network|unreachable|refused|connect/i.test(raw)) {
    return { message: `cannot reach ngrok (${raw}): is this computer offline? Parley keeps working locally and retries.`, retry: true };
  }
  return { message: `ngrok failed${tag}: ${raw}`, retry: true };
}

export class NgrokTunnel {
  readonly #o: NgrokTunnelOptions;
  readonly #connect: NgrokConnect;
  readonly #backoff: Backoff;
  #state: TunnelState = { phase: 'off', url: null, error: null, retryInMs: null, attempts: 0 };
  #listener: NgrokListenerLike | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Bumped on every start/stop: a connect that finishes for an older generation is thrown away. */
  #generation = 0;
  #delay = 0;

  constructor(options: NgrokTunnelOptions) {
    this.#o = options;
    this.#connect = options.connect ?? ngrokConnect;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  get state(): TunnelState {
    return { ...this.#state };
  }

  get url(): string | null {
    return this.#state.phase === 'up' || this.#state.phase === 'reconnecting' ? this.#state.url : null;
  }

  #set(patch: Partial<TunnelState>): void {
    this.#state = { ...this.#state, ...patch };
    this.#o.onChange(this.state);
  }

  /** Start connecting in the background (returns at once). Restarting replaces the old tunnel. */
  start(config: { addr: string; authtoken: string; domain?: string }): void {
    void this.#closeListener();
    this.#clearTimer();
    const gen = ++this.#generation;
    this.#delay = this.#backoff.initialMs;
    this.#set({ phase: 'connecting', url: null, error: null, retryInMs: null, attempts: 0 });
    void this.#attempt(gen, config);
  }

  async #attempt(gen: number, config: { addr: string; authtoken: string; domain?: string }): Promise<void> {
    this.#set({ attempts: this.#state.attempts + 1 });
    try {
      const listener = await this.#connect({
        addr: config.addr,
        authtoken: config.authtoken,
        ...(config.domain ? { domain: config.domain } : {}),
        onStatusChange: (status) => {
          if (gen !== this.#generation || !this.#listener) return;
          if (status === 'closed') {
            this.#o.log.warn('ngrok tunnel lost its connection; ngrok is reconnecting', { url: this.#state.url });
            this.#set({ phase: 'reconnecting', error: 'the tunnel lost its connection to ngrok; reconnecting (calls can\'t reach Parley meanwhile)' });
          } else if (status === 'connected') {
            this.#o.log.info('ngrok tunnel reconnected', { url: this.#state.url });
            this.#set({ phase: 'up', error: null });
          }
        },
      });
      if (gen !== this.#generation) {
        await listener.close().catch(() => {});
        return;
      }
      const url = listener.url();
      if (!url) {
        await listener.close().catch(() => {});
        throw new Error('ngrok gave the tunnel no URL');
      }
      this.#listener = listener;
      this.#delay = this.#backoff.initialMs;
      this.#o.log.info(`ngrok tunnel up: ${url} → ${config.addr} (Twilio routes only)`);
      this.#set({ phase: 'up', url, error: null, retryInMs: null });
    } catch (err) {
      if (gen !== this.#generation) return;
      const { message, retry } = describeNgrokError(err, config.domain);
      if (!retry) {
        this.#o.log.error(`ngrok tunnel failed: ${message}`);
        this.#set({ phase: 'failed', url: null, error: message, retryInMs: null });
        return;
      }
      const wait = this.#delay;
      this.#delay = Math.min(this.#backoff.maxMs, Math.round(this.#delay * this.#backoff.factor));
      this.#o.log.warn(`ngrok tunnel not up: ${message} Next try in ${Math.round(wait / 1000)} s.`);
      this.#set({ phase: 'retrying', url: null, error: message, retryInMs: wait });
      this.#timer = setTimeout(() => {
        this.#timer = null;
        if (gen === this.#generation) void this.#attempt(gen, config);
      }, wait);
      this.#timer.unref?.();
    }
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #closeListener(): Promise<void> {
    const l = this.#listener;
    this.#listener = null;
    if (!l) return;
    try {
      await l.close();
    } catch (err) {
      this.#o.log.debug('closing the ngrok listener failed', { error: errorMessage(err) });
    }
  }

  async stop(): Promise<void> {
    this.#generation++;
    this.#clearTimer();
    await this.#closeListener();
    if (this.#state.phase !== 'off') this.#set({ phase: 'off', url: null, error: null, retryInMs: null });
  }
}
