/**
 * The control API's app-wide routes: health, the live event stream, readiness and the setup doctor. Calls are
 * in call-routes.ts; plugins, models and records in data-routes.ts; settings in settings-routes.ts.
 * docs/api.md documents every route.
 */
import type { CoreStatus, DoctorReport } from '../../shared/status.ts';
import type { Logger } from '../log.ts';
import type { Route } from './router.ts';

/** An /events client that stops reading is cut off once this much is buffered for it; EventSource reconnects. */
export const DEFAULT_SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface ControlRouteDeps {
  /** Subscribe to core events for the /events stream; returns the unsubscribe function. */
  subscribe(listener: (event: { type: string; callSid?: string | null }) => void): () => void;
  health(): Record<string, unknown>;
  status(): CoreStatus;
  doctor(): Promise<DoctorReport>;
  log: Logger;
  /** Default DEFAULT_SSE_MAX_BUFFERED_BYTES (tests make it small). */
  sseMaxBufferedBytes?: number;
}

export function controlRoutes(deps: ControlRouteDeps): Route[] {
  return [
    { method: 'GET', path: '/health', access: 'public', handler: () => deps.health() },
    {
      method: 'GET',
      path: '/events',
      access: 'control',
      // Server-sent events: one JSON CoreEvent per message; ?callSid= filters to one call.
      handler: ({ req, res, url }) => {
        const only = url.searchParams.get('callSid');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        const max = deps.sseMaxBufferedBytes ?? DEFAULT_SSE_MAX_BUFFERED_BYTES;
        let unsubscribe = () => {};
        let ping: NodeJS.Timeout | undefined;
        const stop = () => {
          clearInterval(ping);
          unsubscribe();
        };
        // Memory must not grow without bound for a client that stopped reading (a frozen tab, a stuck script).
        const write = (text: string) => {
          if (res.destroyed) return;
          if (res.writableLength > max) {
            deps.log.warn(`/events client closed: it stopped reading (${res.writableLength} bytes buffered, the most is ${max})`, { remote: req.socket.remoteAddress });
            stop();
            res.destroy();
            return;
          }
          res.write(text);
        };
        write(': parley events\n\n');
        unsubscribe = deps.subscribe((event) => {
          if (only && event.callSid !== only) return;
          write(`data: ${JSON.stringify(event)}\n\n`);
        });
        ping = setInterval(() => write(': ping\n\n'), 15_000);
        req.on('close', stop);
      },
    },
    { method: 'GET', path: '/status', access: 'control', handler: () => deps.status() },
    { method: 'GET', path: '/doctor', access: 'control', handler: () => deps.doctor() },
  ];
}
