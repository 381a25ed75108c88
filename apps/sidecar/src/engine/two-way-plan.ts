import { bytesEqual } from './merkle.js';
import type { FileSummary, RelPath } from './types.js';

/** The root each file had when both sides last agreed on it. */
export type SyncBase = ReadonlyMap<RelPath, Uint8Array>;

export interface TwoWayPlan {
  /** The remote version replaces or creates the local one (remote-only folders are listed too). */
  pull: RelPath[];
  /** The local version replaces or creates the remote one (local-only folders are listed too). */
  push: RelPath[];
  /** Changed on both sides: the local version is kept as a conflict copy (and pushed), the remote one takes the path. */
  conflicts: RelPath[];
  /** Deleted on the remote, unchanged here: goes to the local trash (mirror only). */
  trashLocal: RelPath[];
  /** Deleted here, unchanged on the remote: goes to the remote's trash (mirror only). */
  deleteRemote: RelPath[];
}

/**
 * Decides, for every path either side has, which way it must flow. A side "changed" a file when
 * its root differs from the base (absent counts as a root of its own), so an edit is never taken
 * for a stale copy. Edits always win over deletes; deletes propagate only with `mirror` (else
 * the other side's copy comes back), and then only into a trash. A path either side could not
 * read, or under such a directory (`unreadable`), is left out: its absence there is not a delete,
 * and its base stays for when it can be read again (nextBase keeps it).
 */
export function planTwoWay(
  local: readonly FileSummary[],
  remote: readonly FileSummary[],
  base: SyncBase,
  opts: { mirror: boolean; unreadable?: (path: RelPath) => boolean },
): TwoWayPlan {
  const plan: TwoWayPlan = { pull: [], push: [], conflicts: [], trashLocal: [], deleteRemote: [] };
  const localBy = new Map(local.map((e) => [e.path, e]));
  const remoteBy = new Map(remote.map((e) => [e.path, e]));
  for (const path of new Set([...localBy.keys(), ...remoteBy.keys()])) {
    if (opts.unreadable?.(path)) continue;
    const l = localBy.get(path);
    const r = remoteBy.get(path);
    if (l?.type === 'dir' || r?.type === 'dir') {
      // Folders carry no content: create what the other side lacks; a file/folder clash is left for the pull to report.
      if (l === undefined) plan.pull.push(path);
      else if (r === undefined) plan.push.push(path);
      else if (l.type !== r.type) plan.pull.push(path);
      continue;
    }
    if (sameVersion(l, r)) continue;
    const b = base.get(path);
    const localChanged = !matchesBase(l, b);
    const remoteChanged = !matchesBase(r, b);
    if (!localChanged) {
      if (r !== undefined) plan.pull.push(path);
      else if (opts.mirror) plan.trashLocal.push(path);
      else plan.push.push(path);
    } else if (!remoteChanged) {
      if (l !== undefined) plan.push.push(path);
      else if (opts.mirror) plan.deleteRemote.push(path);
      else plan.pull.push(path);
    } else if (l !== undefined && r !== undefined) {
      plan.conflicts.push(path);
    } else if (r !== undefined) {
      plan.pull.push(path); // deleted here, edited there: the edit survives
    } else {
      plan.push.push(path); // edited here, deleted there: the edit survives
    }
  }
  return plan;
}

export function isEmptyPlan(plan: TwoWayPlan): boolean {
  return Object.values(plan).every((paths: RelPath[]) => paths.length === 0);
}

/**
 * The new base after a cycle: every file both sides now hold in the same version. A file that
 * differs again keeps the last version both held: the one this cycle pushed or pulled (`moved`),
 * else its old base. Without `moved`, a push followed at once by an edit on the other side (before
 * the cycle's closing scan) left the old base, so the next cycle took our pushed version for a
 * local edit and the other side's for a remote one: a conflict copy of a file nobody edited twice.
 */
export function nextBase(local: readonly FileSummary[], remote: readonly FileSummary[], previous: SyncBase, moved: SyncBase = new Map()): Map<RelPath, Uint8Array> {
  const remoteBy = new Map(remote.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const next = new Map<RelPath, Uint8Array>();
  const lastShared = (path: RelPath) => moved.get(path) ?? previous.get(path);
  for (const l of local) {
    if (l.type !== 'file') continue;
    const r = remoteBy.get(l.path);
    if (sameVersion(l, r)) next.set(l.path, l.root);
    else {
      const old = lastShared(l.path);
      if (old !== undefined) next.set(l.path, old);
    }
  }
  // A file only the remote has keeps its base too: it is a delete here still to be decided.
  for (const r of remoteBy.values()) {
    const old = lastShared(r.path);
    if (!next.has(r.path) && old !== undefined) next.set(r.path, old);
  }
  return next;
}

/** Same content (or both absent); metadata does not make a different version. */
export function sameVersion(a: FileSummary | undefined, b: FileSummary | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && bytesEqual(a.root, b.root);
}

function matchesBase(e: FileSummary | undefined, base: Uint8Array | undefined): boolean {
  if (e === undefined || base === undefined) return e === undefined && base === undefined;
  return bytesEqual(e.root, base);
}
