import { relative, sep } from 'node:path';
import { watch } from 'chokidar';
import type { WatchCycleSummary } from '@leafsync/shared';
import { LocalFolderSource } from '../engine/folder-source.js';
import { IndexCache } from '../engine/index-cache.js';
import { isInternalPath } from '../engine/internal-names.js';
import type { PullEvent } from '../engine/pull.js';
import { RateLimiter } from '../engine/rate-limiter.js';
import type { RelPath, RemoteFolder } from '../engine/types.js';
import { QuicRemoteFolder } from '../protocol/client-session.js';
import { serveConnection } from '../protocol/server-session.js';
import { ChangeDebouncer } from './change-debouncer.js';
import { destinationFolder } from './local-paths.js';
import { lockFolderForWriting } from '../engine/folder-lock.js';
import type { FolderSyncOptions } from './connect-session.js';
import { withReconnects, type ReconnectHooks } from './reconnecting.js';
import { SyncBaseStore } from './sync-base-store.js';
import type { QuicConnection } from '../transport/types.js';
import { runWatchCycle } from './watch-cycle.js';

/** `rateMbps` holds for what we fetch and for what we serve to the server. */
export interface WatchOptions extends FolderSyncOptions {
  /** Pull remote changes at least this often. */
  pullIntervalMs: number;
  /** Quiet time after the last local change before pushing. */
  debounceMs: number;
}

export interface WatchHooks extends ReconnectHooks {
  /** Called as each cycle starts (scanning both sides, then transferring). */
  onCycleStart?: (trigger: WatchCycleSummary['trigger']) => void;
  onCycle?: (summary: WatchCycleSummary) => void;
  onEvent?: (event: PullEvent) => void;
}

/**
 * Two-way sync of a folder (or one file) with a server that allows our pushes: a cycle right
 * after connecting, after every burst of local changes, and every pull interval, until the
 * signal aborts. Connections are retried with backoff like `connect`.
 */
export async function runWatch(opts: WatchOptions, hooks: WatchHooks = {}): Promise<void> {
  const folder = await destinationFolder(opts.folder);
  const lock = await lockFolderForWriting(folder);
  try {
    await watchFolder(opts, hooks, folder);
  } finally {
    await lock.release();
  }
}

async function watchFolder(opts: WatchOptions, hooks: WatchHooks, folder: string): Promise<void> {
  const cache = IndexCache.open(opts.home, folder, { onWarning: (w) => hooks.onNotice?.(w.message) });
  const local = new LocalFolderSource(folder, {
    cache,
    readIgnoreFile: true,
    onWarning: (w) => hooks.onNotice?.(w.message),
    ...(opts.file !== undefined && { only: opts.file }),
  });
  const limiter = opts.rateMbps === undefined ? undefined : RateLimiter.fromMbps(opts.rateMbps);
  const changes = new ChangeDebouncer(opts.debounceMs);
  const watcher = watch(folder, { ignoreInitial: true, ignored: (abs: string) => !isWatched(folder, abs, opts.file) });
  watcher.on('all', () => changes.touch());
  watcher.on('error', (err) => hooks.onNotice?.(`watching ${folder} failed (${(err as Error).message}); changes are still picked up every ${opts.pullIntervalMs / 1000} s`));
  try {
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    await withReconnects(opts, hooks, async (link, healthy) => {
      // The server fetches what we push from us, over streams it opens on our connection.
      const serve = (conn: QuicConnection) =>
        void serveConnection(conn, { source: limiter ? rateLimited(local, limiter, hooks.signal) : local, ...(opts.file !== undefined && { servedFile: opts.file }), ...(hooks.onNotice && { log: hooks.onNotice }) }).catch(() => undefined);
      serve(link.conn);
      const redial = async () => {
        const conn = await link.redial();
        serve(conn);
        return conn;
      };
      const remote = await QuicRemoteFolder.open(link.conn, { mode: 'push', redial, ...(opts.file !== undefined && { only: opts.file }) });
      const store = SyncBaseStore.forPair(opts.home, folder, link.fingerprint, opts.file);
      let base = await store.load((line) => hooks.onNotice?.(line));
      let trigger: WatchCycleSummary['trigger'] = 'start';
      for (;;) {
        hooks.onCycleStart?.(trigger);
        const cycle = await runWatchCycle(
          {
            remote,
            local,
            folder,
            mirror: opts.mirror === true,
            fingerprint: opts.identity.fingerprint,
            ...(opts.file !== undefined && { only: opts.file }),
            ...(opts.streams !== undefined && { streams: opts.streams }),
            ...(limiter && { limiter }),
            ...(hooks.signal && { signal: hooks.signal }),
            ...(hooks.onEvent && { onEvent: hooks.onEvent }),
          },
          base,
          trigger,
        );
        base = cycle.base;
        await store.save(base);
        healthy();
        hooks.onCycle?.(cycle.summary);
        const next = await changes.next(opts.pullIntervalMs, hooks.signal);
        if (next === 'stop') return;
        trigger = next;
      }
    });
  } finally {
    changes.close();
    await watcher.close();
    cache.close();
  }
}

/** Internal names never trigger a cycle; with --file only that file (and the folders down to it) is watched. */
function isWatched(folder: string, abs: string, only: RelPath | undefined): boolean {
  const rel = relative(folder, abs).split(sep).join('/');
  if (rel === '') return true;
  if (isInternalPath(rel)) return false;
  return only === undefined || only === rel || only.startsWith(`${rel}/`);
}

/** What we serve for our pushes, held to the same rate limit as what we fetch. */
function rateLimited(source: RemoteFolder, limiter: RateLimiter, signal: AbortSignal | undefined): RemoteFolder {
  return {
    summary: (req) => source.summary(req),
    chunkHashes: (path, expected) => source.chunkHashes(path, expected),
    fetchChunks: (path, indices, onChunk) =>
      source.fetchChunks(path, indices, async (index, data) => {
        await limiter.take(data.length, signal);
        await onChunk(index, data);
      }),
  };
}
