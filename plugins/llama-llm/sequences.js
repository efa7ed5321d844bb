// One llama.cpp context sequence (and the LlamaChat on it) per live call, inside the child process. A call keeps
// its sequence between turns, so its KV cache survives other calls' turns; turns of different calls run at the
// same time and node-llama-cpp batches them across sequences.

/**
 * Runs work for one key (a call) strictly in order, while different keys run concurrently.
 * A failed job does not stop the ones queued behind it.
 */
export class CallQueues {
  #tails = new Map();

  run(key, work) {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}

/**
 * The context's sequences, handed to calls. A call gets the sequence it already owns; else a free one; else, when
 * there are more live calls than sequences, the least recently used idle call's sequence (that call loses only its
 * cache: its next turn evaluates its whole history again); and when every sequence is in the middle of a turn,
 * the turn waits for the first one to finish. More calls than `maxCalls` therefore cost speed, never an answer.
 */
export class SequencePool {
  #context;
  #makeChat;
  #log;
  #slots = [];
  #waiters = [];
  #clock = 0;

  /** @param {(sequence: any) => any} makeChat a LlamaChat on the given sequence */
  constructor(context, makeChat, log) {
    this.#context = context;
    this.#makeChat = makeChat;
    this.#log = log;
  }

  /** The sequence `key` owns now, without taking it (null when it has none). */
  owned(key) {
    return this.#slots.find((s) => s.owner === key) ?? null;
  }

  /** Take a sequence for one turn of `key`; give it back with release(). Resolves `{ slot, evicted }`. */
  async acquire(key, signal) {
    while (true) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      const own = this.owned(key);
      // Turns of one call run in order (CallQueues); its own sequence is busy only while an eviction clears it.
      if (own && !own.busy) return { slot: this.#take(own, key), evicted: null };
      if (own) {
        await this.#wait(signal);
        continue;
      }
      const free = this.#slots.find((s) => s.owner === null && !s.busy) ?? this.#create();
      if (free) return { slot: this.#take(free, key), evicted: null };
      const idle = this.#slots.filter((s) => !s.busy).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (idle) {
        const evicted = idle.owner;
        idle.busy = true; // hold it while its history is cleared
        try {
          await idle.sequence.clearHistory();
        } finally {
          idle.busy = false;
        }
        this.#log('info', 'more live calls than llama-llm.maxCalls: a call took the sequence of the least recently active one, which will evaluate its whole history at its next turn', { callSid: key || null, from: evicted || null, sequences: this.#slots.length });
        return { slot: this.#take(idle, key), evicted };
      }
      await this.#wait(signal);
    }
  }

  /** Until some sequence is released (or the signal aborts). */
  #wait(signal) {
    return new Promise((resolve, reject) => {
      const waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(slot) {
    slot.busy = false;
    slot.lastUsed = ++this.#clock;
    // Every waiter looks again: one may be waiting for this very sequence, another for any.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** The call ended: clear its sequence and hand it back. Resolves with whether the call had one. */
  async end(key) {
    const slot = this.owned(key);
    if (!slot || slot.busy) return false;
    slot.busy = true;
    try {
      await slot.sequence.clearHistory();
    } finally {
      slot.owner = null;
      this.release(slot);
    }
    return true;
  }

  /** Which calls hold which sequence (for logs and tests). */
  describe() {
    return this.#slots.map((s) => ({ index: s.index, owner: s.owner, busy: s.busy, tokens: s.sequence.nextTokenIndex }));
  }

  #take(slot, key) {
    slot.owner = key;
    slot.busy = true;
    return slot;
  }

  #create() {
    if (this.#context.sequencesLeft <= 0) return null;
    const sequence = this.#context.getSequence();
    const slot = { index: this.#slots.length, sequence, chat: this.#makeChat(sequence), owner: null, busy: false, lastUsed: 0 };
    this.#slots.push(slot);
    return slot;
  }
}
