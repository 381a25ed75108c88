import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

/**
 * A minimal seeded UDP relay for the bench (the sidecar's test-support relay was not on main when
 * this was written). Same shape as apps/sidecar/src/test-support/udp-relay.ts: clients send to
 * `address`, the relay forwards to `target` from one upstream socket per client, counts datagrams
 * and bytes each way (as offered by the sender, i.e. what that side put on the wire), and drops a
 * seeded fraction.
 */
export interface HostPort {
  host: string;
  port: number;
}
export interface LinkConditions {
  drop?: number;
  duplicate?: number;
  reorder?: number;
  delayMs?: number;
  jitterMs?: number;
}
export interface RelayOptions extends LinkConditions {
  target: HostPort;
  seed?: number;
  bind?: string;
}
interface Direction {
  datagrams: number;
  bytes: number;
  dropped: number;
}

/** mulberry32: small, fast, seeded; good enough to choose which datagrams to drop. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class UdpRelay {
  private readonly rand: () => number;
  private readonly toServer: Direction = { datagrams: 0, bytes: 0, dropped: 0 };
  private readonly toClient: Direction = { datagrams: 0, bytes: 0, dropped: 0 };
  private readonly upstreams = new Map<string, Socket>();
  private conditions: LinkConditions;
  private blackoutUntil = 0;

  private constructor(
    private readonly front: Socket,
    private readonly opts: RelayOptions,
    readonly address: HostPort,
  ) {
    this.rand = prng(opts.seed ?? 1);
    this.conditions = { ...opts };
    front.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
  }

  static async start(opts: RelayOptions): Promise<UdpRelay> {
    const front = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((res) => front.bind(0, opts.bind ?? '127.0.0.1', res));
    const a = front.address();
    return new UdpRelay(front, opts, { host: a.address, port: a.port });
  }

  setConditions(c: LinkConditions): void {
    this.conditions = { ...c };
  }

  blackout(ms: number): void {
    this.blackoutUntil = Date.now() + ms;
  }

  stats(): { toServer: Direction; toClient: Direction } {
    return { toServer: { ...this.toServer }, toClient: { ...this.toClient } };
  }

  private lose(d: Direction, msg: Buffer): boolean {
    d.datagrams++;
    d.bytes += msg.length;
    const drop = (this.conditions.drop ?? 0) > 0 && this.rand() < this.conditions.drop!;
    if (drop || Date.now() < this.blackoutUntil) {
      d.dropped++;
      return true;
    }
    return false;
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = this.upstreams.get(key);
    if (up === undefined) {
      up = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
      up.bind(0, this.opts.bind ?? '127.0.0.1');
      up.on('message', (back) => {
        if (!this.lose(this.toClient, back)) this.front.send(back, rinfo.port, rinfo.address);
      });
      this.upstreams.set(key, up);
    }
    if (!this.lose(this.toServer, msg)) up.send(msg, this.opts.target.port, this.opts.target.host);
  }

  async close(): Promise<void> {
    for (const s of [this.front, ...this.upstreams.values()]) await new Promise<void>((res) => s.close(() => res()));
  }
}
