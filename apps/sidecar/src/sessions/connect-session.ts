import { setTimeout as sleep } from 'node:timers/promises';
import { LocalFolderSource } from '../engine/folder-source.js';
import { lockFolderForWriting } from '../engine/folder-lock.js';
import { IndexCache } from '../engine/index-cache.js';
import { isInternalName } from '../engine/internal-names.js';
import { DirectoryWatch } from '../fs/directory-watch.js';
import type { PassSummary } from '@leafsync/shared';
import { pullPass, scanLocal, type PullEvent, type PullOptions, type PullState } from '../engine/pull.js';
import { RateLimiter } from '../engine/rate-limiter.js';
import type { RelPath } from '../engine/types.js';
import { QuicRemoteFolder } from '../protocol/client-session.js';
import * as z from '../util/schema.js';
import { PairStateFile } from './pair-state.js';
import { withReconnects, type PeerTarget, type ReconnectHooks } from './reconnecting.js';
import { destinationFolder } from './local-paths.js';

/** A local folder synced with a peer: what connect and watch both need. */
export interface FolderSyncOptions extends PeerTarget {
  folder: string;
  file?: RelPath;
  /** Where the index cache and saved sync state live (LEAFSYNC_HOME). */
  home: string;
  mirror?: boolean;
  streams?: number;
  /** Megabits per second across all streams and files. */
  rateMbps?: number;
}

export interface ConnectOptions extends FolderSyncOptions {
  /** Write a large file's changed chunks over it instead of replacing it whole (see in-place-patch). */
  inPlace?: boolean;
}

export interface ConnectHooks extends ReconnectHooks {
  /** Stop after one pass. */
  once?: boolean;
  /** Pause between passes. */
  intervalMs?: number;
  /** Called just before each pass starts (scanning both sides, then transferring). */
  onPassStart?: () => void;
  onPass?: (result: PassSummary) => void;
  onEvent?: (event: PullEvent) => void;
}

/**
 * Pulls the server's folder into `opts.folder`: one pass with `once`, else a pass every
 * interval until the signal aborts. Lost connections are retried with backoff; trust
 * failures are never retried.
 */
export async function runConnect(opts: ConnectOptions, hooks: ConnectHooks = {}): Promise<PassSummary | undefined> {
  const folder = await destinationFolder(opts.folder);
  const lock = await lockFolderForWriting(folder);
  try {
    const cache = IndexCache.open(opts.home, folder, { onWarning: (w) => hooks.onNotice?.(w.message) });
    // Between passes nothing may have changed here: a watched folder is not walked again for that.
    const watch = hooks.once ? undefined : new DirectoryWatch({ ignoreName: isInternalName, ...(hooks.onNotice && { onGiveUp: hooks.onNotice }) });
    try {
      return await connectLoop(opts, hooks, folder, cache, watch);
    } finally {
      watch?.close();
      cache.close();
    }
  } finally {
    await lock.release();
  }
}

async function connectLoop(opts: ConnectOptions, hooks: ConnectHooks, folder: string, cache: IndexCache, watch: DirectoryWatch | undefined): Promise<PassSummary | undefined> {
  const local = new LocalFolderSource(folder, {
    cache,
    ...(watch && { watch }),
    readIgnoreFile: true,
    onWarning: (w) => hooks.onNotice?.(w.message),
    ...(opts.file !== undefined && { only: opts.file }),
  });
  const limiter = opts.rateMbps === undefined ? undefined : RateLimiter.fromMbps(opts.rateMbps);
  let last: PassSummary | undefined;
  // The first pass's look at the local folder runs while the connection is set up (the handshake
  // on a LAN, the round trips across the internet). Only a first attempt's: after a backoff it
  // would be stale. A single pass may find the folder as the last one left it, which its digest
  // says from the thread pool; the scan it needs otherwise starts once the digest is in, so that
  // it still overlaps the round trips, while an unchanged folder's pass ends without waiting for
  // it (bench/README, W5). Passes that follow a watch need its scan. An early scan nothing used
  // is stopped when the session ends, so it never outlives the folder's lock.
  const unused = new AbortController();
  const scan = () => scanLocal(local, unused.signal);
  let early: Pick<PullOptions, 'localScan' | 'quickDigest'> | undefined;
  if (hooks.once) {
    const quickDigest = local.quickDigest();
    early = { quickDigest, localScan: quickDigest.then(scan, scan) };
  } else {
    early = { localScan: scan() };
  }
  const earlyScan = early.localScan;
  // If they fail, the pass that awaits them reports why.
  early.quickDigest?.catch(() => {});
  earlyScan?.catch(() => {});
  let attempts = 0;
  const counting: ConnectHooks = {
    ...hooks,
    onConnecting: () => {
      attempts++;
      hooks.onConnecting?.();
    },
  };
  try {
    await withReconnects(opts, counting, async (link, healthy) => {
      const remote = await QuicRemoteFolder.open(link.conn, { redial: link.redial, ...(opts.file !== undefined && { only: opts.file }) });
      // Kept across runs, so a new `connect --once` over an unchanged folder is one small round trip.
      const saved = PairStateFile.for(opts.home, 'pull', { folder, peer: link.fingerprint, ...(opts.file !== undefined && { scope: opts.file }) }, savedPullState);
      const state = fromSaved(await saved.load((line) => hooks.onNotice?.(line)));
      while (!hooks.signal?.aborted) {
        hooks.onPassStart?.();
        const before = toSaved(state);
        const wireBefore = remote.wireBytes();
        const firstLook = attempts === 1 ? early : undefined;
        early = undefined;
        last = await pullPass(remote, folder, {
          local,
          ...firstLook,
          state,
          ...(opts.mirror && { mirror: true }),
          ...(opts.inPlace && { inPlace: true }),
          ...(limiter && { limiter }),
          ...(hooks.signal && { signal: hooks.signal }),
          ...(opts.file !== undefined && { only: opts.file }),
          ...(opts.streams !== undefined && { streams: opts.streams }),
          ...(hooks.onEvent && { onEvent: hooks.onEvent }),
        });
        last.wireBytes = remote.wireBytes() - wireBefore;
        const after = toSaved(state);
        if (JSON.stringify(after) !== JSON.stringify(before)) await saved.save(after);
        healthy();
        hooks.onPass?.(last);
        if (hooks.once) return;
        await sleep(hooks.intervalMs ?? 2000, undefined, { signal: hooks.signal }).catch(() => {});
      }
    });
  } finally {
    unused.abort();
    await earlyScan?.catch(() => {});
  }
  return last;
}

const savedPullState = z.object({
  remoteRoot: z.optional(z.hexDigest),
  localRoot: z.optional(z.hexDigest),
  localDigest: z.optional(z.hexDigest),
  files: z.optional(z.int().check(z.minimum(0))),
});
type SavedPullState = z.infer<typeof savedPullState>;

function toSaved(state: PullState): SavedPullState {
  const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));
  return {
    ...(state.remoteRoot && { remoteRoot: hex(state.remoteRoot) }),
    ...(state.localRoot && { localRoot: hex(state.localRoot) }),
    ...(state.localDigest && { localDigest: hex(state.localDigest) }),
    ...(state.files !== undefined && { files: state.files }),
  };
}

function fromSaved(saved: SavedPullState | undefined): PullState {
  return {
    ...(saved?.remoteRoot && { remoteRoot: Buffer.from(saved.remoteRoot, 'hex') }),
    ...(saved?.localRoot && { localRoot: Buffer.from(saved.localRoot, 'hex') }),
    ...(saved?.localDigest && { localDigest: Buffer.from(saved.localDigest, 'hex') }),
    ...(saved?.files !== undefined && { files: saved.files }),
  };
}
