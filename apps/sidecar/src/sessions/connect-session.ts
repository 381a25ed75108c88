import { setTimeout as sleep } from 'node:timers/promises';
import { LocalFolderSource } from '../engine/folder-source.js';
import { IndexCache } from '../engine/index-cache.js';
import type { PassSummary } from '@leafsync/shared';
import { pullPass, type PullEvent, type PullState } from '../engine/pull.js';
import { RateLimiter } from '../engine/rate-limiter.js';
import type { RelPath } from '../engine/types.js';
import { QuicRemoteFolder } from '../protocol/client-session.js';
import { withReconnects, type PeerTarget, type ReconnectHooks } from './reconnecting.js';
import { destinationFolder } from './local-paths.js';

export interface ConnectOptions extends PeerTarget {
  folder: string;
  file?: RelPath;
  /** Where the index cache lives (LEAFSYNC_HOME). */
  home: string;
  mirror?: boolean;
  streams?: number;
  /** Megabits per second across all streams and files. */
  rateMbps?: number;
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
  const cache = IndexCache.open(opts.home, folder, { onWarning: (w) => hooks.onNotice?.(w.message) });
  try {
    return await connectLoop(opts, hooks, folder, cache);
  } finally {
    cache.close();
  }
}

async function connectLoop(opts: ConnectOptions, hooks: ConnectHooks, folder: string, cache: IndexCache): Promise<PassSummary | undefined> {
  const local = new LocalFolderSource(folder, { cache, readIgnoreFile: true, ...(opts.file !== undefined && { only: opts.file }) });
  const limiter = opts.rateMbps === undefined ? undefined : RateLimiter.fromMbps(opts.rateMbps);
  const state: PullState = {};
  let last: PassSummary | undefined;
  await withReconnects(opts, hooks, async (pinned, healthy) => {
    const remote = await QuicRemoteFolder.open(pinned.conn, opts.file === undefined ? {} : { only: opts.file });
    while (!hooks.signal?.aborted) {
      hooks.onPassStart?.();
      last = await pullPass(remote, folder, {
        local,
        state,
        ...(opts.mirror && { mirror: true }),
        ...(limiter && { limiter }),
        ...(hooks.signal && { signal: hooks.signal }),
        ...(opts.file !== undefined && { only: opts.file }),
        ...(opts.streams !== undefined && { streams: opts.streams }),
        ...(hooks.onEvent && { onEvent: hooks.onEvent }),
      });
      healthy();
      hooks.onPass?.(last);
      if (hooks.once) return;
      await sleep(hooks.intervalMs ?? 2000, undefined, { signal: hooks.signal }).catch(() => {});
    }
  });
  return last;
}
