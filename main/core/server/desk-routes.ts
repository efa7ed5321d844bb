/**
 * The person at the desk on a live call: `POST /calls/:callSid/takeover` (the agent stops at once and answers
 * nothing; the desk's mic reaches the caller over the /desk WebSocket) and `POST /calls/:callSid/handback` (the
 * agent resumes, knowing what was said). Both answer `{ ok, callSid, takenOver }`; asking twice is not an error.
 * Shapes are documented in docs/api.md.
 */
import { ParleyError } from '../errors.ts';
import type { Route } from './router.ts';

export interface DeskRouteDeps {
  takeOver(callSid: string, take: boolean): { takenOver: boolean };
}

function noBody(body: unknown, path: string): void {
  if (body === undefined || body === null || body === '') return;
  if (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) return;
  throw new ParleyError('BAD_REQUEST', `POST /calls/:callSid/${path} takes no body (send nothing, or {})`);
}

export function deskRoutes(deps: DeskRouteDeps): Route[] {
  return (['takeover', 'handback'] as const).map((path) => ({
    method: 'POST' as const,
    path: `/calls/:callSid/${path}`,
    access: 'control' as const,
    handler: ({ params, body }: { params: Record<string, string | undefined>; body: unknown }) => {
      noBody(body, path);
      const { takenOver } = deps.takeOver(params.callSid!, path === 'takeover');
      return { ok: true, callSid: params.callSid, takenOver };
    },
  }));
}
