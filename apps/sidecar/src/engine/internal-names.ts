import type { RelPath } from './types.js';

/** Directories leafsync (or git) owns; anything under them is never scanned, served or written. */
const INTERNAL_DIRS = new Set(['.leafsync_tmp', '.leafsync_trash', '.git']);

/**
 * True for paths that are never synced. Compared case-insensitively: on macOS and Windows
 * '.GIT/config' is the same file as '.git/config', so a peer must not reach it by changing case.
 */
export function isInternalPath(rel: RelPath): boolean {
  const segments = rel.split('/');
  for (const segment of segments) {
    if (INTERNAL_DIRS.has(segment.toLowerCase())) return true;
  }
  return isInternalName(segments[segments.length - 1] ?? '');
}

/**
 * isInternalPath for the last name of a path whose parent is not internal: what a scan asks of
 * each entry of a directory it already descended into.
 */
export function isInternalName(name: string): boolean {
  const lower = name.toLowerCase();
  return INTERNAL_DIRS.has(lower) || lower.endsWith('.part');
}
