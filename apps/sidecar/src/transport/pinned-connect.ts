import type { HostPort, Identity, QuicConnection } from './types.js';
import { connectQuic } from './quic-client.js';
import type { CongestionControl } from '@leafsync/shared/transport';
import { fingerprintOf } from './identity.js';
import { formatHostPort } from './address.js';
import { normaliseFingerprint, type TrustStore } from './trust-store.js';

export interface TrustPolicy {
  /** Pin the server's fingerprint if nothing is pinned for this address yet (trust on first use). */
  acceptFirst?: boolean;
  /** The fingerprint the user expects; the server must present exactly this one. */
  fingerprint?: string;
}

export class UntrustedServerError extends Error {
  readonly code = 'UNTRUSTED_SERVER';
  constructor(readonly address: string, readonly presented: string) {
    super(
      `${address} is not a trusted server yet. It presented fingerprint ${presented}. ` +
        `Compare it with what \`leafsync id\` prints on the server, then run again with --accept-first or --fingerprint ${presented}.`,
    );
  }
}

export class FingerprintMismatchError extends Error {
  readonly code = 'FINGERPRINT_MISMATCH';
  constructor(readonly address: string, readonly expected: string, readonly presented: string, readonly pinned: boolean) {
    super(
      `refusing ${address}: it presented fingerprint ${presented}, but ${pinned ? 'the pinned' : 'the expected'} fingerprint is ${expected}. ` +
        (pinned
          ? `If the server's identity really changed, check the new fingerprint with its owner, then run \`leafsync trust remove ${address}\` and connect again. Nothing was synced.`
          : 'Nothing was synced.'),
    );
  }
}

export interface PinnedConnection {
  conn: QuicConnection;
  address: string;
  fingerprint: string;
  /** True if this connection pinned the server for the first time. */
  newlyPinned: boolean;
}

/**
 * Connects and proves the server is the one the user trusts, before any application data:
 * the presented leaf certificate's SHA-256 must equal the pinned or given fingerprint.
 */
export async function connectPinned(
  target: HostPort,
  trust: TrustStore,
  policy: TrustPolicy,
  opts: { identity?: Identity; handshakeTimeoutMs?: number; maxDatagramSize?: number; congestion?: CongestionControl } = {},
): Promise<PinnedConnection> {
  const address = formatHostPort(target);
  const wanted = policy.fingerprint === undefined ? undefined : normaliseFingerprint(policy.fingerprint);
  const conn = await connectQuic({ host: target.host, port: target.port, ...opts });
  try {
    const cert = conn.peerCertificate();
    if (!cert) throw new UntrustedServerError(address, '(none)');
    const presented = fingerprintOf(cert);
    const pinned = trust.serverFingerprint(address);
    if (pinned !== undefined && pinned !== presented) throw new FingerprintMismatchError(address, pinned, presented, true);
    if (wanted !== undefined && wanted !== presented) throw new FingerprintMismatchError(address, wanted, presented, false);
    if (pinned === undefined && wanted === undefined && !policy.acceptFirst) throw new UntrustedServerError(address, presented);
    if (pinned === undefined) await trust.pinServer(address, presented);
    return { conn, address, fingerprint: presented, newlyPinned: pinned === undefined };
  } catch (err) {
    await conn.close();
    throw err;
  }
}
