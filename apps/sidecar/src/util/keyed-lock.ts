/** Runs tasks for the same key one after another, tasks for different keys concurrently. */
export class KeyedLock<K> {
  private readonly tails = new Map<K, Promise<unknown>>();

  async run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(task);
    this.tails.set(key, current);
    try {
      return await current;
    } finally {
      // Only the last task queued for a key may forget it, or a waiter would lose its place.
      if (this.tails.get(key) === current) this.tails.delete(key);
    }
  }
}
