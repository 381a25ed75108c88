import { bytesEqual } from './merkle.js';

/**
 * Chunk indices to fetch so the local file matches the remote one: every i where the local
 * chunk is missing or differs. Local chunks past the remote's end are simply cut off by the
 * final truncate, so a shrink alone fetches nothing. Ascending, so staging writes run forward.
 */
export function chunksToFetch(remote: readonly Uint8Array[], local: readonly Uint8Array[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < remote.length; i++) {
    const l = local[i];
    if (l === undefined || !bytesEqual(remote[i] as Uint8Array, l)) out.push(i);
  }
  return out;
}
