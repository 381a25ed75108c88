import { createHash } from 'node:crypto';
import type { FileSummary } from './types.js';
import { compareUtf8 } from '../util/utf8-order.js';

/*
 * Merkle tree over a file's chunk hashes. Tags keep the three kinds of input apart, so no leaf
 * can be passed off as an inner node (second-preimage attack) and an empty file cannot collide
 * with any real tree:
 *   leaf  = sha256(0x00 || chunkHash)
 *   node  = sha256(0x01 || left || right)
 *   empty = sha256(0x02)                      (root of a zero-byte file, a fixed constant)
 * Levels are built pairwise left to right; an odd node at the end of a level is carried up
 * unchanged (not duplicated), so trees of different leaf counts never share a root by padding.
 */

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);
const EMPTY = Uint8Array.of(0x02);
const FOLDER = Uint8Array.of(0x03);

export function merkleRoot(chunkHashes: readonly Uint8Array[]): Uint8Array {
  if (chunkHashes.length === 0) return createHash('sha256').update(EMPTY).digest();
  let level: Uint8Array[] = chunkHashes.map((h) => createHash('sha256').update(LEAF).update(h).digest());
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1];
      next.push(right === undefined ? left : createHash('sha256').update(NODE).update(left).update(right).digest());
    }
    level = next;
  }
  return level[0] as Uint8Array;
}

/**
 * One hash over a whole folder summary, so an unchanged folder costs one comparison. Entries are
 * sorted by the UTF-8 bytes of their path (the same order on every platform, unlike
 * localeCompare) and each field is written at a fixed width or with a length prefix, so no two
 * different summaries serialise to the same byte stream:
 *   0x03 || u32 count || per entry: u32 pathLen || path || u8 type || f64 size || f64 mtimeMs
 *                                   || u32 mode || u8 rootLen || root
 */
export function folderRoot(entries: readonly FileSummary[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => compareUtf8(a.path, b.path));
  const h = createHash('sha256').update(FOLDER).update(u32(sorted.length));
  for (const e of sorted) {
    const key = Buffer.from(e.path, 'utf8');
    if (e.root.length > 255) throw new RangeError(`root of ${e.path} is ${e.root.length} bytes`);
    const fields = Buffer.alloc(1 + 8 + 8 + 4 + 1);
    fields.writeUInt8(e.type === 'file' ? 0 : 1, 0);
    // +0 folds -0 into 0 so two equal numbers always encode the same way.
    fields.writeDoubleBE(e.size + 0, 1);
    fields.writeDoubleBE(e.mtimeMs + 0, 9);
    fields.writeUInt32BE(e.mode >>> 0, 17);
    fields.writeUInt8(e.root.length, 21);
    h.update(u32(key.length)).update(key).update(fields).update(e.root);
  }
  return h.digest();
}

/** Byte-wise equality; early exit is fine because hashes here are public, not secrets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}
