/**
 * The core's typed event stream. The GUI, the call records and the CLI all consume exactly these events
 * (declared in main/shared/events.ts); add fields and event types freely, never rename or reshape existing ones.
 */
import { EventEmitter } from 'node:events';
import type { CoreEvent, CoreEventType, EventOf } from '../shared/events.ts';

// The event types are shared with the GUI (main/shared/events.ts); re-exported so core modules need one import.
export type { AgentState, CallDirection, CallPlugins, CallStatus, CallStatusUpdate, CoreEvent, CoreEventType, EventOf, TurnMetrics } from '../shared/events.ts';
export type { PluginKind } from '../shared/plugins.ts';

/**
 * A typed event bus. Listeners run synchronously; one throwing listener is isolated from the others and from
 * the emitter (a broken GUI bridge must never break a call).
 */
export class CoreEvents {
  readonly #emitter = new EventEmitter({ captureRejections: false });
  readonly #onListenerError: (err: unknown, event: CoreEvent) => void;

  constructor(onListenerError: (err: unknown, event: CoreEvent) => void = () => {}) {
    this.#emitter.setMaxListeners(0);
    this.#onListenerError = onListenerError;
  }

  emit(event: CoreEvent): void {
    for (const name of [event.type, '*']) {
      for (const listener of this.#emitter.listeners(name)) {
        try {
          (listener as (e: CoreEvent) => void)(event);
        } catch (err) {
          this.#onListenerError(err, event);
        }
      }
    }
  }

  on<T extends CoreEventType>(type: T, listener: (event: EventOf<T>) => void): () => void {
    this.#emitter.on(type, listener);
    return () => this.#emitter.off(type, listener);
  }

  /** Every event, in order. */
  onAny(listener: (event: CoreEvent) => void): () => void {
    this.#emitter.on('*', listener);
    return () => this.#emitter.off('*', listener);
  }
}
