import { mkdir, rename, rmdir } from 'node:fs/promises';
import { InternalPathError, NotFoundError, NotRegularFileError, TrashError, UnsafePathError } from './errors.js';
import { isInternalPath } from './internal-names.js';
import { resolveInside, validateRelPath } from './safe-path.js';
import type { RelPath } from './types.js';
import { errCode, lstatOrNull } from '../fs/fs-errors.js';

/** Where mirror puts local-only files instead of deleting them. Internal, so never synced. */
export const TRASH_DIR = '.leafsync_trash';

/** How many "name (n).ext" variants to try before giving up on one stamp directory. */
const MAX_SUFFIX = 1000;
const SAFE_STAMP = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * One trash folder name per run, e.g. '20261125-091503Z'. UTC so peers and logs agree, digits
 * first so names sort by time, and no ':' because Windows forbids it in file names.
 */
export function trashStamp(now: Date): string {
  const iso = now.toISOString(); // 2026-11-25T09:15:03.123Z
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}Z`;
}

/**
 * Moves <root>/<rel> to <root>/.leafsync_trash/<stamp>/<rel> with a rename, so the bytes are
 * never copied and there is no moment where the file exists nowhere. Both ends go through
 * resolveInside, so a symlinked parent or a symlinked trash folder cannot redirect the move
 * outside the folder. An existing trash entry is never replaced: the new one gets a " (n)"
 * suffix. Returns the absolute trash path.
 */
export async function moveToTrash(rootAbs: string, rel: RelPath, stamp: string): Promise<string> {
  const valid = validateRelPath(rel);
  if (isInternalPath(valid)) throw new InternalPathError(valid);
  if (!SAFE_STAMP.test(stamp)) throw new UnsafePathError(stamp, 'trash stamp must be a single plain name');
  const from = await resolveInside(rootAbs, valid);
  const st = lstatOrNull(from);
  if (st === null) throw new NotFoundError(valid);
  // Only what the scanner lists is planned; anything else means the folder changed under us.
  if (!st.isFile()) throw new NotRegularFileError(valid, st.isDirectory() ? 'a directory' : 'a symlink or special file');

  for (let dirAttempt = 0; dirAttempt < MAX_SUFFIX; dirAttempt++) {
    // A file in an earlier trash run of the same second can sit where we need a directory
    // (trashed 'a', now trashing 'a/b'); then the whole move goes to a sibling stamp folder.
    const stampDir = dirAttempt === 0 ? stamp : `${stamp}-${dirAttempt}`;
    const parentRel = parentOrUndefined(`${TRASH_DIR}/${stampDir}/${valid}`) ?? TRASH_DIR;
    const parentAbs = await resolveInside(rootAbs, parentRel);
    try {
      await mkdir(parentAbs, { recursive: true });
    } catch (err) {
      if (errCode(err) === 'EEXIST' || errCode(err) === 'ENOTDIR') continue;
      throw err;
    }
    for (let n = 0; n < MAX_SUFFIX; n++) {
      const destRel = `${parentRel}/${withSuffix(baseName(valid), n)}`;
      const dest = await resolveInside(rootAbs, destRel);
      // rename() silently replaces an existing file, so check first. Only another leafsync run
      // on this folder in the same second could race this, and it would pick the same suffixes.
      if ((lstatOrNull(dest)) !== null) continue;
      await rename(from, dest);
      return dest;
    }
  }
  throw new TrashError(valid, `no free name under ${TRASH_DIR}/${stamp} after ${MAX_SUFFIX} attempts`);
}

/**
 * Removes each listed directory if it is empty, then its ancestors while they become empty,
 * stopping below the root. A directory with anything left in it (an ignored file, a file the
 * user added meanwhile) stays. Internal directories and anything in `keep` (directories the
 * peer still has) are never removed and stop the climb. Returns what was removed, in order.
 */
export async function removeEmptyDirs(
  rootAbs: string,
  rels: RelPath[],
  opts?: { keep?: ReadonlySet<RelPath> },
): Promise<RelPath[]> {
  const removed: RelPath[] = [];
  const gone = new Set<RelPath>();
  for (const rel of rels) {
    for (let cur: RelPath | undefined = validateRelPath(rel); cur !== undefined; cur = parentOrUndefined(cur)) {
      if (isInternalPath(cur) || opts?.keep?.has(cur) === true) break;
      if (gone.has(cur)) continue; // removed via an earlier chain; its parent may be empty now
      const abs = await resolveInside(rootAbs, cur);
      const st = lstatOrNull(abs);
      if (st === null) continue; // already gone: its parent may still be empty
      if (!st.isDirectory()) break; // rmdir never follows a symlink, but be explicit
      try {
        await rmdir(abs);
      } catch (err) {
        const code = errCode(err);
        // Some Unixes say EEXIST for a non-empty directory.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') break;
        if (code === 'ENOENT') continue;
        throw err;
      }
      removed.push(cur);
      gone.add(cur);
    }
  }
  return removed;
}

function parentOrUndefined(rel: RelPath): RelPath | undefined {
  const i = rel.lastIndexOf('/');
  return i === -1 ? undefined : rel.slice(0, i);
}

function baseName(rel: RelPath): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/** 'report.txt' → 'report (2).txt'; a leading dot is part of the name, not an extension. */
function withSuffix(name: string, n: number): string {
  if (n === 0) return name;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `${name} (${n})`;
  return `${name.slice(0, dot)} (${n})${name.slice(dot)}`;
}

