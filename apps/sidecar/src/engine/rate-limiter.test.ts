import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limiter.js';

test('the long-run rate matches the limit for 1 MiB takes from several callers', async () => {
  const limiter = new RateLimiter(20 * 1024 * 1024); // 20 MiB/s
  const started = performance.now();
  const chunk = 1024 * 1024;
  // 4 "streams" × 10 chunks = 40 MiB: about 2 s minus the initial burst.
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 10; i++) await limiter.take(chunk);
  }));
  const seconds = (performance.now() - started) / 1000;
  const expected = (40 * chunk - limiter.burstBytes) / (20 * chunk);
  assert.ok(seconds > expected * 0.9, `took ${seconds.toFixed(2)} s, expected about ${expected.toFixed(2)} s`);
  assert.ok(seconds < expected * 1.25, `took ${seconds.toFixed(2)} s, expected about ${expected.toFixed(2)} s`);
});

test('an aborted wait rejects and does not block later callers', async () => {
  const limiter = new RateLimiter(1024, 1024);
  await limiter.take(1024);
  const ac = new AbortController();
  const waiting = limiter.take(1024 * 1024, ac.signal);
  ac.abort();
  await assert.rejects(waiting);
  assert.throws(() => new RateLimiter(0));
});
