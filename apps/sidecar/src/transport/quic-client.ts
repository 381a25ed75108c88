/**
 * QUIC client: one connected UDP socket per connection. Resolves once the
 * handshake is complete; the caller then pins the server by fingerprint
 * (peerCertificate()) before sending any application data.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { quiche } from '@matrixai/quic/native/index.js';
import { QuicConnectError, QuicSocketError } from './errors.js';
import { formatHostPort } from './address.js';
import {
  CID_LEN,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  buildQuicheConfig,
} from './quic-config.js';
import { DATAGRAM_SIZE_DEFAULT, type CongestionControl } from '@leafsync/shared/transport';
import { QuicConnectionImpl, type ConnectionOwner, type DatagramSink } from './quic-connection.js';
import { openUdpEndpoint, type UdpEndpoint, type UdpKind } from './udp-endpoint.js';
import type { Identity, QuicConnection } from './types.js';

export interface ConnectQuicOptions {
  host: string;
  port: number;
  /** Our certificate, presented for mutual TLS. */
  identity?: Identity;
  handshakeTimeoutMs?: number;
  maxDatagramSize?: number;
  /** The UDP implementation (tests); by default the batched one where it is built. */
  udp?: UdpKind;
  congestion?: CongestionControl;
}

const NO_RESPONSE_HINT = 'is leafsync serving there, and can UDP reach it?';
/**
 * ICMP "unreachable" reports, with nothing yet heard from the server, that end a handshake before
 * its timeout. One is not enough: it may be stale (a server restarting on its port) or forged. The
 * second answers the Initial's first retransmission, about a second in.
 */
const UNREACHABLE_HANDSHAKE_REPORTS = 2;

export async function connectQuic(opts: ConnectQuicOptions): Promise<QuicConnection> {
  const where = formatHostPort(opts);
  const timeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxDatagramSize = opts.maxDatagramSize ?? DATAGRAM_SIZE_DEFAULT;
  let ip: string;
  try {
    ip = (await lookup(opts.host)).address;
  } catch (cause) {
    throw new QuicConnectError('QUIC_HANDSHAKE_FAILED', `cannot resolve ${opts.host}: ${(cause as Error).message}`, { cause });
  }
  const config = buildQuicheConfig({ identity: opts.identity, requestPeerCert: true, maxDatagramSize, ...(opts.congestion && { congestion: opts.congestion }) });
  const remote = { host: ip, port: opts.port };
  let socket: UdpEndpoint;
  try {
    socket = await openUdpEndpoint({ host: isIP(ip) === 6 ? '::' : '0.0.0.0', port: 0, connect: remote, ...(opts.udp && { kind: opts.udp }) });
  } catch (cause) {
    throw new QuicSocketError(`cannot open a UDP socket to ${where}: ${(cause as Error).message}`, { cause });
  }
  const local = socket.local;
  const scid = randomBytes(CID_LEN);
  const qconn = quiche.Connection.connect(null, scid, local, remote, config);
  const sink: DatagramSink = {
    // The socket is connected to the server, the one destination a client's quiche names.
    sendBatch: (buf, slotSize, lengths, count, _to, done) => socket.sendBatch(buf, slotSize, lengths, count, undefined, done),
  };

  return new Promise<QuicConnection>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const owner: ConnectionOwner = {
      onEstablished: (c) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(c);
      },
      onFinished: (c) => {
        void socket.close();
        if (!settled) {
          const why = c.describeFailure() ?? 'the connection closed during the handshake';
          fail(new QuicConnectError('QUIC_HANDSHAKE_FAILED', `handshake with ${where} failed: ${why}`));
        }
      },
    };
    const conn = new QuicConnectionImpl({ conn: qconn, scid, local, remote, sink, owner, isServer: false, maxDatagramSize });
    const timer = setTimeout(() => {
      const heard = conn.heardFromPeer();
      fail(
        heard
          ? new QuicConnectError('QUIC_HANDSHAKE_FAILED', `handshake with ${where} timed out after ${timeoutMs} ms`)
          : new QuicConnectError('QUIC_NO_RESPONSE', `no response from ${where} (${NO_RESPONSE_HINT})`),
      );
      // Tell a half-open peer we are gone; a silent one just gets abandoned.
      if (heard) conn.startClose(false, 0, 'handshake timeout');
      else conn.abandon();
    }, timeoutMs);
    // Connected: the kernel delivers only the server's datagrams, and tells of ICMP errors.
    socket.onDatagram = (msg) => conn.receive(msg, ip, opts.port);
    let unreachable = 0;
    socket.onUnreachable = (what) => {
      if (settled) {
        conn.peerUnreachable(what);
        return;
      }
      if (conn.heardFromPeer() || ++unreachable < UNREACHABLE_HANDSHAKE_REPORTS) return;
      fail(
        new QuicConnectError(
          'QUIC_NO_RESPONSE',
          what === 'port'
            ? `nothing is listening at ${where}: its host answered "port unreachable" (is leafsync serving there, on that port? a firewall that rejects UDP answers the same)`
            : `${where} cannot be reached: the network answered "host unreachable" (is the address right, and is that machine up?)`,
        ),
      );
      conn.abandon();
    };
    conn.scheduleFlush();
  });
}
