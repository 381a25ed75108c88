import { UnlistedFolderError } from './errors.js';
import { validateRelPath } from './safe-path.js';
import type { RelPath } from './types.js';

/**
 * Whether a path is one of the unlisted directories `dirs` or lies under one, in any letter case
 * (on a case-insensitive disk `Photos/x` is under an unlisted `photos`). What this accepts is
 * unknown on the side that could not list it: never trashed, deleted or pushed over because of
 * its absence there.
 */
export function underUnlisted(dirs: readonly RelPath[]): (path: RelPath) => boolean {
  if (dirs.length === 0) return () => false;
  const folded = new Set(dirs.map((d) => d.toLowerCase()));
  return (path) => {
    const p = path.toLowerCase();
    if (folded.has(p)) return true;
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) if (folded.has(p.slice(0, i))) return true;
    return false;
  };
}

/**
 * The server's unlisted directories, each proven a safe relative path and reported through `fail`
 * as what it is: a part of the folder that was not synced. One that is not a safe path is
 * reported as such and makes the whole folder unknown, so that nothing is trashed on its account.
 */
export function remoteUnlisted(dirs: readonly string[] | undefined, fail: (path: RelPath, err: unknown) => void): (path: RelPath) => boolean {
  const valid: RelPath[] = [];
  let unsafe = false;
  for (const dir of dirs ?? []) {
    try {
      const path = validateRelPath(dir);
      valid.push(path);
      fail(path, new UnlistedFolderError(path, 'server'));
    } catch (err) {
      fail(dir, err);
      unsafe = true;
    }
  }
  return unsafe ? () => true : underUnlisted(valid);
}
