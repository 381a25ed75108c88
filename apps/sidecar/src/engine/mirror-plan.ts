import type { IgnoreMatcher } from './ignore-rules.js';
import { isInternalPath } from './internal-names.js';
import type { RelPath } from './types.js';
import { compareUtf8 } from '../util/utf8-order.js';

export interface MirrorPlan {
  /** Local files to move to the trash, in path order. */
  trash: RelPath[];
  /** Local-only directories, deepest first: remove each only if it is empty after trashing. */
  emptyDirCandidates: RelPath[];
  /** Set when mirroring must not happen at all; the text says why and what to do. */
  halt?: string;
}

interface Entry {
  path: RelPath;
  type: 'file' | 'dir';
}

/**
 * Decides what --mirror would remove locally so the folder matches the server. Pure: the caller
 * scans both sides, applies the plan with moveToTrash/removeEmptyDirs and reports it.
 *
 * Deliberately conservative, because every mistake here costs the user a file:
 * - ignored and internal paths are never touched (they are not part of the sync at all);
 * - a path whose type differs from the server's, or that sits under such a path, is left for the
 *   pull to report as a conflict;
 * - a path the server has in a different letter case is kept, because on a case-insensitive
 *   disk it is the same file the pull just wrote;
 * - an empty server folder against a non-empty local one halts everything: that is what an
 *   unmounted disk or a wrong path looks like, and mirroring would trash the whole folder;
 * - a path the server could not read, or under such a directory (`unreadable`), is kept: its
 *   absence from the listing says nothing.
 */
export function planMirror(
  remote: readonly Entry[],
  local: readonly Entry[],
  opts: { ignore: IgnoreMatcher; only?: RelPath; unreadable?: (path: RelPath) => boolean },
): MirrorPlan {
  // A single-file sync says nothing about the rest of the folder.
  if (opts.only !== undefined) return { trash: [], emptyDirCandidates: [] };

  const considered = local.filter((e) => !isInternalPath(e.path) && !opts.ignore(e.path, e.type === 'dir'));
  const localFiles = considered.filter((e) => e.type === 'file').length;
  if (remote.length === 0 && localFiles > 0) {
    return {
      trash: [],
      emptyDirCandidates: [],
      halt:
        `the server's folder is empty or missing while the local folder has ${localFiles} file(s) — ` +
        'not mirroring deletes; nothing was moved to the trash. Check that the server is sharing the ' +
        'right folder and that its disk is mounted, then retry, or run without --mirror.',
    };
  }

  const remoteType = new Map<RelPath, 'file' | 'dir'>();
  const remoteFolded = new Set<string>();
  for (const e of remote) {
    remoteType.set(e.path, e.type);
    remoteFolded.add(fold(e.path));
  }

  const trash: RelPath[] = [];
  const dirs: RelPath[] = [];
  for (const e of considered) {
    if (remoteFolded.has(fold(e.path))) continue; // same path (any case), same or other type
    if (underRemoteFile(e.path, remoteType)) continue; // the parent is a type conflict
    if (opts.unreadable?.(e.path)) continue; // unknown on the server, not absent
    if (e.type === 'file') trash.push(e.path);
    else dirs.push(e.path);
  }
  trash.sort(compareUtf8);
  dirs.sort((a, b) => depth(b) - depth(a) || compareUtf8(a, b));
  return { trash, emptyDirCandidates: dirs };
}

/** True if some ancestor of rel is a file on the server (the local one is a directory there). */
function underRemoteFile(rel: RelPath, remoteType: ReadonlyMap<RelPath, 'file' | 'dir'>): boolean {
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) {
    if (remoteType.get(rel.slice(0, i)) === 'file') return true;
  }
  return false;
}

function fold(rel: RelPath): string {
  return rel.toLowerCase();
}

function depth(rel: RelPath): number {
  return rel.split('/').length;
}
