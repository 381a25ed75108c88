import { UnreadableError } from './errors.js';
import { validateRelPath } from './safe-path.js';
import type { RelPath } from './types.js';

/**
 * Whether a path is one of the unreadable paths `unreadable` (files or directories) or lies under
 * one, in any letter case (on a case-insensitive disk `Photos/x` is under an unreadable `photos`).
 * What this accepts is unknown on the side that could not read it: never trashed, deleted or
 * written over because of its absence there.
 */
export function underUnreadable(unreadable: readonly RelPath[]): (path: RelPath) => boolean {
  if (unreadable.length === 0) return () => false;
  const folded = new Set(unreadable.map((d) => d.toLowerCase()));
  return (path) => {
    const p = path.toLowerCase();
    if (folded.has(p)) return true;
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) if (folded.has(p.slice(0, i))) return true;
    return false;
  };
}

/**
 * The server's unreadable paths, each proven a safe relative path and reported through `fail` as
 * what it is: a part of the folder that was not synced. One that is not a safe path is reported
 * as such and makes the whole folder unknown, so that nothing is trashed on its account.
 */
export function remoteUnreadable(unreadable: readonly string[] | undefined, fail: (path: RelPath, err: unknown) => void): (path: RelPath) => boolean {
  const valid: RelPath[] = [];
  let unsafe = false;
  for (const named of unreadable ?? []) {
    try {
      const path = validateRelPath(named);
      valid.push(path);
      fail(path, new UnreadableError(path, 'server'));
    } catch (err) {
      fail(named, err);
      unsafe = true;
    }
  }
  return unsafe ? () => true : underUnreadable(valid);
}

/** This side's unreadable paths (its own summary's), each reported through `fail`. */
export function localUnreadable(unreadable: readonly RelPath[] | undefined, fail: (path: RelPath, err: unknown) => void): (path: RelPath) => boolean {
  for (const path of unreadable ?? []) fail(path, new UnreadableError(path, 'here'));
  return underUnreadable(unreadable ?? []);
}
