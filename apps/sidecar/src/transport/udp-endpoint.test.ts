import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultUdpKind, formatAddress, openUdpEndpoint, type UdpEndpoint, type UdpKind } from './udp-endpoint.js';

test('on Linux the batched UDP socket is built and is the default (npm run build compiles native/udp_batch.c)', { skip: process.platform !== 'linux' }, () => {
  assert.equal(process.env.LEAFSYNC_UDP, undefined, 'LEAFSYNC_UDP would override the default');
  assert.equal(defaultUdpKind(), 'batched');
});

/** Datagrams as a sender lays them out: slot i holds lengths[i] bytes, each byte telling which datagram it is. */
function batchOf(lengths: number[], slotSize: number): { buf: Buffer; lengths: Uint32Array } {
  const buf = Buffer.alloc(slotSize * lengths.length);
  lengths.forEach((n, i) => buf.fill((i * 7 + 1) & 0xff, i * slotSize, i * slotSize + n));
  return { buf, lengths: Uint32Array.from(lengths) };
}

function withinTwoSeconds<T>(p: Promise<T>, failure: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(failure)), 2000)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function collect(endpoint: UdpEndpoint, want: number): Promise<Array<{ data: Buffer; host: string; port: number }>> {
  const got: Array<{ data: Buffer; host: string; port: number }> = [];
  return new Promise((resolve) => {
    endpoint.onDatagram = (data, host, port) => {
      // The endpoint reuses its memory after the call: keep a copy.
      got.push({ data: Buffer.from(data), host, port });
      if (got.length === want) resolve(got);
    };
  });
}

// Runs of equal lengths become one GSO message with a shorter last; a longer one starts a new
// message; 60 full ones pass the 48-segment payload limit at 1350 bytes.
const LENGTHS = [1350, 1350, 1350, 700, 1350, 90, 1200, 1200, ...Array<number>(60).fill(1350), 1, 1350];

const pairs: Array<[UdpKind, UdpKind]> = [
  ['batched', 'batched'],
  ['batched', 'dgram'],
  ['dgram', 'batched'],
];
for (const [from, to] of pairs) {
  test(`${from} → ${to}: every datagram of a batch arrives whole, in order, with its sender's address`, { skip: process.platform !== 'linux' }, async () => {
    const receiver = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: to });
    const sender = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: from });
    try {
      const arrived = collect(receiver, LENGTHS.length);
      const { buf, lengths } = batchOf(LENGTHS, 1350);
      let done = false;
      sender.sendBatch(buf, 1350, lengths, lengths.length, receiver.local, () => (done = true));
      const got = await arrived;
      assert.deepEqual(
        got.map((d) => d.data.length),
        LENGTHS,
      );
      got.forEach((d, i) => assert.ok(d.data.every((b) => b === ((i * 7 + 1) & 0xff)), `datagram ${i} has its own bytes`));
      assert.ok(got.every((d) => d.host === '127.0.0.1' && d.port === sender.local.port));
      assert.ok(done, 'the batch was released');
      assert.equal(sender.stats().dropped, 0);
      if (from === 'batched') assert.ok(sender.stats().gso, 'GSO stays on over loopback');
      if (to === 'batched') assert.ok(receiver.stats().gro, 'GRO is on');
    } finally {
      await sender.close();
      await receiver.close();
    }
  });
}

test('a connected batched socket sends to its peer and hears only from it', { skip: process.platform !== 'linux' }, async () => {
  const server = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: 'batched' });
  const client = await openUdpEndpoint({ host: '0.0.0.0', port: 0, connect: server.local, kind: 'batched' });
  const stranger = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: 'dgram' });
  try {
    assert.equal(client.local.host, '127.0.0.1', 'connect picks the local address');
    const atServer = collect(server, 1);
    const hi = batchOf([500], 1350);
    client.sendBatch(hi.buf, 1350, hi.lengths, 1, undefined);
    const [hello] = await atServer;
    assert.equal(hello?.port, client.local.port);

    const atClient = collect(client, 1);
    const one = batchOf([10], 1350);
    stranger.sendBatch(one.buf, 1350, one.lengths, 1, client.local);
    const two = batchOf([20], 1350);
    server.sendBatch(two.buf, 1350, two.lengths, 1, client.local);
    const [first] = await atClient;
    assert.equal(first?.data.length, 20, "the stranger's datagram never reached the client");
  } finally {
    await Promise.all([client.close(), server.close(), stranger.close()]);
  }
});

for (const kind of ['batched', 'dgram'] as const) {
  test(`a connected ${kind} socket told its peer is gone (ICMP port unreachable) keeps hearing it when it returns`, { skip: process.platform !== 'linux' }, async () => {
    let server = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: 'batched' });
    const port = server.local.port;
    const client = await openUdpEndpoint({ host: '0.0.0.0', port: 0, connect: server.local, kind });
    try {
      await server.close();
      // Closing lets go of the socket on the event loop's next turn.
      await new Promise((r) => setTimeout(r, 50));
      // Nothing listens on the port now: the client's next datagram is answered with port
      // unreachable, which its socket reports as an error. Before the event loop looks again, the
      // peer comes back on the same port and a datagram of its waits behind that error.
      const reports: string[] = [];
      client.onUnreachable = (what) => reports.push(what);
      const probe = batchOf([40], 1350);
      client.sendBatch(probe.buf, 1350, probe.lengths, 1, undefined);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      server = await openUdpEndpoint({ host: '127.0.0.1', port, kind: 'batched' });
      const waiting = collect(client, 1);
      server.sendBatch(batchOf([30], 1350).buf, 1350, Uint32Array.of(30), 1, client.local);
      assert.equal((await withinTwoSeconds(waiting, 'the datagram waiting behind the error was never read'))[0]?.data.length, 30);
      const after = collect(client, 1);
      server.sendBatch(batchOf([50], 1350).buf, 1350, Uint32Array.of(50), 1, client.local);
      const [back] = await withinTwoSeconds(after, 'the client stopped reading its socket after the error');
      assert.equal(back?.data.length, 50);
      assert.deepEqual(reports, ['port'], 'the error was passed on, once, as "port unreachable"');
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });
}

test('a port in use is EADDRINUSE with the address, as node:dgram says it', { skip: process.platform !== 'linux' }, async () => {
  const first = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: 'batched' });
  try {
    await assert.rejects(openUdpEndpoint({ host: '127.0.0.1', port: first.local.port, kind: 'batched' }), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(err.message, new RegExp(`^bind EADDRINUSE 127\\.0\\.0\\.1:${first.local.port}`));
      return true;
    });
  } finally {
    await first.close();
  }
});

for (const kind of ['batched', 'dgram'] as const) {
  test(`a ${kind} socket's close() resolves once its port is free again (a server restarted on its port)`, { skip: process.platform !== 'linux' }, async () => {
    const first = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind });
    const closing = first.close();
    assert.equal(first.close(), closing, 'a second close() is the same wait');
    await closing;
    const again = await openUdpEndpoint({ host: '127.0.0.1', port: first.local.port, kind });
    await again.close();
  });
}

test('IPv6 loopback works on the batched socket', { skip: process.platform !== 'linux' }, async () => {
  const receiver = await openUdpEndpoint({ host: '::1', port: 0, kind: 'batched' });
  const sender = await openUdpEndpoint({ host: '::1', port: 0, kind: 'batched' });
  try {
    const arrived = collect(receiver, 3);
    const { buf, lengths } = batchOf([1200, 1200, 5], 1200);
    sender.sendBatch(buf, 1200, lengths, 3, receiver.local);
    const got = await arrived;
    assert.deepEqual(got.map((d) => [d.data.length, d.host, d.port]), [
      [1200, '::1', sender.local.port],
      [1200, '::1', sender.local.port],
      [5, '::1', sender.local.port],
    ]);
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test('formatAddress writes addresses as inet_ntop does', () => {
  const v6 = (...groups: number[]) => Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]));
  assert.equal(formatAddress(4, Uint8Array.of(192, 168, 0, 7)), '192.168.0.7');
  assert.equal(formatAddress(6, v6(0, 0, 0, 0, 0, 0, 0, 1)), '::1');
  assert.equal(formatAddress(6, v6(0, 0, 0, 0, 0, 0, 0, 0)), '::');
  assert.equal(formatAddress(6, v6(0xfe80, 0, 0, 0, 0x1, 0x2, 0x3, 0x4)), 'fe80::1:2:3:4');
  assert.equal(formatAddress(6, v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), '2001:db8::1:0:0:1', 'the first of two equal runs');
  assert.equal(formatAddress(6, v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), '2001:db8:0:1:1:1:1:1', 'a single zero group stays');
  assert.equal(formatAddress(6, v6(0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001)), '::ffff:127.0.0.1');
});

test('a batched socket closed from inside its own datagram handler hears nothing more and stays safe to ask', { skip: process.platform !== 'linux' }, async () => {
  const receiver = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: 'batched' });
  const sender = await openUdpEndpoint({ host: '127.0.0.1', port: 0, kind: 'batched' });
  try {
    let heard = 0;
    const first = new Promise<void>((resolve) => {
      receiver.onDatagram = () => {
        heard++;
        void receiver.close();
        resolve();
      };
    });
    const { buf, lengths } = batchOf(Array<number>(10).fill(1000), 1000);
    sender.sendBatch(buf, 1000, lengths, 10, receiver.local);
    await first;
    await new Promise((r) => setTimeout(r, 50));
    sender.sendBatch(buf, 1000, lengths, 10, receiver.local);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(heard, 1, 'the rest of the batch and later datagrams are not delivered');
    assert.equal(receiver.stats().dropped, 0);
    receiver.send(buf.subarray(0, 10), sender.local); // a no-op once closed, not a crash
  } finally {
    await sender.close();
    await receiver.close();
  }
});
