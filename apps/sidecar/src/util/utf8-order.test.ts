import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareUtf8 } from './utf8-order.js';

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareUtf8', () => {
  it('orders as the UTF-8 bytes do, astral characters and all', () => {
    fc.assert(
      // A shared prefix, as paths in one folder have, makes the first difference fall anywhere.
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (prefix, x, y) => {
        const [a, b] = [prefix + x, prefix + y];
        assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(byBytes(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts U+10000 and above after U+E000-U+FFFF, where UTF-16 units would not', () => {
    const sorted = ['\u{1F600}', '\uffff', 'z', '\ue000', 'a/b', 'a'].sort(compareUtf8);
    assert.deepEqual(sorted, ['a', 'a/b', 'z', '\ue000', '\uffff', '\u{1F600}']);
    assert.equal(compareUtf8('same', 'same'), 0);
  });
});
