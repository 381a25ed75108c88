import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunksToFetch } from './chunk-diff.js';

const h = (n: number): Uint8Array => createHash('sha256').update(String(n)).digest();
// Fresh copies so equality is by content, never by object identity.
const list = (...ns: number[]): Uint8Array[] => ns.map((n) => Uint8Array.from(h(n)));

describe('chunksToFetch', () => {
  it('equal lists: nothing to fetch', () => {
    assert.deepEqual(chunksToFetch(list(1, 2, 3), list(1, 2, 3)), []);
  });
  it('one differing chunk', () => {
    assert.deepEqual(chunksToFetch(list(1, 2, 3), list(1, 9, 3)), [1]);
  });
  it('remote longer: the new tail is fetched', () => {
    assert.deepEqual(chunksToFetch(list(1, 2, 3, 4), list(1, 2)), [2, 3]);
  });
  it('local longer (shrink): nothing to fetch, truncate handles it', () => {
    assert.deepEqual(chunksToFetch(list(1, 2), list(1, 2, 3, 4)), []);
  });
  it('empty cases', () => {
    assert.deepEqual(chunksToFetch([], []), []);
    assert.deepEqual(chunksToFetch([], list(1)), []);
    assert.deepEqual(chunksToFetch(list(1, 2), []), [0, 1]);
  });
  it('several differences come back ascending', () => {
    assert.deepEqual(chunksToFetch(list(1, 2, 3, 4, 5), list(0, 2, 0, 4)), [0, 2, 4]);
  });
});
