import { lstatOrNull } from '../fs/fs-errors.js';
import { LocalChangedError } from './errors.js';
import type { RelPath } from './types.js';

/** What the destination looked like when the pass decided to replace it; undefined = it did not exist. */
export type DestBefore = { size: number; mtimeMs: number } | undefined;

/**
 * Refuses to replace a destination that changed since the pass scanned it: an edit made while
 * the new version was being fetched must win over that version, never be overwritten by it.
 */
export async function assertDestUnchanged(rel: RelPath, destAbs: string, before: DestBefore): Promise<void> {
  const st = lstatOrNull(destAbs);
  if (st === null && before === undefined) return;
  if (st !== null && before !== undefined && st.isFile() && st.size === before.size && Math.floor(st.mtimeMs) === before.mtimeMs) return;
  throw new LocalChangedError(rel);
}
