import { setTimeout as sleep } from 'node:timers/promises';
import { connectPinned, type PinnedConnection, type TrustPolicy } from '../transport/pinned-connect.js';
import type { TrustStore } from '../transport/trust-store.js';
import type { HostPort, Identity, QuicConnection } from '../transport/types.js';
import type { CongestionControl } from '@leafsync/shared/transport';

export interface PeerTarget {
  target: HostPort;
  trust: TrustStore;
  policy: TrustPolicy;
  identity: Identity;
  handshakeTimeoutMs?: number;
  /** Largest UDP payload we send (1350 fits every path; more only where the path carries it). */
  datagramSize?: number;
  /** Congestion control for what we send (a push's data); default CUBIC. */
  congestion?: CongestionControl;
}

export interface ReconnectHooks {
  /** Give up at the first failure instead of retrying (one-shot commands). */
  once?: boolean;
  signal?: AbortSignal;
  /** Called before each connection attempt (the first one and every reconnect). */
  onConnecting?: () => void;
  onConnected?: (info: { address: string; fingerprint: string; newlyPinned: boolean }) => void;
  onNotice?: (line: string) => void;
}

/** A pinned connection to the peer, and the way to more connections to the same peer. */
export interface PeerLink extends PinnedConnection {
  /**
   * A new connection to the same peer, which must present the certificate `conn` did, to
   * replace one whose answers kept stalling (the user is told). Every connection of the link
   * still open when the session ends is closed then.
   */
  redial(): Promise<QuicConnection>;
}

/** Errors that retrying cannot fix: the user has to act (trust, bad folder, incompatible peer). */
function isFatal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return ['UNTRUSTED_SERVER', 'FINGERPRINT_MISMATCH', 'FOLDER', 'PROTOCOL', 'VERSION', 'NOT_SERVED', 'UNSAFE_PATH', 'INVALID_FINGERPRINT', 'NOT_AUTHORISED', 'READ_ONLY'].includes(String(code));
}

/**
 * Runs `session` on a pinned connection to the peer, reconnecting with backoff whenever the
 * connection or the session fails, until the session returns or the signal aborts. The session
 * calls `healthy()` after real progress (a completed pass); only that resets the backoff, so a
 * peer that accepts handshakes but fails every session is not hammered with reconnects.
 * Trust failures and other fatal errors are never retried.
 */
export async function withReconnects(peer: PeerTarget, hooks: ReconnectHooks, session: (link: PeerLink, healthy: () => void) => Promise<void>): Promise<void> {
  let backoffMs = 1000;
  const backOff = async (reason: string) => {
    hooks.onNotice?.(`${reason}; retrying in ${Math.round(backoffMs / 1000)} s`);
    await sleep(backoffMs, undefined, { signal: hooks.signal }).catch(() => {});
    backoffMs = Math.min(backoffMs * 2, 30_000);
  };
  const connectOptions = {
    identity: peer.identity,
    ...(peer.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: peer.handshakeTimeoutMs }),
    ...(peer.datagramSize !== undefined && { maxDatagramSize: peer.datagramSize }),
    ...(peer.congestion !== undefined && { congestion: peer.congestion }),
  };
  while (!hooks.signal?.aborted) {
    let pinned: PinnedConnection;
    hooks.onConnecting?.();
    try {
      pinned = await connectPinned(peer.target, peer.trust, peer.policy, connectOptions);
    } catch (err) {
      if (hooks.once || isFatal(err)) throw err;
      await backOff((err as Error).message);
      continue;
    }
    hooks.onConnected?.(pinned);
    const open = new Set([pinned.conn]);
    const link: PeerLink = {
      ...pinned,
      redial: async () => {
        const stalling = `answers from ${pinned.address} kept stalling on this connection`;
        let again: PinnedConnection;
        try {
          again = await connectPinned(peer.target, peer.trust, { fingerprint: pinned.fingerprint }, connectOptions);
        } catch (err) {
          hooks.onNotice?.(`${stalling}, and a new one could not be opened (${(err as Error).message}); staying on it`);
          throw err;
        }
        hooks.onNotice?.(`${stalling}; continuing on a new one`);
        open.add(again.conn);
        void again.conn.closed.then(() => open.delete(again.conn));
        return again.conn;
      },
    };
    let lost: Error | undefined;
    try {
      await session(link, () => {
        backoffMs = 1000;
      });
      return;
    } catch (err) {
      // Ctrl-C mid-pass: staging and bitmaps are already saved for a resume; stopping is success.
      if (hooks.signal?.aborted) return;
      if (hooks.once || isFatal(err)) throw err;
      lost = err as Error;
    } finally {
      await Promise.all([...open].map((conn) => conn.close()));
    }
    await backOff(`lost the connection to ${pinned.address} (${lost.message})`);
  }
}
