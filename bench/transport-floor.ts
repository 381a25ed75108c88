/**
 * The per-datagram floor of leafsync's transport parts, measured apart from leafsync:
 *
 *   npm run bench:floor                    # 1350- and 8192-byte datagrams, 256 MiB each
 *   npm run bench:floor -- --mib 64 --sizes 1350
 *
 * 1. quiche through @matrixai/quic's N-API binding, in memory: two real quiche connections in
 *    this process (a real TLS handshake, the sidecar's own quiche config), one stream, the
 *    datagrams handed from one to the other with no socket. The receiver acknowledges after
 *    every 32 datagrams, as a libuv poll reads at most 32 per turn.
 * 2. The UDP socket on 127.0.0.1, both kinds leafsync has (src/transport/udp-endpoint.ts): the
 *    batched one (native/udp_batch.c: sendmmsg + UDP GSO, recvmmsg + UDP GRO) and node:dgram.
 *    A sender here and a receiver in a child process, no QUIC; the sender hands over 64
 *    datagrams at a time, as a connection's flush does.
 *
 * A sender pays (1) send + stream write + (2) send for each datagram, a receiver (1) recv +
 * stream read + (2) receive. With each peer on its own core and nothing else to do, the slower
 * side caps the throughput: that is the ceiling no code above these parts can beat.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quiche } from '@matrixai/quic/native/index.js';
import type { Connection, RecvInfo } from '@matrixai/quic/native/types.js';
import { CID_LEN, buildQuicheConfig } from '../apps/sidecar/src/transport/quic-config.js';
import { loadOrCreateIdentity } from '../apps/sidecar/src/transport/identity.js';
import { defaultUdpKind, openUdpEndpoint, type UdpKind } from '../apps/sidecar/src/transport/udp-endpoint.js';

const MiB = 1 << 20;
const ACK_EVERY = 32;

interface QuicheFloor {
  datagrams: number;
  payloadPerDatagram: number;
  /** Microseconds per data datagram, ACK handling included on the side that does it. */
  senderUs: number;
  receiverUs: number;
  sendUs: number;
  recvUs: number;
}

interface SocketFloor {
  sendUs: number;
  receiveUs: number;
  delivered: number;
  sent: number;
}

const nowUs = () => performance.now() * 1000;

async function quicheFloor(datagramSize: number, total: number): Promise<QuicheFloor> {
  const home = mkdtempSync(join(tmpdir(), 'leafsync-floor-'));
  try {
    const [serverId, clientId] = [await loadOrCreateIdentity(join(home, 's')), await loadOrCreateIdentity(join(home, 'c'))];
    const serverConfig = buildQuicheConfig({ identity: serverId, requestPeerCert: true, maxDatagramSize: datagramSize });
    const clientConfig = buildQuicheConfig({ identity: clientId, requestPeerCert: true, maxDatagramSize: datagramSize });
    const sAddr = { host: '127.0.0.1', port: 4433 };
    const cAddr = { host: '127.0.0.1', port: 50000 };
    const toServer: RecvInfo = { from: cAddr, to: sAddr };
    const toClient: RecvInfo = { from: sAddr, to: cAddr };
    const client = quiche.Connection.connect(null, randomBytes(CID_LEN), cAddr, sAddr, clientConfig);
    const wire = Buffer.allocUnsafe(65_536);
    let server: Connection | undefined;
    // Time spent in send/recv per side, in microseconds.
    const t = { serverSend: 0, clientRecv: 0, clientSend: 0, serverRecv: 0, streamSend: 0, streamRecv: 0 };
    let dataDatagrams = 0;

    const clientToServer = () => {
      for (;;) {
        const a = nowUs();
        const r = client.send(wire);
        const b = nowUs();
        t.clientSend += b - a;
        if (r === null) return;
        const datagram = wire.subarray(0, r[0]);
        server ??= quiche.Connection.accept(quiche.Header.fromSlice(datagram, CID_LEN).dcid, null, sAddr, cAddr, serverConfig);
        server.recv(datagram, toServer);
        t.serverRecv += nowUs() - b;
      }
    };
    const serverToClient = (max: number) => {
      for (let n = 0; n < max; n++) {
        const a = nowUs();
        const r = server!.send(wire);
        const b = nowUs();
        t.serverSend += b - a;
        if (r === null) return;
        client.recv(wire.subarray(0, r[0]), toClient);
        t.clientRecv += nowUs() - b;
        dataDatagrams++;
      }
    };
    for (let i = 0; i < 20 && !(client.isEstablished() && server?.isEstablished()); i++) {
      clientToServer();
      serverToClient(Infinity);
    }
    if (!server?.isEstablished()) throw new Error('the in-memory quiche handshake did not complete');
    client.streamSend(0, new Uint8Array(1), false);
    clientToServer();
    const sink = Buffer.allocUnsafe(256 * 1024);
    for (const id of server.readable()) server.streamRecv(id, sink);
    for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] = 0;
    dataDatagrams = 0;

    const source = randomBytes(4 * MiB);
    let written = 0;
    let read = 0;
    while (read < total) {
      let a = nowUs();
      while (written < total) {
        const offset = written % source.length;
        const n = server.streamSend(0, source.subarray(offset, Math.min(source.length, offset + total - written)), false);
        if (!n) break;
        written += n;
      }
      t.streamSend += nowUs() - a;
      serverToClient(ACK_EVERY);
      a = nowUs();
      for (const id of client.readable()) {
        for (;;) {
          let r: [number, boolean] | null;
          try {
            r = client.streamRecv(id, sink);
          } catch {
            break; // Done: nothing more to read on this stream now
          }
          if (r === null) break;
          read += r[0];
        }
      }
      t.streamRecv += nowUs() - a;
      clientToServer();
      // No real time passes here, but an expired timer (delayed ACK) still has to run.
      if (server.timeout() === 0) server.onTimeout();
      if (client.timeout() === 0) client.onTimeout();
    }
    const per = (us: number) => us / dataDatagrams;
    return {
      datagrams: dataDatagrams,
      payloadPerDatagram: total / dataDatagrams,
      sendUs: per(t.serverSend),
      recvUs: per(t.clientRecv),
      senderUs: per(t.serverSend + t.streamSend + t.serverRecv),
      receiverUs: per(t.clientRecv + t.streamRecv + t.clientSend),
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Child side of the socket measurement: counts datagrams and reports its own CPU per datagram. */
async function socketReceiver(kind: UdpKind): Promise<void> {
  const socket = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind });
  let n = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  socket.onDatagram = () => {
    cpu0 ??= process.cpuUsage();
    n++;
  };
  process.send?.(socket.local.port);
  process.on('message', () => {
    const cpu = process.cpuUsage(cpu0);
    process.send?.({ n, cpuUs: cpu.user + cpu.system }, () => process.exit(0));
  });
}

async function socketFloor(kind: UdpKind, datagramSize: number, count: number): Promise<SocketFloor> {
  const child = fork(new URL(import.meta.url).pathname, ['--receiver', kind], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
  const socket = await openUdpEndpoint({ host: '127.0.0.1', port: 0, connect: { host: '127.0.0.1', port }, kind });
  const batch = 64;
  const buf = Buffer.alloc(datagramSize * batch);
  const lengths = new Uint32Array(batch).fill(datagramSize);
  const cpu0 = process.cpuUsage();
  let sent = 0;
  while (sent < count) {
    socket.sendBatch(buf, datagramSize, lengths, batch, undefined, () => undefined);
    sent += batch;
    // Let the child drain between batches (the kernel drops what its buffer cannot hold).
    if (sent % (batch * 16) === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 300));
  child.send('report');
  const rx = await new Promise<{ n: number; cpuUs: number }>((resolve) => child.once('message', (m) => resolve(m as { n: number; cpuUs: number })));
  await socket.close();
  return { sendUs: (cpu.user + cpu.system) / sent, receiveUs: rx.cpuUs / Math.max(1, rx.n), delivered: rx.n, sent };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, sizes: { type: 'string', default: '1350,8192' } } });
  const total = Number(values.mib) * MiB;
  const sizes = values.sizes!.split(',').map(Number);
  const kinds: UdpKind[] = defaultUdpKind() === 'batched' ? ['batched', 'dgram'] : ['dgram'];
  console.log(`transport floor: ${values.mib} MiB through quiche in memory, then each UDP socket on 127.0.0.1; µs are CPU per datagram\n`);
  console.log('| datagram | socket | quiche send | quiche recv | sender: quiche + stream write + socket send | receiver: quiche + stream read + socket receive | ceiling, one core per peer |');
  console.log('| --: | --- | --: | --: | --: | --: | --: |');
  let budget: string | undefined;
  for (const size of sizes) {
    const q = await quicheFloor(size, total);
    if (size === 1350) budget = (q.payloadPerDatagram / 180).toFixed(1);
    for (const kind of kinds) {
      const d = await socketFloor(kind, size, Math.min(200_000, q.datagrams));
      const sender = q.senderUs + d.sendUs;
      const receiver = q.receiverUs + d.receiveUs;
      const mbps = q.payloadPerDatagram / Math.max(sender, receiver);
      console.log(
        `| ${size} B | ${kind} | ${q.sendUs.toFixed(1)} µs | ${q.recvUs.toFixed(1)} µs | ${q.senderUs.toFixed(1)} + ${d.sendUs.toFixed(1)} = ${sender.toFixed(1)} µs | ` +
          `${q.receiverUs.toFixed(1)} + ${d.receiveUs.toFixed(1)} = ${receiver.toFixed(1)} µs | ${mbps.toFixed(0)} MB/s (${(1024 ** 3 / 1e6 / mbps).toFixed(1)} s per GiB) |`,
      );
    }
  }
  if (budget) console.log(`\nIssue 6's W1 target (180 MB/s at 1350-byte datagrams) allows at most ${budget} µs per datagram on each side.`);
}

const receiverAt = process.argv.indexOf('--receiver');
if (receiverAt >= 0) await socketReceiver(process.argv[receiverAt + 1] as UdpKind);
else await main();
