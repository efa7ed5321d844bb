/** A single-consumer async queue: the producer pushes, the consumer `for await`s; close() ends, fail() throws. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | null = null;
  #failWaiter: ((err: unknown) => void) | null = null;
  #closed = false;
  #error: unknown = null;

  push(item: T): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      this.#failWaiter = null;
      w({ value: item, done: false });
    } else this.#items.push(item);
  }

  close(): void {
    this.#closed = true;
    if (this.#waiter && this.#items.length === 0) {
      const w = this.#waiter;
      this.#waiter = null;
      this.#failWaiter = null;
      w({ value: undefined as T, done: true });
    }
  }

  fail(err: unknown): void {
    if (this.#closed) return;
    this.#error = err;
    this.#closed = true;
    if (this.#failWaiter) {
      const f = this.#failWaiter;
      this.#waiter = null;
      this.#failWaiter = null;
      f(err);
    }
  }

  get size(): number {
    return this.#items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#error) return Promise.reject(this.#error);
        if (this.#closed) return Promise.resolve({ value: undefined as T, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.#waiter = resolve;
          this.#failWaiter = reject;
        });
      },
    };
  }
}
