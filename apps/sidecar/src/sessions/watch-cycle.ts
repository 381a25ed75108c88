import { rename } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { ConflictCopy, WatchCycleSummary } from '@leafsync/shared';
import { conflictCopyPath } from '../engine/conflict-name.js';
import { assertDestUnchanged } from '../engine/dest-guard.js';
import type { LocalFolderSource } from '../engine/folder-source.js';
import { acceptedEntries, localSummary, pullPass, toFailure, type PullEvent } from '../engine/pull.js';
import type { RateLimiter } from '../engine/rate-limiter.js';
import { InsideRoot } from '../engine/safe-path.js';
import { moveToTrash, trashStamp } from '../engine/trash.js';
import { isEmptyPlan, nextBase, planTwoWay, sameVersion, type SyncBase } from '../engine/two-way-plan.js';
import type { FileSummary, FolderSummary, RelPath, RemoteFolder } from '../engine/types.js';
import { localUnreadable, remoteUnreadable } from '../engine/unreadable.js';
import { lstatOrNull } from '../fs/fs-errors.js';
import type { QuicRemoteFolder } from '../protocol/client-session.js';

export interface CycleContext {
  /** The server, opened in push mode. */
  remote: QuicRemoteFolder;
  /** This side's folder; the same instance is served to the server so it can fetch what we push. */
  local: LocalFolderSource;
  folder: string;
  only?: RelPath;
  mirror: boolean;
  streams?: number;
  limiter?: RateLimiter;
  signal?: AbortSignal;
  /** Our own fingerprint: conflict copies are named after the peer whose version they hold. */
  fingerprint: string;
  onEvent?: (event: PullEvent) => void;
}

const NO_ROOT = new Uint8Array(0);
/** Pushes in flight at once; each is small work on the server, so a few overlap round trips well. */
const PUSHES_IN_FLIGHT = 8;

/**
 * One two-way cycle: compare both sides with the last synced base, keep both versions of what
 * changed on both sides, pull what changed there, push what changed here, and (with mirror)
 * send deletes to a trash. Returns the summary and the new base; per-file failures are
 * reported, never thrown, and leave both copies of that file as they were.
 */
export async function runWatchCycle(ctx: CycleContext, base: SyncBase, trigger: WatchCycleSummary['trigger']): Promise<{ summary: WatchCycleSummary; base: Map<RelPath, Uint8Array> }> {
  const started = performance.now();
  const summary: WatchCycleSummary = {
    trigger,
    files: 0,
    filesPulled: 0,
    chunksFetched: 0,
    bytesFetched: 0,
    filesPushed: 0,
    chunksPushed: 0,
    bytesPushed: 0,
    conflicts: [],
    filesTrashed: 0,
    remoteTrashed: 0,
    failures: [],
    elapsedMs: 0,
  };
  const fail = (path: RelPath, err: unknown) => summary.failures.push(toFailure(path, err));
  const scan = async () => {
    const [here, there] = await Promise.all([localSummary(ctx.local), ctx.remote.summary()]);
    return { here, there, remoteEntries: acceptedEntries(there.entries, ctx.only, fail) };
  };

  const first = await scan();
  const plan = planTwoWay(first.here.entries, first.remoteEntries, base, { mirror: ctx.mirror, unreadable: unreadableOnEitherSide(first, fail) });
  let after = first;
  /** The version of each file this cycle pushed or pulled: both sides held it then (see nextBase). */
  const moved = new Map<RelPath, Uint8Array>();
  if (!isEmptyPlan(plan)) {
    const localBy = new Map(first.here.entries.map((e) => [e.path, e]));
    const remoteBy = new Map(first.remoteEntries.map((e) => [e.path, e]));
    const paths = new InsideRoot(ctx.folder);
    const pushes: FileSummary[] = plan.push.flatMap((p) => localBy.get(p) ?? []);

    // Both changed: set the local version aside under its conflict name first, so the pull can take the path.
    const expectedHere = new Map<RelPath, FileSummary | undefined>(plan.pull.map((p) => [p, localBy.get(p)]));
    const now = new Date();
    for (const path of plan.conflicts) {
      try {
        const mine = localBy.get(path)!;
        const copy = await keepConflictCopy(paths, mine, conflictCopyPath(path, now, ctx.fingerprint));
        summary.conflicts.push({ path, copy } satisfies ConflictCopy);
        expectedHere.set(path, undefined);
        pushes.push({ ...mine, path: copy });
      } catch (err) {
        fail(path, err);
      }
    }

    if (expectedHere.size > 0) {
      // The listing we planned with, so the pass does not ask for it again.
      const planned: RemoteFolder = {
        summary: async () => first.there,
        chunkHashes: (p, expected) => ctx.remote.chunkHashes(p, expected),
        fetchChunks: (p, indices, onChunk) => ctx.remote.fetchChunks(p, indices, onChunk),
      };
      const pulled = await pullPass(planned, ctx.folder, {
        local: ctx.local,
        // Only what was planned, and only if the local file is still the one planned with.
        select: (r, l) => expectedHere.has(r.path) && sameVersion(l, expectedHere.get(r.path)),
        ...(ctx.only !== undefined && { only: ctx.only }),
        ...(ctx.streams !== undefined && { streams: ctx.streams }),
        ...(ctx.limiter && { limiter: ctx.limiter }),
        ...(ctx.signal && { signal: ctx.signal }),
        onEvent: (e) => {
          const landed = (e.kind === 'file-done' || e.kind === 'file-unchanged') && remoteBy.get(e.path);
          if (landed) moved.set(landed.path, landed.root);
          ctx.onEvent?.(e);
        },
      });
      summary.filesPulled = pulled.filesChanged;
      summary.chunksFetched = pulled.chunksFetched;
      summary.bytesFetched = pulled.bytesFetched;
      // The first scan already reported remote paths it refused.
      for (const f of pulled.failures) if (!summary.failures.some((g) => g.path === f.path)) summary.failures.push(f);
    }

    const stamp = trashStamp(now);
    for (const path of plan.trashLocal) {
      try {
        await assertDestUnchanged(path, await paths.resolve(path), localBy.get(path));
        await moveToTrash(ctx.folder, path, stamp);
        summary.filesTrashed++;
      } catch (err) {
        fail(path, err);
      }
    }

    // Folders first (shallow before deep) so files land in them; then files, a few at a time.
    pushes.sort((a, b) => (a.type === b.type ? a.path.length - b.path.length : a.type === 'dir' ? -1 : 1));
    const folders = pushes.filter((e) => e.type === 'dir');
    for (const entry of folders) await push(entry);
    const slots = pLimit(PUSHES_IN_FLIGHT);
    await Promise.all(pushes.filter((e) => e.type === 'file').map((entry) => slots(() => push(entry))));

    for (const path of plan.deleteRemote) {
      try {
        await ctx.remote.remove(path, remoteBy.get(path)!.root);
        summary.remoteTrashed++;
      } catch (err) {
        fail(path, err);
      }
    }
    after = await scan();

    async function push(entry: FileSummary): Promise<void> {
      if (ctx.signal?.aborted) return;
      try {
        const result = await ctx.remote.push(entry, remoteBy.get(entry.path)?.root ?? NO_ROOT);
        if (entry.type === 'file') {
          summary.filesPushed++;
          moved.set(entry.path, entry.root);
        }
        summary.chunksPushed += result.chunks;
        summary.bytesPushed += result.bytes;
      } catch (err) {
        fail(entry.path, err);
      }
    }
  }
  summary.files = after.here.entries.filter((e) => e.type === 'file').length;
  summary.elapsedMs = Math.round(performance.now() - started);
  return { summary, base: nextBase(after.here.entries, after.remoteEntries, base, moved) };
}

/** Paths either side could not read, each reported as a failure of the cycle. */
function unreadableOnEitherSide(sides: { here: FolderSummary; there: FolderSummary }, fail: (path: RelPath, err: unknown) => void): (path: RelPath) => boolean {
  const underHere = localUnreadable(sides.here.unreadable, fail);
  const underThere = remoteUnreadable(sides.there.unreadable, fail);
  return (path) => underHere(path) || underThere(path);
}

/** Renames our version aside (never over an existing name), if it is still the version we planned with. */
async function keepConflictCopy(paths: InsideRoot, mine: FileSummary, copy: RelPath): Promise<RelPath> {
  const from = await paths.resolve(mine.path);
  let name = copy;
  for (let n = 2; (lstatOrNull(await paths.resolve(name))) !== null; n++) name = `${copy}-${n}`;
  await assertDestUnchanged(mine.path, from, mine);
  await rename(from, await paths.resolve(name));
  return name;
}
