import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { startConnectProcess, startServeProcess } from '../test-support/cli-process.js';
import { hashTree, seededBytes, tempDirs, writeTree, type TreeSpec } from '../test-support/trees.js';
import { UdpRelay } from '../test-support/udp-relay.js';

const BLACKOUT_MS = 10_000;

function lossyTree(): TreeSpec {
  const spec: TreeSpec = {
    'big/a.bin': seededBytes('lossy-a', 2 * CHUNK_SIZE + 12_345),
    'big/b.bin': seededBytes('lossy-b', CHUNK_SIZE + 1),
  };
  for (let i = 0; i < 30; i++) spec[`small/${i}.txt`] = seededBytes(`lossy-small-${i}`, 1000 + i * 997);
  return spec;
}

test('a sync through 5% loss, duplication, reordering and a 10 s blackout completes with identical trees', { timeout: 180_000 }, async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, lossyTree());
  const server = await startServeProcess(t, sh, served);
  const relay = await UdpRelay.start({
    target: { host: server.host, port: server.port },
    drop: 0.05,
    duplicate: 0.02,
    reorder: 0.03,
    jitterMs: 2,
    seed: 20261125,
  });
  t.after(() => relay.close());
  // Slowed to a known rate so the blackout lands mid-transfer however fast the machine is.
  const client = startConnectProcess(t, ch, [`${relay.address.host}:${relay.address.port}`, dest, '--accept-first', '--once', '--rate-mbps', '8']);
  await client.waitFor((e) => e.event === 'progress', 'the first progress line', 30_000);
  const atBlackout = relay.stats();
  relay.blackout(BLACKOUT_MS);
  const blackoutStarted = Date.now();
  // quiche can strand a stream's data after the blackout, an answer in the server's stack or a
  // request in the client's; the keep-alive checks notice either and the request is asked again
  // (transport/quic-connection.ts), so the one session must finish.
  const pass = await client.waitFor((e) => e.event === 'pass', 'the pass line', 90_000);
  assert.equal((await client.exited).code, 0, client.stderr);
  assert.ok(Date.now() - blackoutStarted >= BLACKOUT_MS, 'the pass could not finish before the link came back');
  assert.deepEqual(pass.failures, []);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  assert.deepEqual(await readdir(dest).then((n) => n.sort()), ['big', 'small'], 'no staging left behind');

  const end = relay.stats();
  const droppedInBlackout = end.toServer.dropped + end.toClient.dropped - atBlackout.toServer.dropped - atBlackout.toClient.dropped;
  assert.ok(droppedInBlackout > 0, 'the blackout really swallowed datagrams');
  assert.ok(end.toServer.duplicated + end.toClient.duplicated > 0, 'duplicates really happened');
  const lossRate = (end.toClient.dropped + end.toServer.dropped) / (end.toClient.datagrams + end.toServer.datagrams);
  console.log(`lossy: ${end.toClient.datagrams + end.toServer.datagrams} datagrams, ${(lossRate * 100).toFixed(1)}% dropped (blackout included), ${droppedInBlackout} in the blackout`);
});

test('a NAT that gives the client a new port mid-transfer: the server follows it, and the pass finishes without a reconnect', { timeout: 120_000 }, async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  // More than QUIC's 16 MiB window, so most of it is still to be sent when the port changes.
  await writeTree(served, { 'big.bin': seededBytes('rebind', 48 * CHUNK_SIZE + 777), ...lossyTree() });
  const server = await startServeProcess(t, sh, served);
  const relay = await UdpRelay.start({ target: { host: server.host, port: server.port }, seed: 20261127 });
  t.after(() => relay.close());
  const client = startConnectProcess(t, ch, [`${relay.address.host}:${relay.address.port}`, dest, '--accept-first', '--once', '--rate-mbps', '160']);
  await client.waitFor((e) => e.event === 'progress', 'the first progress line', 30_000);
  const before = relay.stats().toClient.bytes;
  // The server now hears the client from a new address; what it sends to the old one is lost.
  await relay.rebind();
  const rebound = Date.now();
  const pass = await client.waitFor((e) => e.event === 'pass', 'the pass line', 60_000);
  const tookMs = Date.now() - rebound;
  assert.equal((await client.exited).code, 0, client.stderr);
  assert.deepEqual(pass.failures, []);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  // What quiche 0.18 sent to the old port before it heard the new one is never sent again (it
  // stays in flight on the old path), so an answer can stall, and the session may then move to
  // a new connection (its notice "continuing on a new one"); it never loses the connection.
  assert.doesNotMatch(client.stderr, /lost the connection/);
  // Not following the client took the 30 s idle timeout and failed the pass.
  assert.ok(tookMs < 20_000, `the pass ended ${tookMs} ms after the port changed`);
  const after = relay.stats().toClient.bytes - before;
  assert.ok(after > 16 * CHUNK_SIZE, `most of the data came after the port changed (${after} bytes)`);
  console.log(`rebind: the pass ended ${tookMs} ms after the client's port changed; ${(after / 1e6).toFixed(1)} MB came after${/new one/.test(client.stderr) ? '; on a new connection' : ''}`);
});
