/**
 * A lossy UDP link for tests: clients send to `relay.address` instead of the server, and the
 * relay forwards each datagram (both ways) after rolling a seeded die for drop, duplicate,
 * reorder and delay. The same seed and the same datagram order give the same decisions, so a
 * failing run can be replayed. Not imported by production code.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { HostPort } from '../transport/types.js';

export type { HostPort } from '../transport/types.js';

/** Probabilities are per datagram, 0..1; delays are milliseconds added before forwarding. */
export interface LinkConditions {
  drop?: number;
  duplicate?: number;
  /** Chance a datagram is held back long enough for later ones to overtake it. */
  reorder?: number;
  delayMs?: number;
  /** Extra uniform random delay in [0, jitterMs) per datagram (also reorders). */
  jitterMs?: number;
}

export interface RelayOptions extends LinkConditions {
  /** The real server. */
  target: HostPort;
  seed?: number;
  /** Address the relay listens on (default 127.0.0.1). */
  bind?: string;
}

/** Counts per direction: `datagrams`/`bytes` are what arrived at the relay, `dropped` what it discarded. */
export interface DirectionStats {
  datagrams: number;
  bytes: number;
  dropped: number;
  /** Extra copies sent (delivered = datagrams - dropped + duplicated). */
  duplicated: number;
}

/** How long a reordered datagram waits beyond its normal delay; later datagrams pass it meanwhile. */
const REORDER_HOLD_MS = 5;

/** mulberry32: tiny, fast and good enough to make loss patterns reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bulk QUIC bursts a whole congestion window at once; small default kernel buffers would add loss we did not ask for. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

function udpSocket(host: string): dgram.Socket {
  return dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES });
}

function emptyStats(): DirectionStats {
  return { datagrams: 0, bytes: 0, dropped: 0, duplicated: 0 };
}

function bindSocket(socket: dgram.Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export class UdpRelay {
  readonly address: HostPort;
  private conditions: Required<LinkConditions>;
  private readonly random: () => number;
  /** One upstream socket per client source, so the server sees distinct peers. */
  private readonly upstreams = new Map<string, dgram.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private blackoutUntil = 0;
  private closed = false;
  private readonly toServer = emptyStats();
  private readonly toClient = emptyStats();

  private constructor(
    private readonly front: dgram.Socket,
    private readonly target: HostPort,
    seed: number,
    conditions: LinkConditions,
  ) {
    const a = front.address();
    this.address = { host: a.address, port: a.port };
    this.random = mulberry32(seed);
    this.conditions = UdpRelay.normalise(conditions);
  }

  static async start(opts: RelayOptions): Promise<UdpRelay> {
    // Validated before binding, so a bad option cannot leak a bound socket.
    UdpRelay.normalise(opts);
    const bind = opts.bind ?? '127.0.0.1';
    const front = udpSocket(bind);
    await bindSocket(front, bind, 0);
    const relay = new UdpRelay(front, opts.target, opts.seed ?? 1, opts);
    // Errors on an unconnected UDP socket are local (e.g. ICMP echoes); a relay must not die of them.
    front.on('error', () => undefined);
    front.on('message', (msg, rinfo) => relay.fromClient(msg, rinfo));
    return relay;
  }

  private static normalise(c: LinkConditions): Required<LinkConditions> {
    const p = (v: number | undefined, name: string) => {
      const x = v ?? 0;
      if (!(x >= 0 && x <= 1)) throw new RangeError(`${name} must be a probability in 0..1, got ${x}`);
      return x;
    };
    const ms = (v: number | undefined, name: string) => {
      const x = v ?? 0;
      if (!(x >= 0 && Number.isFinite(x))) throw new RangeError(`${name} must be a non-negative number of ms, got ${x}`);
      return x;
    };
    return {
      drop: p(c.drop, 'drop'),
      duplicate: p(c.duplicate, 'duplicate'),
      reorder: p(c.reorder, 'reorder'),
      delayMs: ms(c.delayMs, 'delayMs'),
      jitterMs: ms(c.jitterMs, 'jitterMs'),
    };
  }

  /** Replaces all conditions at once (unspecified ones become 0). */
  setConditions(c: LinkConditions): void {
    this.conditions = UdpRelay.normalise(c);
  }

  /**
   * Drops, while set, the server's datagrams to the client for which `drop` says so (for
   * building an exact loss pattern, e.g. by size); undefined lifts it.
   */
  dropToClient: ((datagram: Buffer) => boolean) | undefined;

  /** Drops every datagram in both directions for `ms` from now (extends, never shortens, a running blackout). */
  blackout(ms: number): void {
    this.blackoutUntil = Math.max(this.blackoutUntil, Date.now() + ms);
  }

  stats(): { toServer: DirectionStats; toClient: DirectionStats } {
    return { toServer: { ...this.toServer }, toClient: { ...this.toClient } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sockets = [this.front, ...this.upstreams.values()];
    this.upstreams.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      upstream = this.openUpstream(rinfo);
      this.upstreams.set(key, upstream);
    }
    const up = upstream;
    this.forward(msg, this.toServer, (buf) => up.send(buf, this.target.port, this.target.host));
  }

  private openUpstream(client: dgram.RemoteInfo): dgram.Socket {
    const socket = udpSocket(this.target.host);
    socket.on('error', () => undefined);
    socket.on('message', (msg, rinfo) => {
      // Only the server's answers travel back; anything else reaching this port is not ours.
      if (rinfo.port !== this.target.port) return;
      if (this.dropToClient?.(msg)) {
        this.toClient.datagrams++;
        this.toClient.dropped++;
        return;
      }
      this.forward(msg, this.toClient, (buf) => this.front.send(buf, client.port, client.address));
    });
    // Bound explicitly (not implicitly by the first send) so replies are never missed.
    socket.bind(0);
    return socket;
  }

  private forward(msg: Buffer, stats: DirectionStats, send: (buf: Buffer) => void): void {
    if (this.closed) return;
    stats.datagrams++;
    stats.bytes += msg.length;
    const c = this.conditions;
    // Every die is rolled for every datagram, so one condition changing does not shift the
    // sequence of decisions for the others.
    const dropRoll = this.random();
    const dupRoll = this.random();
    const reorderRoll = this.random();
    const jitterRoll = this.random();
    if (Date.now() < this.blackoutUntil || dropRoll < c.drop) {
      stats.dropped++;
      return;
    }
    const copies = dupRoll < c.duplicate ? 2 : 1;
    stats.duplicated += copies - 1;
    const delay = c.delayMs + jitterRoll * c.jitterMs + (reorderRoll < c.reorder ? REORDER_HOLD_MS + c.jitterMs : 0);
    const deliver = () => {
      if (this.closed) return;
      for (let i = 0; i < copies; i++) send(msg);
    };
    if (delay <= 0) {
      deliver();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      deliver();
    }, delay);
    this.timers.add(timer);
  }
}
