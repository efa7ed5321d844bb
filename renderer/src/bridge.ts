/**
 * The renderer's one way out: the IPC contract, over the preload bridge (desktop app) or the headless
 * WebSocket bridge (browser). Views call `bridge.invoke(channel, request)` and get the response, or an
 * `IpcFailure` carrying the core's code and message.
 */
import type { Bridge, BridgeFrame, Channel, GuiEvent, IpcError, IpcResult, PreloadApi, RequestOf, ResponseOf } from '../../main/shared/contract.ts';

declare global {
  interface Window {
    parley?: PreloadApi;
  }
}

export class IpcFailure extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(error: IpcError) {
    super(error.message);
    this.code = error.code;
    this.details = error.details;
  }
}

export type Connection = 'connecting' | 'open' | 'reconnecting' | 'no-token';

export interface GuiBridge extends Bridge {
  readonly mode: 'electron' | 'headless';
  connection(): Connection;
  /** Connection changes; `open` after a reconnect means state may have been missed: refetch. */
  onConnection(listener: (state: Connection) => void): () => void;
}

const unwrap = <T>(result: IpcResult<unknown>): T => {
  if (!result.ok) throw new IpcFailure(result.error);
  return result.value as T;
};

function preloadBridge(api: PreloadApi): GuiBridge {
  return {
    mode: 'electron',
    invoke: async <C extends Channel>(channel: C, request: RequestOf<C>) => unwrap<ResponseOf<C>>(await api.invoke(channel, request ?? null)),
    onEvent: (listener) => api.onEvent(listener),
    connection: () => 'open',
    onConnection: () => () => {},
  };
}

/** The GUI token: from the URL fragment Parley printed (#token=…). */
export function tokenFromLocation(hash: string): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(hash);
  return m ? decodeURIComponent(m[1]!) : null;
}

function socketBridge(token: string | null): GuiBridge {
  const events = new Set<(e: GuiEvent) => void>();
  const connListeners = new Set<(s: Connection) => void>();
  const pending = new Map<number, { resolve: (r: IpcResult<unknown>) => void }>();
  let state: Connection = token ? 'connecting' : 'no-token';
  let ws: WebSocket | null = null;
  let nextId = 1;
  let delay = 250;
  const setState = (s: Connection) => {
    state = s;
    for (const l of connListeners) l(s);
  };
  const open = () => {
    if (!token) return;
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/bridge?token=${encodeURIComponent(token)}`);
    ws = socket;
    socket.onopen = () => {
      delay = 250;
      setState('open');
    };
    socket.onmessage = (m) => {
      let frame: BridgeFrame;
      try {
        frame = JSON.parse(String(m.data)) as BridgeFrame;
      } catch {
        return;
      }
      if (frame.t === 'event') for (const l of events) l(frame.event);
      else if (frame.t === 'res') {
        pending.get(frame.id)?.resolve(frame.result);
        pending.delete(frame.id);
      }
    };
    socket.onclose = () => {
      ws = null;
      for (const p of pending.values()) p.resolve({ ok: false, error: { code: 'DISCONNECTED', message: 'Lost the connection to Parley; retrying.' } });
      pending.clear();
      setState('reconnecting');
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 4000);
    };
  };
  open();
  return {
    mode: 'headless',
    async invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
      if (!token) throw new IpcFailure({ code: 'NO_TOKEN', message: 'Open the link Parley printed at start-up: it ends with #token=…' });
      if (!ws || ws.readyState !== WebSocket.OPEN) await waitOpen();
      const id = nextId++;
      const result = await new Promise<IpcResult<unknown>>((resolve) => {
        pending.set(id, { resolve });
        ws!.send(JSON.stringify({ t: 'req', id, channel, request: request ?? null } satisfies BridgeFrame));
      });
      return unwrap<ResponseOf<C>>(result);
    },
    onEvent(listener) {
      events.add(listener);
      return () => events.delete(listener);
    },
    connection: () => state,
    onConnection(listener) {
      connListeners.add(listener);
      return () => connListeners.delete(listener);
    },
  };

  function waitOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new IpcFailure({ code: 'DISCONNECTED', message: 'Parley is not reachable. Is it still running?' }));
      }, 10_000);
      const off = (() => {
        const l = (s: Connection) => {
          if (s !== 'open') return;
          clearTimeout(timer);
          connListeners.delete(l);
          resolve();
        };
        connListeners.add(l);
        return () => connListeners.delete(l);
      })();
    });
  }
}

export function createBridge(): GuiBridge {
  return window.parley ? preloadBridge(window.parley) : socketBridge(tokenFromLocation(location.hash));
}

export const bridge: GuiBridge = createBridge();

/** Shorthand used by the views. */
export const call = <C extends Channel>(channel: C, ...request: RequestOf<C> extends null ? [] : [RequestOf<C>]): Promise<ResponseOf<C>> =>
  bridge.invoke(channel, (request[0] ?? null) as RequestOf<C>);

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
