/**
 * A bounded pool of worker processes for one STT, TTS or turn plugin: N plugin hosts (PluginProxy each, with its
 * own crash restart, stuck detection and limits), one request at a time on each. It presents the same instance
 * interface as one PluginProxy, so the engine cannot tell them apart.
 *
 * Requests wait in a queue per call (the lane: CallOptions.callSid, else the lease the call took) and the next
 * free worker serves the lane that was served least recently — a call that floods the pool cannot starve
 * another. A request whose AbortSignal fires while it waits (barge-in, hang-up, a speculation overtaken) leaves
 * the queue at once and never reaches a worker.
 *
 * The LLM is not pooled: llama-llm batches every call's sequence in one process by itself.
 */
import { availableParallelism } from 'node:os';
import { ParleyError, abortError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AudioChunk, CallOptions, ChatMessage } from './api.ts';
import { PluginProxy, type PluginProxyOptions, type PluginProxySpec, type PluginProxyState } from './plugin-proxy.ts';

/** Workers when the setting is 0 (auto): one per 2 cores, 1 to 4 — each model run already uses several threads. */
export function poolSize(setting: number, cores: number = availableParallelism()): number {
  if (setting > 0) return setting;
  return Math.min(4, Math.max(1, Math.floor(cores / 2)));
}

type Audio16k = { samples: Float32Array; sampleRate: 16000 };

interface Queued {
  lane: string;
  seq: number;
  resolve(worker: PluginProxy): void;
  reject(err: Error): void;
}

interface Lane {
  waiting: Queued[];
  /** Requests of this lane on a worker now. */
  running: number;
  /** When this lane was last given a worker (a pool-wide counter); 0: not since its work last drained. */
  servedAt: number;
}

/** What the engine calls on an STT / TTS / turn instance; the pool and one lane's view of it both offer it. */
export interface PooledInstance {
  transcribe(audio: Audio16k, options: CallOptions): Promise<{ text: string }>;
  predict(audio: Audio16k, options: CallOptions): Promise<{ complete: number }>;
  synthesize(text: string, options: CallOptions): AsyncIterable<AudioChunk>;
  chat(messages: ChatMessage[], options: CallOptions): AsyncIterable<string>;
}

const STATE_ORDER: PluginProxyState[] = ['ready', 'starting', 'failed', 'idle'];

export class WorkerPool implements PooledInstance {
  readonly spec: PluginProxySpec;
  readonly size: number;
  readonly #workers: PluginProxy[];
  readonly #busy = new Set<PluginProxy>();
  readonly #lanes = new Map<string, Lane>();
  #seq = 0;
  #served = 0;
  #disposed = false;

  constructor(spec: PluginProxySpec, log: Logger, size: number, options: PluginProxyOptions = {}) {
    if (!Number.isInteger(size) || size < 1) throw new ParleyError('CONFIG_INVALID', `plugin ${spec.name}: a worker pool needs at least 1 worker (got ${size})`);
    this.spec = spec;
    this.size = size;
    const plog = size > 1 ? (i: number) => log.child({ worker: i + 1 }) : () => log;
    this.#workers = Array.from({ length: size }, (_, i) => new PluginProxy(spec, plog(i), options));
  }

  /** The pool's state as one instance's: ready while any worker is. */
  get state(): PluginProxyState {
    if (this.#disposed) return 'disposed';
    const states = new Set(this.#workers.map((w) => w.state));
    return STATE_ORDER.find((s) => states.has(s)) ?? 'idle';
  }

  get lastError(): Error | null {
    return this.#workers.find((w) => w.lastError)?.lastError ?? null;
  }

  get outputHighWaterBytes(): number {
    return Math.max(...this.#workers.map((w) => w.outputHighWaterBytes));
  }

  /** Requests waiting for a worker (not yet sent to any), for tests and status. */
  get queued(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.waiting.length;
    return n;
  }

  /** Start every worker; resolves once all have tried, when at least one is ready (else with the first failure). */
  async start(): Promise<void> {
    if (this.#disposed) throw new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`);
    const results = await Promise.allSettled(this.#workers.map((w) => w.start()));
    if (results.some((r) => r.status === 'fulfilled')) return;
    throw (results[0] as PromiseRejectedResult).reason;
  }

  /** This pool seen from one call: requests without a callSid queue in `lane` (the call's lease). */
  forLane(lane: string): PooledInstance {
    const laneOf = (o: CallOptions): CallOptions => (o.callSid ? o : { ...o, callSid: undefined, lane } as CallOptions);
    return {
      transcribe: (audio, o) => this.transcribe(audio, laneOf(o)),
      predict: (audio, o) => this.predict(audio, laneOf(o)),
      synthesize: (text, o) => this.synthesize(text, laneOf(o)),
      chat: (messages, o) => this.chat(messages, laneOf(o)),
    };
  }

  transcribe(audio: Audio16k, options: CallOptions): Promise<{ text: string }> {
    return this.#single(options, (w, o) => w.transcribe(audio, o));
  }

  predict(audio: Audio16k, options: CallOptions): Promise<{ complete: number }> {
    return this.#single(options, (w, o) => w.predict(audio, o));
  }

  synthesize(text: string, options: CallOptions): AsyncIterable<AudioChunk> {
    return this.#stream(options, (w, o) => w.synthesize(text, o));
  }

  chat(messages: ChatMessage[], options: CallOptions): AsyncIterable<string> {
    return this.#stream(options, (w, o) => w.chat(messages, o));
  }

  async #single<T>(options: CallOptions, run: (w: PluginProxy, o: CallOptions) => Promise<T>): Promise<T> {
    const { lane, forward } = split(options);
    const worker = await this.#acquire(lane, options.signal);
    try {
      return await run(worker, forward);
    } finally {
      this.#release(worker, lane);
    }
  }

  #stream<T>(options: CallOptions, run: (w: PluginProxy, o: CallOptions) => AsyncIterable<T>): AsyncIterable<T> {
    const self = this;
    const { lane, forward } = split(options);
    return {
      async *[Symbol.asyncIterator]() {
        // The worker is held until the stream ends (the engine drains a clause's audio as it comes).
        const worker = await self.#acquire(lane, options.signal);
        try {
          yield* run(worker, forward);
        } finally {
          self.#release(worker, lane);
        }
      },
    };
  }

  #lane(key: string): Lane {
    let lane = this.#lanes.get(key);
    if (!lane) this.#lanes.set(key, (lane = { waiting: [], running: 0, servedAt: 0 }));
    return lane;
  }

  #acquire(key: string, signal: AbortSignal | undefined): Promise<PluginProxy> {
    if (this.#disposed) return Promise.reject(new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`));
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise<PluginProxy>((resolve, reject) => {
      const lane = this.#lane(key);
      const onAbort = () => {
        const i = lane.waiting.indexOf(item);
        if (i < 0) return;
        lane.waiting.splice(i, 1);
        this.#forget(key, lane);
        reject(abortError());
      };
      const item: Queued = {
        lane: key,
        seq: ++this.#seq,
        resolve: (w) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(w);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.waiting.push(item);
      this.#pump();
    });
  }

  #release(worker: PluginProxy, key: string): void {
    this.#busy.delete(worker);
    const lane = this.#lanes.get(key);
    if (lane) {
      lane.running--;
      this.#forget(key, lane);
    }
    this.#pump();
  }

  /** A lane with nothing waiting or running is dropped: its next request counts as never served. */
  #forget(key: string, lane: Lane): void {
    if (lane.waiting.length === 0 && lane.running <= 0) this.#lanes.delete(key);
  }

  /** Give free workers to waiting requests: the least recently served lane first, then the oldest request. */
  #pump(): void {
    for (;;) {
      const worker = this.#freeWorker();
      if (!worker) return;
      let pick: Lane | null = null;
      for (const lane of this.#lanes.values()) {
        const head = lane.waiting[0];
        if (!head) continue;
        if (!pick || lane.servedAt < pick.servedAt || (lane.servedAt === pick.servedAt && head.seq < pick.waiting[0]!.seq)) pick = lane;
      }
      if (!pick) return;
      const item = pick.waiting.shift()!;
      pick.running++;
      pick.servedAt = ++this.#served;
      this.#busy.add(worker);
      item.resolve(worker);
    }
  }

  /** A free worker, a ready one first (then one to start; a failed one last, which answers with its error). */
  #freeWorker(): PluginProxy | null {
    const free = this.#workers.filter((w) => !this.#busy.has(w));
    for (const s of ['ready', 'idle', 'starting', 'failed'] as PluginProxyState[]) {
      const w = free.find((x) => x.state === s);
      if (w) return w;
    }
    return null;
  }

  async dispose(graceMs = 3_000): Promise<void> {
    this.#disposed = true;
    const err = new ParleyError('PLUGIN_FAILED', `plugin ${this.spec.name} was unloaded`);
    for (const lane of this.#lanes.values()) for (const item of lane.waiting.splice(0)) item.reject(err);
    this.#lanes.clear();
    await Promise.all(this.#workers.map((w) => w.dispose(graceMs)));
  }
}

/** The lane a request queues in (its call), and the options the worker gets (without the pool's own `lane`). */
function split(options: CallOptions): { lane: string; forward: CallOptions } {
  const { lane, ...rest } = options as CallOptions & { lane?: string };
  const forward = rest.callSid === undefined ? (({ callSid: _, ...o }) => o)(rest) : rest;
  return { lane: rest.callSid ?? lane ?? '', forward: forward as CallOptions };
}
