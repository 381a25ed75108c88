/**
 * A lossy UDP link for tests: clients send to `relay.address` instead of the server, and the
 * relay forwards each datagram (both ways) after rolling a seeded die for drop, duplicate,
 * reorder and delay. The same seed and the same datagram order give the same decisions, so a
 * failing run can be replayed. Not imported by production code.
 */
import { isIPv6 } from 'node:net';
import type { HostPort } from '../transport/types.js';
import { openUdpEndpoint, type UdpEndpoint } from '../transport/udp-endpoint.js';

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

function emptyStats(): DirectionStats {
  return { datagrams: 0, bytes: 0, dropped: 0, duplicated: 0 };
}

/**
 * The way to the server for one client: its own socket, so the server sees distinct peers, and
 * connected to the server, so nothing else comes back through it. Datagrams that arrive while it
 * is being opened wait (copied: the relay's receive memory is reused).
 */
interface Upstream {
  client: HostPort;
  socket?: UdpEndpoint;
  waiting: Buffer[];
}

export class UdpRelay {
  readonly address: HostPort;
  private conditions: Required<LinkConditions>;
  private readonly random: () => number;
  private readonly upstreams = new Map<string, Upstream>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private blackoutUntil = 0;
  private closed = false;
  private readonly toServer = emptyStats();
  private readonly toClient = emptyStats();

  private constructor(
    private readonly front: UdpEndpoint,
    private readonly target: HostPort,
    seed: number,
    conditions: LinkConditions,
  ) {
    this.address = front.local;
    this.random = mulberry32(seed);
    this.conditions = UdpRelay.normalise(conditions);
  }

  static async start(opts: RelayOptions): Promise<UdpRelay> {
    // Validated before binding, so a bad option cannot leak a bound socket.
    UdpRelay.normalise(opts);
    // The same UDP socket as leafsync's (batched on Linux), so the relay's own cost per datagram
    // stays small next to the peers' it sits between (bench W6 shares two cores with both).
    const front = await openUdpEndpoint({ host: opts.bind ?? '127.0.0.1', port: 0 });
    const relay = new UdpRelay(front, opts.target, opts.seed ?? 1, opts);
    front.onDatagram = (msg, host, port) => relay.fromClient(msg, { host, port });
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

  /** As dropToClient, for the clients' datagrams to the server. */
  dropToServer: ((datagram: Buffer) => boolean) | undefined;

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
    const sockets = [this.front, ...[...this.upstreams.values()].flatMap((u) => u.socket ?? [])];
    this.upstreams.clear();
    await Promise.all(sockets.map((s) => s.close()));
  }

  private fromClient(msg: Buffer, client: HostPort): void {
    const key = `${client.host}|${client.port}`;
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      upstream = { client, waiting: [] };
      this.upstreams.set(key, upstream);
      // Could not open a socket: forget it, so the client's next datagram tries again.
      this.openUpstream(upstream).catch(() => this.upstreams.delete(key));
    }
    const up = upstream;
    this.forward(msg, this.toServer, this.dropToServer, (buf) => {
      if (up.socket) up.socket.send(buf, undefined);
      else up.waiting.push(Buffer.from(buf));
    });
  }

  /**
   * Gives every client a new source port towards the server, as a NAT that lost its mappings
   * does: the server then hears each client from a new address, and what it sends to the old one
   * goes nowhere.
   */
  async rebind(): Promise<void> {
    await Promise.all(
      [...this.upstreams.values()].map(async (upstream) => {
        const old = upstream.socket;
        if (!old) return;
        // The new socket is opened while the old one still holds its port, so the port differs.
        await this.openUpstream(upstream);
        await old.close();
      }),
    );
  }

  private async openUpstream(upstream: Upstream): Promise<void> {
    const client = upstream.client;
    const socket = await openUdpEndpoint({ host: isIPv6(this.target.host) ? '::' : '0.0.0.0', port: 0, connect: this.target });
    if (this.closed) {
      await socket.close();
      return;
    }
    socket.onDatagram = (msg) => this.forward(msg, this.toClient, this.dropToClient, (buf) => this.front.send(buf, client));
    upstream.socket = socket;
    for (const buf of upstream.waiting.splice(0)) socket.send(buf, undefined);
  }

  /** `scripted` (dropToClient or dropToServer) decides first; a datagram it drops rolls no dice. */
  private forward(msg: Buffer, stats: DirectionStats, scripted: ((datagram: Buffer) => boolean) | undefined, send: (buf: Buffer) => void): void {
    if (this.closed) return;
    stats.datagrams++;
    stats.bytes += msg.length;
    if (scripted?.(msg)) {
      stats.dropped++;
      return;
    }
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
    if (delay <= 0) {
      for (let i = 0; i < copies; i++) send(msg);
      return;
    }
    // Held past this call: the receive memory behind `msg` is reused.
    const held = Buffer.from(msg);
    const deliver = () => {
      if (this.closed) return;
      for (let i = 0; i < copies; i++) send(held);
    };
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      deliver();
    }, delay);
    this.timers.add(timer);
  }
}
