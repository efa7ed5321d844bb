/**
 * Is Parley reachable and ready to take calls? Three parts — the local server, the public URL (tunnel or
 * PUBLIC_URL), the Twilio account — each ok or not, with a sentence that says what to do when not. Every change
 * is a `server.status` event, so the GUI's indicators follow without polling. It also says how many calls are
 * being served against how many may be (PARLEY_MAX_CALLS), read live from the call registry.
 */
import type { CoreEvent } from './event-bus.ts';
import type { ComponentStatus, CoreStatus, RecordsStatus, StatusComponent } from '../shared/status.ts';

export type { ComponentStatus, CoreStatus, RecordsStatus, StatusComponent } from '../shared/status.ts';

/** Lines in use against capacity: calls being served (busy notices not counted) and PARLEY_MAX_CALLS resolved. */
export interface CallCapacity {
  inUse: number;
  capacity: number;
}

export interface StatusBoardOptions {
  /** The calls in use and the capacity, asked at each read (the call registry and the config). */
  calls?(): CallCapacity;
}

export class StatusBoard {
  readonly #emit: (event: CoreEvent) => void;
  readonly #calls: (() => CallCapacity) | null;
  readonly #s: CoreStatus = {
    server: { ok: false, detail: 'not started: press Start (or run npm run headless)', url: null },
    tunnel: { ok: false, detail: 'not started yet', url: null },
    twilio: { ok: false, detail: 'not checked yet' },
  };

  constructor(emit: (event: CoreEvent) => void, options: StatusBoardOptions = {}) {
    this.#emit = emit;
    this.#calls = options.calls ?? null;
  }

  /** The call records' health (CallStore's `onStatus`): in `/status` from then on; a change is a `server.status` event. */
  setRecords(next: RecordsStatus): void {
    const cur = this.#s.records;
    if (cur && cur.ok === next.ok && cur.detail === next.detail && cur.failedWrites === next.failedWrites) return;
    this.#s.records = { ok: next.ok, detail: next.detail, failedWrites: next.failedWrites };
    this.#emit({ type: 'server.status', component: 'records', ok: next.ok, detail: next.detail, failedWrites: next.failedWrites, at: Date.now() });
  }

  get(): CoreStatus & { calls?: CallCapacity } {
    const s: CoreStatus & { calls?: CallCapacity } = structuredClone(this.#s);
    if (this.#calls) {
      const { inUse, capacity } = this.#calls();
      s.calls = { inUse, capacity };
    }
    return s;
  }

  /** Record a component's status; emits `server.status` only when something changed. */
  set(component: StatusComponent, next: ComponentStatus & { url?: string | null }): void {
    const cur = this.#s[component] as ComponentStatus & { url?: string | null };
    const url = component === 'twilio' ? undefined : (next.url ?? null);
    if (cur.ok === next.ok && cur.detail === next.detail && (component === 'twilio' || cur.url === url)) return;
    cur.ok = next.ok;
    cur.detail = next.detail;
    if (component !== 'twilio') cur.url = url ?? null;
    this.#emit({ type: 'server.status', component, ok: next.ok, detail: next.detail, ...(url ? { url } : {}), at: Date.now() });
  }
}
