/**
 * Turns a burst of file-system events (an editor's save, a copy of 1,000 files) into one wake-up:
 * it fires `debounceMs` after the last event, but no later than `maxWaitMs` after the first, so a
 * file that is written to without pause still gets synced.
 */
export class ChangeDebouncer {
  private timer: NodeJS.Timeout | undefined;
  private firstAt: number | undefined;
  private ready = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly debounceMs: number,
    private readonly maxWaitMs = Math.max(5000, 10 * debounceMs),
  ) {}

  touch(): void {
    const now = performance.now();
    this.firstAt ??= now;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstAt + this.maxWaitMs - now));
    this.timer = setTimeout(() => {
      this.firstAt = undefined;
      this.ready = true;
      this.wake?.();
    }, wait);
  }

  /** Resolves 'local' once a burst settled (at once if one settled meanwhile), 'interval' after intervalMs, 'stop' on abort. */
  next(intervalMs: number, signal?: AbortSignal): Promise<'local' | 'interval' | 'stop'> {
    if (signal?.aborted) return Promise.resolve('stop');
    if (this.ready) {
      this.ready = false;
      return Promise.resolve('local');
    }
    return new Promise((resolve) => {
      const done = (why: 'local' | 'interval' | 'stop') => {
        clearTimeout(interval);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        if (why === 'local') this.ready = false;
        resolve(why);
      };
      const onAbort = () => done('stop');
      const interval = setTimeout(() => done('interval'), intervalMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = () => done('local');
    });
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
