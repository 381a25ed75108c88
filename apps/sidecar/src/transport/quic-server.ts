/**
 * QUIC server: one UDP socket, connections routed by destination connection ID.
 */
import { randomBytes } from 'node:crypto';
import { quiche } from '@matrixai/quic/native/index.js';
import type { Config, Header } from '@matrixai/quic/native/types.js';
import { QuicSocketError } from './errors.js';
import { CID_LEN, buildQuicheConfig } from './quic-config.js';
import { DATAGRAM_SIZE_DEFAULT, type CongestionControl } from '@leafsync/shared/transport';
import { QuicConnectionImpl, type ConnectionOwner, type DatagramSink } from './quic-connection.js';
import { openUdpEndpoint, type UdpEndpoint, type UdpKind } from './udp-endpoint.js';
import { StatelessResets, resetKeyFor } from './stateless-reset.js';
import type { HostPort, Identity, QuicConnection } from './types.js';

export interface QuicServerOptions {
  host: string;
  port: number;
  identity: Identity;
  /** Ask clients for their certificate (mutual TLS); read it with conn.peerCertificate(). */
  requestClientCert?: boolean;
  /** Called once per connection, after its handshake completed. */
  onConnection: (conn: QuicConnection) => void;
  maxDatagramSize?: number;
  /** The UDP implementation (tests); by default the batched one where it is built. */
  udp?: UdpKind;
  congestion?: CongestionControl;
}

/** Application close code the server uses when shutting down. */
const SHUTDOWN_CODE = 0;

export class QuicServer implements ConnectionOwner {
  readonly address: HostPort;
  private readonly socket: UdpEndpoint;
  private readonly config: Config;
  private readonly onConnection: (conn: QuicConnection) => void;
  private readonly maxDatagramSize: number;
  /** Keyed by hex connection ID: our SCID, plus the client's original DCID for its retransmitted Initials. */
  private readonly byCid = new Map<string, QuicConnectionImpl>();
  private readonly conns = new Set<QuicConnectionImpl>();
  private readonly initialDcid = new Map<QuicConnectionImpl, string>();
  /** Most recent short-header target: bulk transfers hit it almost every time, skipping the map. */
  private lastConn: QuicConnectionImpl | undefined;
  private closing: Promise<void> | undefined;
  private readonly versionBuf = Buffer.allocUnsafe(quiche.MAX_DATAGRAM_SIZE);
  private readonly resets: StatelessResets;

  private constructor(socket: UdpEndpoint, config: Config, opts: QuicServerOptions, maxDatagramSize: number) {
    this.socket = socket;
    this.config = config;
    this.resets = new StatelessResets(resetKeyFor(opts.identity.keyPem));
    this.onConnection = opts.onConnection;
    this.maxDatagramSize = maxDatagramSize;
    this.address = socket.local;
  }

  static async listen(opts: QuicServerOptions): Promise<QuicServer> {
    const maxDatagramSize = opts.maxDatagramSize ?? DATAGRAM_SIZE_DEFAULT;
    const config = buildQuicheConfig({
      identity: opts.identity,
      requestPeerCert: opts.requestClientCert ?? false,
      maxDatagramSize,
      ...(opts.congestion && { congestion: opts.congestion }),
    });
    let socket: UdpEndpoint;
    try {
      socket = await openUdpEndpoint({ host: opts.host, port: opts.port, ...(opts.udp && { kind: opts.udp }) });
    } catch (e) {
      throw new QuicSocketError(`cannot listen on UDP ${opts.host}:${opts.port}: ${(e as Error).message}`, { cause: e });
    }
    const server = new QuicServer(socket, config, opts, maxDatagramSize);
    socket.onDatagram = server.onDatagram;
    return server;
  }

  private readonly onDatagram = (msg: Buffer, host: string, port: number): void => {
    const first = msg[0];
    if (first === undefined) return;
    if ((first & 0x80) === 0) {
      // Short header: the DCID is one of our SCIDs, always CID_LEN bytes.
      if (msg.length < 1 + CID_LEN) return;
      let conn = this.lastConn;
      if (!conn || !cidMatches(msg, conn.scid)) {
        conn = this.byCid.get(msg.toString('hex', 1, 1 + CID_LEN));
        if (!conn) {
          // A connection this process does not have (it restarted, or closed it and the client
          // missed the close): tell the client now rather than let it wait out its idle timeout.
          const reset = this.resets.answer(msg, CID_LEN);
          if (reset) this.socket.send(reset, { host, port });
          return;
        }
        this.lastConn = conn;
      }
      conn.receive(msg, host, port);
      return;
    }
    let header: Header;
    try {
      header = quiche.Header.fromSlice(msg, CID_LEN);
    } catch {
      return; // not QUIC
    }
    const conn = this.byCid.get(Buffer.from(header.dcid).toString('hex'));
    if (conn) conn.receive(msg, host, port);
    else this.accept(msg, header, { host, port });
  };

  private accept(msg: Buffer, header: Header, remote: HostPort): void {
    // Only a full-size Initial may start a connection (RFC 9000 §14.1, anti-amplification).
    if (this.closing || header.ty !== quiche.Type.Initial || msg.length < quiche.MIN_CLIENT_INITIAL_LEN) return;
    if (!quiche.versionIsSupported(header.version)) {
      let n: number;
      try {
        n = quiche.negotiateVersion(header.scid, header.dcid, this.versionBuf);
      } catch {
        return;
      }
      this.socket.send(this.versionBuf.subarray(0, n), remote);
      return;
    }
    const scid = randomBytes(CID_LEN);
    // quiche copies the token into this connection's transport parameters at accept.
    this.config.setStatelessResetToken(this.resets.tokenValue(scid));
    let qconn;
    try {
      qconn = quiche.Connection.accept(scid, null, this.address, remote, this.config);
    } catch {
      return;
    }
    // The socket itself: each batch goes where quiche sent it (see QuicConnectionImpl.sendTo).
    const sink: DatagramSink = this.socket;
    const conn = new QuicConnectionImpl({
      conn: qconn,
      scid,
      local: this.address,
      remote,
      sink,
      owner: this,
      isServer: true,
      maxDatagramSize: this.maxDatagramSize,
    });
    conn.receive(msg, remote.host, remote.port);
    // A datagram that merely parses as an Initial but is not one (garbage,
    // replay) leaves quiche with nothing received; don't keep state for it,
    // nor for a connection that already ended on it (see QuicConnectionImpl.crashed).
    if (conn.isFinished || !conn.heardFromPeer()) {
      conn.abandon();
      return;
    }
    const dcidHex = Buffer.from(header.dcid).toString('hex');
    this.byCid.set(scid.toString('hex'), conn);
    this.byCid.set(dcidHex, conn);
    this.initialDcid.set(conn, dcidHex);
    this.conns.add(conn);
  }

  onEstablished(conn: QuicConnectionImpl): void {
    if (this.closing) {
      conn.startClose(true, SHUTDOWN_CODE, 'server shutting down');
      return;
    }
    // Deferred so an exception in user code surfaces on its own instead of
    // unwinding through the connection's flush.
    queueMicrotask(() => this.onConnection(conn));
  }

  onFinished(conn: QuicConnectionImpl): void {
    this.conns.delete(conn);
    this.byCid.delete(conn.scid.toString('hex'));
    const dcid = this.initialDcid.get(conn);
    if (dcid !== undefined) this.byCid.delete(dcid);
    this.initialDcid.delete(conn);
    if (this.lastConn === conn) this.lastConn = undefined;
  }

  /** Close every connection (peers see a clean CONNECTION_CLOSE), then the socket. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.conns].map((c) => c.close(SHUTDOWN_CODE, 'server shutting down')));
      // close() resolves after a bounded wait; let stragglers finish draining
      // before the socket goes, since they still need it to send.
      await Promise.all([...this.conns].map((c) => c.closed));
      await this.socket.close();
    })();
    return this.closing;
  }
}

/** Whether a short-header datagram's DCID (bytes 1..CID_LEN) is `cid`. A JS loop: ~50 ns vs ~200 ns for Buffer#compare. */
function cidMatches(msg: Buffer, cid: Buffer): boolean {
  for (let i = 0; i < CID_LEN; i++) if (msg[i + 1] !== cid[i]) return false;
  return true;
}
