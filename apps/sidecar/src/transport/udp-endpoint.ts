/**
 * The UDP socket under the QUIC transport: datagrams in one at a time, out a batch at a time.
 *
 * On Linux it is the native addon in native/udp_batch.c (sendmmsg with UDP GSO, recvmmsg with
 * UDP GRO, one JavaScript call per batch); elsewhere, or if the addon was not built, node:dgram
 * (one system call and one callback per datagram). `LEAFSYNC_UDP=dgram` picks node:dgram anyway.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { HostPort } from './types.js';
import { loadNativeAddon, nativeAddonPath } from '../util/native-addon.js';

/** Each received datagram. Its memory is reused after the call returns: copy what must be kept. */
export type DatagramHandler = (data: Buffer, host: string, port: number) => void;

export type UdpKind = 'batched' | 'dgram';

/**
 * What the network said about a connected socket's peer (an ICMP error): 'port' unreachable
 * (nothing listens there), or the 'host' or its network unreachable. A hint, not proof: ICMP can
 * be forged or stale.
 */
export type Unreachable = 'port' | 'host';
export type UnreachableHandler = (what: Unreachable) => void;

export interface UdpEndpoint {
  readonly kind: UdpKind;
  readonly local: HostPort;
  onDatagram: DatagramHandler;
  /** Called with each ICMP report on a connected socket; the batched socket delivers the datagrams that came before it first. */
  onUnreachable: UnreachableHandler;
  /**
   * Sends `count` datagrams, the i-th `lengths[i]` bytes at `buf[i * slotSize]`, to `to` (or to the
   * connected peer). `done` is called once `buf` is no longer referenced.
   */
  sendBatch(buf: Buffer, slotSize: number, lengths: Uint32Array, count: number, to: HostPort | undefined, done?: () => void): void;
  /** Sends one datagram (all of `buf`); the caller may reuse `buf` once this returns. */
  send(buf: Buffer, to: HostPort | undefined): void;
  stats(): UdpStats;
  close(): Promise<void>;
}

export interface UdpStats {
  /** Datagrams dropped on the way out because the kernel's send buffer, and the queue behind it, were full. */
  dropped: number;
  /** Whether runs of datagrams go out as one UDP GSO message, and arrive as one with UDP GRO. */
  gso: boolean;
  gro: boolean;
}

export interface OpenUdpOptions {
  host: string;
  port: number;
  /** Only talk to this peer (a client's socket): the kernel filters everything else out. */
  connect?: HostPort;
  /** Force an implementation (tests); by default the batched one where it loaded. */
  kind?: UdpKind;
}

/** Kernel buffers big enough for a burst of a full congestion window (capped by net.core.*mem_max). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

interface UdpAddon {
  constants: { META_INTS: number };
  /** onBatch(count): `count` datagrams are in the buffers; a negative count is a socket error, -errno. */
  open(ipv6: boolean, host: string, port: number, onBatch: (count: number) => void, peerHost?: string, peerPort?: number): [NativeHandle, Buffer, Int32Array, string, number];
  send(handle: NativeHandle, buf: Buffer, slotSize: number, lengths: Uint32Array, count: number, host?: string, port?: number): void;
  /** Closes the socket; true if `onClosed` will be called once its descriptor is closed (the port free again). */
  close(handle: NativeHandle, onClosed: () => void): boolean;
  stats(handle: NativeHandle): [dropped: number, gso: boolean, gro: boolean];
}
declare const nativeHandle: unique symbol;
type NativeHandle = { readonly [nativeHandle]: true };

/** The batched implementation, if this platform has it and it was built. */
const loadAddon = (): UdpAddon | undefined => loadNativeAddon<UdpAddon>('udp_batch');

/** Which implementation openUdpEndpoint picks by default here. */
export function defaultUdpKind(): UdpKind {
  return process.env.LEAFSYNC_UDP !== 'dgram' && loadAddon() ? 'batched' : 'dgram';
}

/** Opens a UDP socket bound to host:port (port 0: any free one), optionally connected to one peer. */
export async function openUdpEndpoint(opts: OpenUdpOptions): Promise<UdpEndpoint> {
  // An IPv6 zone (fe80::1%eth0) is something only node:dgram's address parsing understands.
  const zoned = opts.host.includes('%') || (opts.connect?.host.includes('%') ?? false);
  const kind = opts.kind ?? (zoned ? 'dgram' : defaultUdpKind());
  if (kind === 'batched') {
    const native = loadAddon();
    if (!native) throw new Error(`the batched UDP addon is not built (${nativeAddonPath('udp_batch')}); run npm run build`);
    return new BatchedUdpEndpoint(native, opts);
  }
  return DgramUdpEndpoint.open(opts);
}

/** The socket errors that are ICMP reports about the peer, by name (node:dgram) and by number (the addon). */
const UNREACHABLE_CODES = new Map<string, Unreachable>([
  ['ECONNREFUSED', 'port'],
  ['EHOSTUNREACH', 'host'],
  ['ENETUNREACH', 'host'],
]);
const UNREACHABLE_ERRNOS = new Map([...UNREACHABLE_CODES].map(([code, what]) => [osConstants.errno[code as keyof typeof osConstants.errno], what]));

class BatchedUdpEndpoint implements UdpEndpoint {
  readonly kind = 'batched';
  readonly local: HostPort;
  onDatagram: DatagramHandler = () => undefined;
  onUnreachable: UnreachableHandler = () => undefined;
  private readonly handle: NativeHandle;
  private readonly data: Buffer;
  private readonly meta: Int32Array;
  private readonly metaBytes: Uint8Array;
  private readonly metaInts: number;
  /** The last source address seen and its text, so a run of datagrams from one peer formats it once. */
  private lastFamily = 0;
  private readonly lastWords = new Int32Array(4);
  private lastHost = '';
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly native: UdpAddon,
    opts: OpenUdpOptions,
  ) {
    const ipv6 = isIP(opts.host) === 6;
    const [handle, data, meta, host, port] = native.open(ipv6, opts.host, opts.port, this.onBatch, opts.connect?.host, opts.connect?.port);
    this.handle = handle;
    this.data = data;
    this.meta = meta;
    this.metaBytes = new Uint8Array(meta.buffer, meta.byteOffset, meta.byteLength);
    this.metaInts = native.constants.META_INTS;
    this.local = { host, port };
  }

  private readonly onBatch = (count: number): void => {
    if (count < 0) {
      const unreachable = UNREACHABLE_ERRNOS.get(-count);
      if (unreachable !== undefined) this.onUnreachable(unreachable);
      return;
    }
    const meta = this.meta;
    for (let m = 0; m < count; m++) {
      const at = m * this.metaInts;
      let offset = meta[at] as number;
      const end = offset + (meta[at + 1] as number);
      const segment = meta[at + 2] as number;
      const port = meta[at + 3] as number;
      const host = this.hostAt(at);
      // A GRO message holds several datagrams of `segment` bytes (the last may be shorter).
      while (offset < end && !this.closed) {
        const next = Math.min(end, offset + segment);
        this.onDatagram(this.data.subarray(offset, next), host, port);
        offset = next;
      }
    }
  };

  private hostAt(at: number): string {
    const meta = this.meta;
    const family = meta[at + 4] as number;
    const w = this.lastWords;
    if (family === this.lastFamily && meta[at + 5] === w[0] && meta[at + 6] === w[1] && meta[at + 7] === w[2] && meta[at + 8] === w[3]) return this.lastHost;
    this.lastFamily = family;
    for (let i = 0; i < 4; i++) w[i] = meta[at + 5 + i] as number;
    this.lastHost = formatAddress(family, this.metaBytes.subarray((at + 5) * 4, (at + 9) * 4));
    return this.lastHost;
  }

  sendBatch(buf: Buffer, slotSize: number, lengths: Uint32Array, count: number, to: HostPort | undefined, done?: () => void): void {
    if (!this.closed) {
      if (to) this.native.send(this.handle, buf, slotSize, lengths, count, to.host, to.port);
      else this.native.send(this.handle, buf, slotSize, lengths, count);
    }
    // The kernel copied the datagrams (or the addon did, to send them later).
    done?.();
  }

  private readonly oneLength = new Uint32Array(1);

  send(buf: Buffer, to: HostPort | undefined): void {
    this.oneLength[0] = buf.length;
    this.sendBatch(buf, buf.length, this.oneLength, 1, to);
  }

  stats(): UdpStats {
    const [dropped, gso, gro] = this.native.stats(this.handle);
    return { dropped, gso, gro };
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.closed = true;
      if (!this.native.close(this.handle, resolve)) resolve();
    });
    return this.closing;
  }
}

class DgramUdpEndpoint implements UdpEndpoint {
  readonly kind = 'dgram';
  onDatagram: DatagramHandler = () => undefined;
  onUnreachable: UnreachableHandler = () => undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: HostPort,
  ) {
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port));
    // Errors on a UDP socket are local trouble or ICMP hints about one datagram: passed on as
    // hints, never a reason to crash the process.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const unreachable = err.code === undefined ? undefined : UNREACHABLE_CODES.get(err.code);
      if (unreachable !== undefined) this.onUnreachable(unreachable);
    });
  }

  static async open(opts: OpenUdpOptions): Promise<DgramUdpEndpoint> {
    const socket = dgram.createSocket({
      type: isIP(opts.host) === 6 ? 'udp6' : 'udp4',
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES,
      lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(opts.port, opts.host, () => {
          if (!opts.connect) {
            socket.off('error', reject);
            resolve();
            return;
          }
          socket.connect(opts.connect.port, opts.connect.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    const a = socket.address();
    return new DgramUdpEndpoint(socket, { host: a.address, port: a.port });
  }

  sendBatch(buf: Buffer, slotSize: number, lengths: Uint32Array, count: number, to: HostPort | undefined, done?: () => void): void {
    for (let i = 0; i < count; i++) {
      // A UDP socket completes sends in order, so the last one's callback covers the batch.
      const cb = i === count - 1 ? done : undefined;
      if (to) this.socket.send(buf, i * slotSize, lengths[i] as number, to.port, to.host, cb);
      else this.socket.send(buf, i * slotSize, lengths[i] as number, cb);
    }
    if (count === 0) done?.();
  }

  send(buf: Buffer, to: HostPort | undefined): void {
    // node:dgram may hold the buffer until the kernel takes it: hand it a copy.
    const copy = Buffer.from(buf);
    if (to) this.socket.send(copy, to.port, to.host);
    else this.socket.send(copy);
  }

  stats(): UdpStats {
    // node:dgram queues what the kernel cannot take yet rather than dropping it.
    return { dropped: 0, gso: false, gro: false };
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => this.socket.close(() => resolve()));
    return this.closing;
  }
}

/**
 * Addresses are resolved once before the socket is used, so every send gets an IP literal. Node
 * would still route each unconnected send through dns.lookup (a nextTick per datagram); this
 * answers synchronously, and only looks for a colon (every IPv6 literal has one, no IPv4 literal does).
 */
const literalLookup = (
  hostname: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void => callback(null, hostname, hostname.includes(':') ? 6 : 4);

/** An address as inet_ntop writes it (what node:dgram reports): dotted IPv4, RFC 5952 IPv6. */
export function formatAddress(family: number, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  // IPv4-mapped (::ffff:a.b.c.d): how a dual-stack socket sees an IPv4 peer.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}
