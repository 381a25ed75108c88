import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket shared by every stream and file of a session: `take(n)` waits until n bytes
 * may pass. The bucket holds at most `burstBytes`, so an idle link cannot save up and then
 * exceed the rate for long; requests larger than the burst are let through in debt and
 * repaid before the next one, which keeps the long-run rate exact for 1 MiB chunks.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly bytesPerSecond: number, readonly burstBytes = Math.max(64 * 1024, bytesPerSecond / 10)) {
    if (!(bytesPerSecond > 0)) throw new RangeError('rate must be positive');
    this.tokens = burstBytes;
    this.last = performance.now();
  }

  /** From the CLI's megabits per second. */
  static fromMbps(mbps: number): RateLimiter {
    return new RateLimiter((mbps * 1_000_000) / 8);
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    // Callers are served in order, so one stream cannot starve the others.
    const turn = this.queue.then(async () => {
      this.refill();
      if (this.tokens < 0 || this.tokens < Math.min(bytes, this.burstBytes)) {
        const need = Math.min(bytes, this.burstBytes) - this.tokens;
        await sleep((need / this.bytesPerSecond) * 1000, undefined, signal ? { signal } : undefined);
        this.refill();
      }
      this.tokens -= bytes;
    });
    this.queue = turn.catch(() => {});
    return turn;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
