/**
 * The control API's app-wide routes: health, the live event stream, readiness and the setup doctor. Calls are
 * in call-routes.ts; plugins, models and records in data-routes.ts; settings in settings-routes.ts.
 * docs/api.md documents every route.
 */
import type { CoreStatus, DoctorReport } from '../../shared/status.ts';
import type { Route } from './router.ts';

export interface ControlRouteDeps {
  /** Subscribe to core events for the /events stream; returns the unsubscribe function. */
  subscribe(listener: (event: { type: string; callSid?: string | null }) => void): () => void;
  health(): Record<string, unknown>;
  status(): CoreStatus;
  doctor(): Promise<DoctorReport>;
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
        res.write(': parley events\n\n');
        const unsubscribe = deps.subscribe((event) => {
          if (only && event.callSid !== only) return;
          res.write(`data: ${JSON.stringify(event)}\n\n`);
        });
        const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
        req.on('close', () => {
          clearInterval(ping);
          unsubscribe();
        });
      },
    },
    { method: 'GET', path: '/status', access: 'control', handler: () => deps.status() },
    { method: 'GET', path: '/doctor', access: 'control', handler: () => deps.doctor() },
  ];
}
