import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChangeDebouncer } from './change-debouncer.js';

test('a burst of events wakes the watcher once, after it settles', async () => {
  const d = new ChangeDebouncer(80);
  const started = performance.now();
  const woke = d.next(10_000);
  for (let i = 0; i < 10; i++) {
    d.touch();
    await sleep(20);
  }
  assert.equal(await woke, 'local');
  // The last event comes after 9 pauses of 20 ms; the wake-up must wait a full debounce after it.
  assert.ok(performance.now() - started >= 9 * 20 + 80 - 5, 'not before the burst settled');
  assert.equal(await d.next(50), 'interval', 'the burst was consumed by one wake-up');
  d.close();
});

test('an event during a cycle is not lost: the next wait returns at once', async () => {
  const d = new ChangeDebouncer(10);
  d.touch();
  await sleep(40);
  assert.equal(await d.next(10_000), 'local');
  d.close();
});

test('events without pause still wake the watcher after maxWait', async () => {
  const d = new ChangeDebouncer(50, 150);
  const woke = d.next(10_000);
  const keepWriting = setInterval(() => d.touch(), 10);
  const started = performance.now();
  assert.equal(await woke, 'local');
  clearInterval(keepWriting);
  assert.ok(performance.now() - started < 400);
  d.close();
});

test('abort stops the wait', async () => {
  const d = new ChangeDebouncer(10);
  const stop = new AbortController();
  const waiting = d.next(10_000, stop.signal);
  stop.abort();
  assert.equal(await waiting, 'stop');
});
