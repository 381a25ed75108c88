import type { RelPath } from './types.js';

/** Directories leafsync (or git) owns; anything under them is never scanned, served or written. */
export const INTERNAL_DIR_NAMES: readonly string[] = ['.leafsync_tmp', '.leafsync_trash', '.git'];
/** Files leafsync is still writing: never scanned, served or written either. */
export const INTERNAL_SUFFIX = '.part';
const INTERNAL_DIRS: ReadonlySet<string> = new Set(INTERNAL_DIR_NAMES);
// The same names as whole segments of a longer path: searched for in the path as one string,
// since splitting and lower-casing each segment cost a scan of 10k files ~20 ms.
const DIRS = INTERNAL_DIR_NAMES;
const AS_FIRST = DIRS.map((d) => `${d}/`);
const AS_LAST = DIRS.map((d) => `/${d}`);
const AS_INNER = DIRS.map((d) => `/${d}/`);

/**
 * True for paths that are never synced. Compared case-insensitively: on macOS and Windows
 * '.GIT/config' is the same file as '.git/config', so a peer must not reach it by changing case.
 */
export function isInternalPath(rel: RelPath): boolean {
  const lower = rel.toLowerCase();
  if (lower.endsWith(INTERNAL_SUFFIX)) return true;
  for (let i = 0; i < DIRS.length; i++) {
    if (lower === DIRS[i] || lower.startsWith(AS_FIRST[i]!) || lower.endsWith(AS_LAST[i]!) || lower.includes(AS_INNER[i]!)) return true;
  }
  return false;
}

/**
 * isInternalPath for the last name of a path whose parent is not internal: what a scan asks of
 * each entry of a directory it already descended into.
 */
export function isInternalName(name: string): boolean {
  const lower = name.toLowerCase();
  return INTERNAL_DIRS.has(lower) || lower.endsWith(INTERNAL_SUFFIX);
}
