/**
 * quiche configuration shared by server and client. The numbers here are
 * the ones measured fast on loopback (see DESIGN.md "Measured decisions").
 */
import { quiche } from '@matrixai/quic/native/index.js';
import type { Config } from '@matrixai/quic/native/types.js';
import type { Identity } from './types.js';
import { DATAGRAM_SIZE_MAX, type CongestionControl } from '@leafsync/shared/transport';

export const ALPN = 'leafsync/1';
export const IDLE_TIMEOUT_MS = 30_000;
/** A connection silent this long sends a PING so the peer's idle timer never fires. */
export const KEEPALIVE_MS = 10_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Our source connection IDs are always this long, so short headers can be routed without parsing. */
export const CID_LEN = quiche.MAX_CONN_ID_LEN;

const MiB = 1024 * 1024;
/**
 * What a peer may send us that we have not read yet: quiche holds it in memory, so this bounds
 * a receiver that falls behind (the disk, the hashing). 16 MiB still fills 1.3 Gbit/s at 100 ms
 * of round trip. With 24 MiB a 1 GiB pull's client peaked at 141–154 MiB, with 16 at 138–148 and
 * no slower (bench W1, 2 × 3 runs each, alternated).
 */
const INITIAL_MAX_DATA = 16 * MiB;
export const INITIAL_MAX_STREAM_DATA = 8 * MiB;
const MAX_STREAMS_BIDI = 1024;

export interface QuicheConfigOptions {
  /** Our key and certificate; the server always has one, the client only for mutual TLS. */
  identity?: Identity;
  /**
   * Ask the peer for its certificate. Verification is always "allow fail":
   * leafsync certificates are self-signed and trust comes from pinning the
   * fingerprint after the handshake, never from a CA.
   */
  requestPeerCert: boolean;
  maxDatagramSize: number;
  congestion?: CongestionControl;
}

export function buildQuicheConfig(opts: QuicheConfigOptions): Config {
  const enc = new TextEncoder();
  const key = opts.identity ? [enc.encode(opts.identity.keyPem)] : null;
  const cert = opts.identity ? [enc.encode(opts.identity.certPem)] : null;
  const config = quiche.Config.withBoringSslCtx(opts.requestPeerCert, opts.requestPeerCert, null, key, cert, null);
  config.setApplicationProtos([ALPN]);
  config.grease(true);
  config.setMaxIdleTimeout(IDLE_TIMEOUT_MS);
  config.setMaxSendUdpPayloadSize(opts.maxDatagramSize);
  // The largest there is, so a peer configured with bigger datagrams can use them.
  config.setMaxRecvUdpPayloadSize(DATAGRAM_SIZE_MAX);
  config.setInitialMaxData(INITIAL_MAX_DATA);
  config.setInitialMaxStreamDataBidiLocal(INITIAL_MAX_STREAM_DATA);
  config.setInitialMaxStreamDataBidiRemote(INITIAL_MAX_STREAM_DATA);
  config.setInitialMaxStreamDataUni(0);
  config.setInitialMaxStreamsBidi(MAX_STREAMS_BIDI);
  config.setInitialMaxStreamsUni(0);
  // Auto-tuning may grow windows up to these caps; keep them above the initial values.
  config.setMaxStreamWindow(INITIAL_MAX_STREAM_DATA);
  config.setMaxConnectionWindow(INITIAL_MAX_DATA);
  config.setDisableActiveMigration(true);
  config.setCcAlgorithm(opts.congestion === 'bbr' ? quiche.CongestionControlAlgorithm.BBR : quiche.CongestionControlAlgorithm.CUBIC);
  return config;
}
