import { setTimeout as sleep } from 'node:timers/promises';
import { LocalFolderSource } from '../engine/folder-source.js';
import { IndexCache } from '../engine/index-cache.js';
import type { PassSummary } from '@leafsync/shared';
import { pullPass, type PullEvent, type PullState } from '../engine/pull.js';
import { RateLimiter } from '../engine/rate-limiter.js';
import type { RelPath } from '../engine/types.js';
import { QuicRemoteFolder } from '../protocol/client-session.js';
import { connectPinned, type TrustPolicy } from '../transport/pinned-connect.js';
import type { TrustStore } from '../transport/trust-store.js';
import type { HostPort, Identity } from '../transport/types.js';
import { destinationFolder } from './local-paths.js';

export interface ConnectOptions {
  target: HostPort;
  folder: string;
  file?: RelPath;
  trust: TrustStore;
  policy: TrustPolicy;
  identity: Identity;
  /** Where the index cache lives (LEAFSYNC_HOME). */
  home: string;
  mirror?: boolean;
  streams?: number;
  /** Megabits per second across all streams and files. */
  rateMbps?: number;
  handshakeTimeoutMs?: number;
  /** Largest UDP payload we send (1350 fits every path; more only where the path carries it). */
  datagramSize?: number;
}

export interface ConnectHooks {
  /** Stop after one pass. */
  once?: boolean;
  /** Pause between passes. */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Called before each connection attempt (the first one and every reconnect). */
  onConnecting?: () => void;
  onConnected?: (info: { address: string; fingerprint: string; newlyPinned: boolean }) => void;
  /** Called just before each pass starts (scanning both sides, then transferring). */
  onPassStart?: () => void;
  onPass?: (result: PassSummary) => void;
  onEvent?: (event: PullEvent) => void;
  onNotice?: (line: string) => void;
}

/** Errors that retrying cannot fix: the user has to act (trust, bad folder, incompatible peer). */
function isFatal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return ['UNTRUSTED_SERVER', 'FINGERPRINT_MISMATCH', 'FOLDER', 'PROTOCOL', 'VERSION', 'NOT_SERVED', 'UNSAFE_PATH', 'INVALID_FINGERPRINT'].includes(String(code));
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
  // Every failure waits before the next attempt, doubling up to 30 s; only a completed pass
  // resets it. A server that accepts handshakes but fails each session at once would otherwise
  // be hammered with reconnects as fast as the CPU allows.
  let backoffMs = 1000;
  const backOff = async (reason: string) => {
    hooks.onNotice?.(`${reason}; retrying in ${Math.round(backoffMs / 1000)} s`);
    await sleep(backoffMs, undefined, { signal: hooks.signal }).catch(() => {});
    backoffMs = Math.min(backoffMs * 2, 30_000);
  };
  while (!hooks.signal?.aborted) {
    let pinned;
    hooks.onConnecting?.();
    try {
      pinned = await connectPinned(opts.target, opts.trust, opts.policy, {
        identity: opts.identity,
        ...(opts.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: opts.handshakeTimeoutMs }),
        ...(opts.datagramSize !== undefined && { maxDatagramSize: opts.datagramSize }),
      });
    } catch (err) {
      if (hooks.once || isFatal(err)) throw err;
      await backOff((err as Error).message);
      continue;
    }
    hooks.onConnected?.(pinned);
    let lost: Error | undefined;
    try {
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
        backoffMs = 1000;
        hooks.onPass?.(last);
        if (hooks.once) return last;
        await sleep(hooks.intervalMs ?? 2000, undefined, { signal: hooks.signal }).catch(() => {});
      }
    } catch (err) {
      // Ctrl-C mid-pass: staging and bitmaps are already saved for a resume; stopping is success.
      if (hooks.signal?.aborted) break;
      if (hooks.once || isFatal(err)) throw err;
      lost = err as Error;
    } finally {
      await pinned.conn.close();
    }
    if (lost) await backOff(`lost the connection to ${pinned.address} (${lost.message})`);
  }
  return last;
}
