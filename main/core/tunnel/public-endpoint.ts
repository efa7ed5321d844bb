/**
 * Where Twilio reaches this app: PUBLIC_URL when the user set one (their own domain / reverse proxy), otherwise
 * the ngrok tunnel's URL. The tunnel never points at the main server: it forwards to a second listener on
 * 127.0.0.1 that serves only the Twilio routes (`/voice/*`, the `/media` WebSocket) and a bare `/health`, so the
 * control API and the GUI bridge can't be reached from the internet whatever the main server serves.
 */
import type { Config } from '../config.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Authorizer } from '../server/access.ts';
import type { IncomingMessage } from 'node:http';
import { HttpServer, type ListenerLimits, type UpgradeHandler } from '../server/http.ts';
import type { Route } from '../server/router.ts';
import { NgrokTunnel, type Backoff, type NgrokConnect, type TunnelState } from './ngrok.ts';

export interface EndpointStatus {
  ok: boolean;
  detail: string;
  url: string | null;
}

export interface PublicEndpointOptions {
  config: Config;
  log: Logger;
  authorize: Authorizer;
  /** The Twilio webhooks (`/voice/*`). */
  twilioRoutes: Route[];
  /** The media stream upgrade (`/media`). */
  media: UpgradeHandler;
  /** What `/health` answers through the tunnel (keep it bare: it is public). */
  health(): Record<string, unknown>;
  onStatus(status: EndpointStatus): void;
  /** The public URL changed (tunnel up/down, settings): e.g. to point the Twilio number at it. */
  onUrlChange?(url: string): void;
  /** Timeouts and the per-address connection limit of the Twilio-only listener (all tunnelled traffic comes from the local ngrok agent). */
  limits?: Partial<ListenerLimits>;
  connect?: NgrokConnect;
  backoff?: Partial<Backoff>;
}

export class PublicEndpoint {
  readonly #o: PublicEndpointOptions;
  readonly #tunnel: NgrokTunnel;
  #listener: HttpServer | null = null;
  #listenerUrl: string | null = null;
  #lastUrl = '';
  #running = false;

  constructor(options: PublicEndpointOptions) {
    this.#o = options;
    this.#tunnel = new NgrokTunnel({
      log: options.log.child({ component: 'tunnel' }),
      connect: options.connect,
      backoff: options.backoff,
      onChange: () => this.#changed(),
    });
  }

  /** The public base URL Twilio should use ('' when there is none yet). PUBLIC_URL wins over the tunnel. */
  url(): string {
    return this.#o.config.publicUrl || this.#tunnel.url || '';
  }

  /** Every base URL Twilio may legitimately sign requests for. */
  urls(): string[] {
    return [...new Set([this.#o.config.publicUrl, this.#tunnel.url].filter((u): u is string => !!u))];
  }

  get tunnel(): TunnelState {
    return this.#tunnel.state;
  }

  /** The Twilio-only listener's local URL (what the tunnel forwards to), when running. */
  get twilioListenerUrl(): string | null {
    return this.#listenerUrl;
  }

  /** Did this request arrive on the Twilio-only listener, i.e. through the tunnel? */
  receivedThroughTunnel(req: IncomingMessage): boolean {
    const port = this.#listener?.server.listening ? (this.#listener.server.address() as { port: number } | null)?.port : undefined;
    return port !== undefined && req.socket.localPort === port;
  }

  /** Why there is no public URL, or null when there is one. */
  problem(): string | null {
    if (this.url()) return null;
    const t = this.#tunnel.state;
    if (!this.#o.config.ngrokAuthtoken) return 'Twilio cannot reach this computer yet: set NGROK_AUTHTOKEN (free at ngrok.com) for a tunnel, or PUBLIC_URL if you run your own https proxy.';
    if (t.phase === 'connecting' || t.phase === 'off') return 'the ngrok tunnel is still connecting; try again in a few seconds.';
    return `the ngrok tunnel is down: ${t.error ?? t.phase}`;
  }

  status(): EndpointStatus {
    const c = this.#o.config;
    const t = this.#tunnel.state;
    if (c.publicUrl) {
      const tunnelNote = c.ngrokAuthtoken ? (t.phase === 'up' ? ` (the ngrok tunnel ${t.url} is up too)` : ` (ngrok tunnel: ${t.error ?? t.phase})`) : '';
      if (!c.publicUrl.startsWith('https://')) return { ok: false, detail: `PUBLIC_URL ${c.publicUrl} is not https: Twilio's media streams need wss://. Put an https proxy in front, or clear PUBLIC_URL and use the ngrok tunnel.`, url: c.publicUrl };
      return { ok: true, detail: `Twilio reaches Parley at PUBLIC_URL ${c.publicUrl}${tunnelNote}`, url: c.publicUrl };
    }
    if (!c.ngrokAuthtoken) return { ok: false, detail: this.problem()!, url: null };
    switch (t.phase) {
      case 'up':
        return { ok: true, detail: `ngrok tunnel up: ${t.url} (Twilio routes only)`, url: t.url };
      case 'reconnecting':
        return { ok: false, detail: `ngrok tunnel ${t.url} lost its connection; reconnecting`, url: t.url };
      case 'retrying':
        return { ok: false, detail: `${t.error} Next try in ${Math.round((t.retryInMs ?? 0) / 1000)} s.`, url: null };
      case 'failed':
        return { ok: false, detail: t.error ?? 'the ngrok tunnel failed', url: null };
      case 'connecting':
        return { ok: false, detail: 'ngrok tunnel connecting…', url: null };
      default:
        return { ok: false, detail: 'ngrok tunnel not started (it starts with Parley)', url: null };
    }
  }

  #changed(): void {
    this.#o.onStatus(this.status());
    const url = this.url();
    if (url && url !== this.#lastUrl) {
      this.#lastUrl = url;
      this.#o.onUrlChange?.(url);
    }
    if (!url) this.#lastUrl = '';
  }

  async #ensureListener(): Promise<string> {
    if (this.#listener && this.#listenerUrl) return this.#listenerUrl;
    // No Host check here: ngrok forwards with the tunnel's own host name, and nothing but Twilio's routes is served.
    const server = new HttpServer({ log: this.#o.log.child({ listener: 'twilio-only' }), authorize: this.#o.authorize, ...(this.#o.limits ? { limits: this.#o.limits } : {}) });
    server.route(...this.#o.twilioRoutes, { method: 'GET', path: '/health', access: 'public', handler: () => this.#o.health() });
    server.upgrade(this.#o.media);
    const addr = await server.listen(0, '127.0.0.1');
    this.#listener = server;
    this.#listenerUrl = addr.url;
    return addr.url;
  }

  /** Start (or restart, after a settings change) the tunnel when a token is set; report the status. */
  async start(): Promise<void> {
    this.#running = true;
    const c = this.#o.config;
    if (!c.ngrokAuthtoken) {
      await this.#tunnel.stop();
      this.#changed();
      return;
    }
    try {
      const addr = await this.#ensureListener();
      this.#tunnel.start({ addr, authtoken: c.ngrokAuthtoken, ...(c.ngrokDomain ? { domain: c.ngrokDomain } : {}) });
    } catch (err) {
      this.#o.log.error('could not open the local listener for the tunnel', { error: errorMessage(err) });
    }
    this.#changed();
  }

  /** Settings changed: restart what depends on them. */
  async reconfigure(keys: readonly string[]): Promise<void> {
    if (!this.#running) return;
    if (keys.includes('ngrokAuthtoken') || keys.includes('ngrokDomain')) await this.start();
    else if (keys.includes('publicUrl')) this.#changed();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#tunnel.stop();
    await this.#listener?.close();
    this.#listener = null;
    this.#listenerUrl = null;
  }
}
