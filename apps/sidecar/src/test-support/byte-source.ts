/**
 * Byte sources for the frame reader's tests: given pieces, delivered the way a QUIC stream reads
 * them (never more than the reader has room for, a piece split across reads if it must be). Not
 * imported by production code.
 */
import type { ByteSource } from '../protocol/frame-codec.js';

export interface PiecesSource extends ByteSource {
  /** The memory each read was asked to fill, in order. */
  readonly targets: Uint8Array[];
}

export function piecesSource(pieces: Iterable<Uint8Array>): PiecesSource {
  const queue = [...pieces].filter((p) => p.length > 0);
  const targets: Uint8Array[] = [];
  return {
    targets,
    read(into: Uint8Array): Promise<number> {
      targets.push(into);
      const piece = queue[0];
      if (piece === undefined) return Promise.resolve(0);
      const n = Math.min(piece.length, into.length);
      into.set(piece.subarray(0, n));
      if (n === piece.length) queue.shift();
      else queue[0] = piece.subarray(n);
      return Promise.resolve(n);
    },
  };
}

/** `bytes` cut at `size`-byte intervals. */
export function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}
