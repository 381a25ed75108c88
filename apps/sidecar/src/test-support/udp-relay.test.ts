import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { connectQuic } from '../transport/quic-client.js';
import { patternBytes, readAll, removeTempDirs, startEchoServer, tempIdentity, writeAll } from '../transport/quic-test-helpers.js';
import { UdpRelay, mulberry32, type LinkConditions } from './udp-relay.js';

interface Endpoint {
  socket: dgram.Socket;
  port: number;
  received: Array<{ data: string; from: number }>;
}

async function endpoint(t: { after(fn: () => void | Promise<void>): void }, echo = false): Promise<Endpoint> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
  const ep: Endpoint = { socket, port: 0, received: [] };
  socket.on('message', (msg, rinfo) => {
    ep.received.push({ data: msg.toString(), from: rinfo.port });
    if (echo) socket.send(msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  ep.port = socket.address().port;
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return ep;
}

async function relayTo(t: { after(fn: () => Promise<void>): void }, target: Endpoint, c: LinkConditions & { seed?: number } = {}): Promise<UdpRelay> {
  const relay = await UdpRelay.start({ target: { host: '127.0.0.1', port: target.port }, ...c });
  t.after(() => relay.close());
  return relay;
}

/** Sends n numbered datagrams, pausing now and then so the kernel's socket buffers never overflow. */
async function sendNumbered(from: Endpoint, to: UdpRelay, n: number, prefix = ''): Promise<void> {
  for (let i = 0; i < n; i++) {
    from.socket.send(`${prefix}${i}`, to.address.port, to.address.host);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
  }
}

async function settle(ms = 150): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(10);
  }
}

test('mulberry32 is deterministic per seed and spreads over [0, 1)', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(xs.slice(0, 100), Array.from({ length: 100 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, mulberry32(43)));
});

test('a clean relay forwards every datagram both ways and counts them', async (t) => {
  const server = await endpoint(t, true);
  const client = await endpoint(t);
  const relay = await relayTo(t, server);
  await sendNumbered(client, relay, 200);
  await until(() => client.received.length === 200, '200 echoes');
  assert.deepEqual(client.received.map((r) => r.data), Array.from({ length: 200 }, (_, i) => String(i)), 'in order, none lost');
  assert.ok(client.received.every((r) => r.from === relay.address.port), 'answers come from the relay, not the server');
  const s = relay.stats();
  assert.equal(s.toServer.datagrams, 200);
  assert.equal(s.toClient.datagrams, 200);
  assert.equal(s.toServer.bytes, client.received.reduce((n, r) => n + r.data.length, 0));
  assert.equal(s.toServer.dropped + s.toClient.dropped, 0);
});

test('drop: a seeded 20% loss drops about 20%, and the same seed drops exactly the same datagrams', async (t) => {
  const runs: string[][] = [];
  for (let run = 0; run < 2; run++) {
    const server = await endpoint(t);
    const client = await endpoint(t);
    const relay = await relayTo(t, server, { drop: 0.2, seed: 7 });
    await sendNumbered(client, relay, 2000);
    await until(() => relay.stats().toServer.datagrams === 2000, 'all datagrams at the relay');
    const dropped = relay.stats().toServer.dropped;
    await until(() => server.received.length === 2000 - dropped, 'the survivors at the server');
    assert.ok(dropped > 320 && dropped < 480, `dropped ${dropped} of 2000`);
    runs.push(server.received.map((r) => r.data));
  }
  assert.deepEqual(runs[0], runs[1]);
});

test('duplicate and reorder: every datagram arrives twice, some out of order, none lost', async (t) => {
  const server = await endpoint(t);
  const client = await endpoint(t);
  const relay = await relayTo(t, server, { duplicate: 1, seed: 3 });
  await sendNumbered(client, relay, 100);
  await until(() => server.received.length === 200, 'both copies of each');
  assert.equal(relay.stats().toServer.duplicated, 100);

  const server2 = await endpoint(t);
  const relay2 = await relayTo(t, server2, { reorder: 0.3, seed: 3 });
  await sendNumbered(client, relay2, 300);
  await until(() => server2.received.length === 300, 'all 300');
  const order = server2.received.map((r) => Number(r.data));
  assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i));
  assert.notDeepEqual(order, Array.from({ length: 300 }, (_, i) => i), 'some datagrams overtook others');
});

test('delay and jitter: datagrams arrive no sooner than the delay', async (t) => {
  const server = await endpoint(t, true);
  const client = await endpoint(t);
  const relay = await relayTo(t, server, { delayMs: 40, jitterMs: 20 });
  const started = Date.now();
  await sendNumbered(client, relay, 5);
  await until(() => client.received.length === 5, 'the echoes');
  assert.ok(Date.now() - started >= 80, 'two delayed hops');
});

test('blackout: nothing passes either way until it ends, then everything does again', async (t) => {
  const server = await endpoint(t, true);
  const client = await endpoint(t);
  const relay = await relayTo(t, server);
  relay.blackout(300);
  await sendNumbered(client, relay, 20, 'dark');
  await settle(100);
  assert.equal(server.received.length, 0);
  assert.equal(relay.stats().toServer.dropped, 20);
  await settle(250);
  await sendNumbered(client, relay, 20, 'light');
  await until(() => client.received.length === 20, 'echoes after the blackout');
  assert.ok(client.received.every((r) => r.data.startsWith('light')));
  // The server-to-client direction goes dark too: answer the relay's upstream socket directly.
  const upstreamPort = server.received[0]!.from;
  relay.blackout(200);
  server.socket.send('late', upstreamPort, '127.0.0.1');
  await settle(100);
  assert.equal(client.received.length, 20);
  assert.equal(relay.stats().toClient.dropped, 1);
});

test('each client gets its own upstream socket', async (t) => {
  const server = await endpoint(t, true);
  const a = await endpoint(t);
  const b = await endpoint(t);
  const relay = await relayTo(t, server);
  await sendNumbered(a, relay, 3, 'a');
  await sendNumbered(b, relay, 3, 'b');
  await until(() => a.received.length === 3 && b.received.length === 3, 'echoes to both');
  assert.ok(a.received.every((r) => r.data.startsWith('a')) && b.received.every((r) => r.data.startsWith('b')), 'answers reach the right client');
  const fromA = new Set(server.received.filter((r) => r.data.startsWith('a')).map((r) => r.from));
  const fromB = new Set(server.received.filter((r) => r.data.startsWith('b')).map((r) => r.from));
  assert.equal(fromA.size, 1);
  assert.equal(fromB.size, 1);
  assert.notDeepEqual([...fromA], [...fromB]);
});

test('rebind: the server hears the client from a new port, and its answers to the new port still reach the client', async (t) => {
  const server = await endpoint(t, true);
  const a = await endpoint(t);
  const relay = await relayTo(t, server);
  await sendNumbered(a, relay, 3, 'before');
  await until(() => a.received.length === 3, 'echoes before');
  await relay.rebind();
  await sendNumbered(a, relay, 3, 'after');
  await until(() => a.received.length === 6, 'echoes after');
  const before = new Set(server.received.filter((r) => r.data.startsWith('before')).map((r) => r.from));
  const after = new Set(server.received.filter((r) => r.data.startsWith('after')).map((r) => r.from));
  assert.equal(before.size, 1);
  assert.equal(after.size, 1);
  assert.notDeepEqual([...after], [...before]);
});

test('conditions are validated', async (t) => {
  const server = await endpoint(t);
  await assert.rejects(UdpRelay.start({ target: { host: '127.0.0.1', port: server.port }, drop: 1.5 }), /drop must be a probability/);
  const relay = await relayTo(t, server);
  assert.throws(() => relay.setConditions({ delayMs: -1 }), /delayMs/);
});

test('real QUIC through the relay: a 512 KiB echo survives 5% loss, duplication and reordering', { timeout: 60_000 }, async (t) => {
  t.after(removeTempDirs);
  const server = await startEchoServer(await tempIdentity());
  t.after(() => server.close());
  const relay = await UdpRelay.start({ target: server.address, drop: 0.05, duplicate: 0.02, reorder: 0.05, seed: 11 });
  t.after(() => relay.close());
  const conn = await connectQuic({ host: relay.address.host, port: relay.address.port });
  t.after(() => conn.close());
  const data = patternBytes(512 * 1024, 5);
  const s = await conn.openStream();
  const [echoed] = await Promise.all([readAll(s), writeAll(s, data)]);
  assert.ok(echoed.equals(data));
  const st = relay.stats();
  assert.ok(st.toServer.dropped > 0 && st.toClient.dropped > 0, 'loss really happened both ways');
});
