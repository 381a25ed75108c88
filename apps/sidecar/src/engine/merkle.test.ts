import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { bytesEqual, folderRoot, merkleRoot } from './merkle.js';
import type { FileSummary } from './types.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leaf = (h: Uint8Array): Buffer => sha(Uint8Array.of(0), h);
const node = (l: Uint8Array, r: Uint8Array): Buffer => sha(Uint8Array.of(1), l, r);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('merkleRoot', () => {
  const h = [0, 1, 2, 3, 4].map((i) => sha(Uint8Array.of(i)));

  it('empty file has the fixed root sha256(0x02)', () => {
    assert.equal(hex(merkleRoot([])), hex(sha(Uint8Array.of(2))));
    assert.equal(hex(merkleRoot([])), 'dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986');
  });

  it('one chunk: root is the tagged leaf, not the raw chunk hash', () => {
    assert.equal(hex(merkleRoot([h[0]!])), hex(leaf(h[0]!)));
    assert.notEqual(hex(merkleRoot([h[0]!])), hex(h[0]!));
  });

  it('builds pairwise and carries an odd node up unchanged', () => {
    const l = h.map(leaf);
    assert.equal(hex(merkleRoot(h.slice(0, 2))), hex(node(l[0]!, l[1]!)));
    assert.equal(hex(merkleRoot(h.slice(0, 3))), hex(node(node(l[0]!, l[1]!), l[2]!)));
    const five = node(node(node(l[0]!, l[1]!), node(l[2]!, l[3]!)), l[4]!);
    assert.equal(hex(merkleRoot(h)), hex(five));
  });

  it('is sensitive to order and to each chunk', () => {
    assert.notEqual(hex(merkleRoot([h[0]!, h[1]!])), hex(merkleRoot([h[1]!, h[0]!])));
    assert.notEqual(hex(merkleRoot(h)), hex(merkleRoot([...h.slice(0, 4), h[0]!])));
    // A two-leaf tree must not equal a one-leaf tree whose "chunk hash" is the inner node.
    const inner = node(leaf(h[0]!), leaf(h[1]!));
    assert.notEqual(hex(merkleRoot([h[0]!, h[1]!])), hex(merkleRoot([inner])));
  });
});

describe('folderRoot', () => {
  const base: FileSummary[] = [
    { path: 'a.txt', type: 'file', size: 3, mtimeMs: 1_700_000_000_000, mode: 0o644, root: sha(Uint8Array.of(9)) },
    { path: 'dir', type: 'dir', size: 0, mtimeMs: 1_700_000_000_001, mode: 0o755, root: new Uint8Array(0) },
    { path: 'dir/ü.bin', type: 'file', size: 0, mtimeMs: 5, mode: 0o600, root: merkleRoot([]) },
    { path: 'Z', type: 'file', size: 1, mtimeMs: 6, mode: 0o644, root: sha(Uint8Array.of(8)) },
  ];
  const r0 = hex(folderRoot(base));

  it('is deterministic and independent of entry order', () => {
    assert.equal(hex(folderRoot([...base].reverse())), r0);
    assert.equal(hex(folderRoot([base[2]!, base[0]!, base[3]!, base[1]!])), r0);
    assert.equal(hex(folderRoot(base.map((e) => ({ ...e, root: Uint8Array.from(e.root) })))), r0);
  });

  it('changes when any field of any entry changes', () => {
    const variants: Array<Partial<FileSummary>> = [
      { path: 'a.txu' },
      { type: 'dir' },
      { size: 4 },
      { mtimeMs: 1_700_000_000_002 },
      { mode: 0o600 },
      { root: sha(Uint8Array.of(7)) },
    ];
    for (const v of variants) {
      const changed = base.map((e, i) => (i === 0 ? { ...e, ...v } : e));
      assert.notEqual(hex(folderRoot(changed)), r0, `changing ${Object.keys(v)[0]} must change the root`);
    }
  });

  it('frames fields unambiguously and counts entries', () => {
    // Moving bytes between path and root must not collide.
    const x: FileSummary = { path: 'ab', type: 'file', size: 0, mtimeMs: 0, mode: 0, root: Uint8Array.of(1) };
    const y: FileSummary = { path: 'a', type: 'file', size: 0, mtimeMs: 0, mode: 0, root: Uint8Array.of(0x62, 1) };
    assert.notEqual(hex(folderRoot([x])), hex(folderRoot([y])));
    assert.notEqual(hex(folderRoot([])), hex(folderRoot([x])));
    assert.notEqual(hex(folderRoot([x])), hex(folderRoot([x, x])));
  });
});

describe('bytesEqual', () => {
  it('compares content and length', () => {
    assert.equal(bytesEqual(Uint8Array.of(1, 2), Buffer.from([1, 2])), true);
    assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
    assert.equal(bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 0)), false);
    assert.equal(bytesEqual(new Uint8Array(0), new Uint8Array(0)), true);
  });
});
