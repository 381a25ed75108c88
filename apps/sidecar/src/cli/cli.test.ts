import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { runCli, startConnectProcess, startServeProcess, passLines } from '../test-support/cli-process.js';
import { hashTree, seededBytes, tempDir, tempDirs, writeTree } from '../test-support/trees.js';
import { sampleTree } from '../test-support/pull-scenarios.js';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { UdpRelay } from '../test-support/udp-relay.js';

/** A failure must be exactly one line on stderr, not a stack trace. */
function assertOneLineError(run: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.notEqual(run.code, 0, 'exits non-zero');
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
}

test('--version prints the package version, like --help exits 0', async (t) => {
  const home = await tempDir(t, 'home');
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const run = await runCli([flag], { home });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  }
});

test('serve + connect --once --accept-first --json: identical trees, one JSON line, pinned', async (t) => {
  const [served, dest, serverHome, clientHome] = await tempDirs(t, 'served', 'dest', 'shome', 'chome');
  await writeTree(served, sampleTree());
  const server = await startServeProcess(t, serverHome, served);
  assert.match(server.fingerprint, /^[0-9a-f]{64}$/);
  const id = await runCli(['id'], { home: serverHome });
  assert.equal(id.stdout.trim(), server.fingerprint);

  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: clientHome });
  assert.equal(run.code, 0, run.stderr);
  const passes = passLines(run);
  assert.equal(passes.length, 1);
  assert.equal(passes[0]!.files, 5);
  assert.equal(passes[0]!.filesChanged, 5);
  assert.ok(passes[0]!.bytesFetched >= 6 * CHUNK_SIZE);
  assert.equal(typeof passes[0]!.elapsedMs, 'number');
  assert.deepEqual(await hashTree(dest), await hashTree(served));

  const list = await runCli(['trust', 'list', '--json'], { home: clientHome });
  assert.deepEqual(JSON.parse(list.stdout).servers.map((s: { address: string; fingerprint: string }) => [s.address, s.fingerprint]), [[server.address, server.fingerprint]]);

  // Pinned now: no flag needed, and nothing changed means nothing travels.
  const again = await runCli(['connect', server.address, dest, '--once', '--json'], { home: clientHome });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(passLines(again)[0]!.bytesFetched, 0);
});

test('one writer per folder: a second connect, or a serve --allow-push, into a folder a connect is syncing is refused in one line', async (t) => {
  const [served, dest, serverHome, clientHome] = await tempDirs(t, 'served', 'dest', 'shome', 'chome');
  await writeTree(served, sampleTree());
  const server = await startServeProcess(t, serverHome, served);
  const first = startConnectProcess(t, clientHome, [server.address, dest, '--accept-first', '--interval', '0.2']);
  await first.waitFor((e) => e.event === 'pass', 'the first pass');
  const second = await runCli(['connect', server.address, dest, '--once', '--json'], { home: clientHome });
  assert.equal(second.code, 1);
  assert.equal(second.stderr, `leafsync: error: another leafsync session is already writing into ${dest}; stop it first (connect, watch and serve --allow-push each need a folder of their own)\n`);
  const pushTarget = await runCli(['serve', dest, '--allow-push', '--port', '0', '--bind', '127.0.0.1'], { home: serverHome });
  assert.equal(pushTarget.code, 1);
  assert.match(pushTarget.stderr, /already writing into/);
  // A read-only serve of the same folder is fine: it writes nothing there.
  await startServeProcess(t, serverHome, dest);
  await first.kill('SIGINT');
  const after = await runCli(['connect', server.address, dest, '--once', '--json'], { home: clientHome });
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});

test('an unpinned server is refused without --accept-first, and nothing is written', async (t) => {
  const [served, dest, serverHome, clientHome] = await tempDirs(t, 'served', 'dest', 'shome', 'chome');
  await writeTree(served, { 'a.txt': 'a' });
  const server = await startServeProcess(t, serverHome, served);
  const run = await runCli(['connect', server.address, dest, '--once'], { home: clientHome });
  assertOneLineError(run, new RegExp(`not a trusted server.*${server.fingerprint}.*--accept-first`));
  assert.deepEqual([...(await hashTree(dest)).keys()], []);
});

test('a new identity on a pinned address is refused with both fingerprints; the destination is unchanged', async (t) => {
  const [served, dest, homeA, homeB, clientHome] = await tempDirs(t, 'served', 'dest', 'ha', 'hb', 'ch');
  await writeTree(served, { 'a.txt': 'version 1' });
  const a = await startServeProcess(t, homeA, served);
  assert.equal((await runCli(['connect', a.address, dest, '--accept-first', '--once'], { home: clientHome })).code, 0);
  await a.stop();
  await writeFile(join(served, 'a.txt'), 'version 2 from an impostor');
  const before = await hashTree(dest);
  const b = await startServeProcess(t, homeB, served, ['--port', String(a.port)]);
  assert.notEqual(b.fingerprint, a.fingerprint);
  const run = await runCli(['connect', b.address, dest, '--accept-first', '--once'], { home: clientHome });
  assertOneLineError(run, new RegExp(`presented fingerprint ${b.fingerprint}.*pinned fingerprint is ${a.fingerprint}.*trust remove ${b.address}`));
  assert.deepEqual(await hashTree(dest), before);
  assert.equal(await readFile(join(dest, 'a.txt'), 'utf8'), 'version 1');
});

test('--fingerprint: the right value connects and pins, a wrong one is refused', async (t) => {
  const [served, dest, serverHome, c1, c2] = await tempDirs(t, 'served', 'dest', 'sh', 'c1', 'c2');
  await writeTree(served, { 'a.txt': 'a' });
  const server = await startServeProcess(t, serverHome, served);
  const wrong = 'f'.repeat(64);
  const bad = await runCli(['connect', server.address, dest, '--fingerprint', wrong, '--once'], { home: c1 });
  assertOneLineError(bad, new RegExp(`presented fingerprint ${server.fingerprint}.*expected fingerprint is ${wrong}`));
  assert.equal((await hashTree(dest)).size, 0);
  const good = await runCli(['connect', server.address, dest, '--fingerprint', server.fingerprint.toUpperCase(), '--once'], { home: c2 });
  assert.equal(good.code, 0, good.stderr);
  assert.equal(await readFile(join(dest, 'a.txt'), 'utf8'), 'a');
});

test('trust add / list / remove round-trip', async (t) => {
  const home = await tempDir(t, 'home');
  const fp = 'ab'.repeat(32);
  assert.equal((await runCli(['trust', 'add', '10.1.2.3:4455', fp], { home })).code, 0);
  const list = await runCli(['trust', 'list'], { home });
  assert.match(list.stdout, new RegExp(`10\\.1\\.2\\.3:4455\\s+${fp}`));
  assert.equal((await runCli(['trust', 'remove', '10.1.2.3:4455'], { home })).code, 0);
  assert.match((await runCli(['trust', 'list'], { home })).stdout, /nothing pinned/);
  assertOneLineError(await runCli(['trust', 'remove', '10.1.2.3:4455'], { home }), /nothing is pinned for 10\.1\.2\.3:4455/);
  assertOneLineError(await runCli(['trust', 'add', '10.1.2.3:4455', 'xyz'], { home }), /not a fingerprint/);
});

test('bad input: each mistake exits non-zero with one clear line', async (t) => {
  const home = await tempDir(t, 'home');
  const dest = await tempDir(t, 'dest');
  assertOneLineError(await runCli(['frobnicate'], { home }), /unknown command 'frobnicate'/);
  assertOneLineError(await runCli(['connect', '127.0.0.1:4455', dest, '--bogus'], { home }), /unknown option '--bogus'/);
  assertOneLineError(await runCli(['connect', 'not-an-address', dest, '--once'], { home }), /not a valid HOST:PORT/);
  assertOneLineError(await runCli(['connect', '127.0.0.1:99999', dest, '--once'], { home }), /not a valid HOST:PORT/);
  assertOneLineError(await runCli(['serve', join(dest, 'missing'), '--port', '0'], { home }), /folder not found/);
  assertOneLineError(await runCli(['connect', '127.0.0.1:4455', join(dest, 'no/such/parent'), '--once', '--accept-first'], { home }), /parent folder does not exist/);
  assertOneLineError(await runCli(['connect', '127.0.0.1:4455', dest, '--streams', '0'], { home }), /streams must be/);
  assertOneLineError(await runCli(['serve', dest, '--congestion', 'reno'], { home }), /Allowed choices are cubic, bbr/);
});

test('nothing listening: "no response from HOST:PORT" within about 10 s', async (t) => {
  const home = await tempDir(t, 'home');
  const dest = await tempDir(t, 'dest');
  // A bound but silent UDP socket: the port is certainly not a leafsync server.
  const silent = createSocket('udp4');
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => silent.close());
  const port = silent.address().port;
  const run = await runCli(['connect', `127.0.0.1:${port}`, dest, '--accept-first', '--once'], { home, timeoutMs: 30_000 });
  assertOneLineError(run, new RegExp(`no response from 127\\.0\\.0\\.1:${port}`));
  assert.ok(run.ms < 14_000, `gave up after ${Math.round(run.ms)} ms`);
});

test('--file on serve and on connect syncs just that file', async (t) => {
  const [served, d1, d2, sh, ch] = await tempDirs(t, 'served', 'd1', 'd2', 'sh', 'ch');
  await writeTree(served, sampleTree());
  const whole = await startServeProcess(t, sh, served);
  const run = await runCli(['connect', whole.address, d1, '--accept-first', '--once', '--file', 'a/b/c/deep.txt'], { home: ch });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual([...(await hashTree(d1)).keys()], ['a', 'a/b', 'a/b/c', 'a/b/c/deep.txt']);

  const missing = await runCli(['connect', whole.address, d1, '--once', '--file', 'no/such.txt'], { home: ch });
  assertOneLineError(missing, /not found: no\/such\.txt|has no file "no\/such\.txt"/i);

  const one = await startServeProcess(t, sh, served, ['--file', 'exactly-one-chunk.bin']);
  const run2 = await runCli(['connect', one.address, d2, '--accept-first', '--once'], { home: ch });
  assert.equal(run2.code, 0, run2.stderr);
  assert.deepEqual([...(await hashTree(d2)).keys()], ['exactly-one-chunk.bin']);
  const refused = await runCli(['connect', one.address, d2, '--once', '--file', 'empty.txt'], { home: ch });
  assertOneLineError(refused, /shares only "exactly-one-chunk\.bin"/);
});

test('--congestion bbr on both sides: a pull through a link losing 2% of datagrams each way arrives identical', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await mkdir(served, { recursive: true });
  await writeFile(join(served, 'lossy.bin'), seededBytes('bbr', 16 * CHUNK_SIZE + 12345));
  const server = await startServeProcess(t, sh, served, ['--congestion', 'bbr']);
  const relay = await UdpRelay.start({ target: { host: server.host, port: server.port }, drop: 0.02, seed: 5 });
  t.after(() => relay.close());
  const run = await runCli(['connect', `${relay.address.host}:${relay.address.port}`, dest, '--accept-first', '--once', '--json', '--congestion', 'bbr'], { home: ch });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  const { toClient } = relay.stats();
  assert.ok(toClient.dropped > 0, 'the relay did drop some of the data');
});

test('throughput sanity: a 64 MiB file over QUIC (reports MB/s)', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await mkdir(served, { recursive: true });
  await writeFile(join(served, 'big.bin'), seededBytes('throughput', 64 * CHUNK_SIZE));
  const server = await startServeProcess(t, sh, served);
  // Let the server finish hashing so the measurement is the transfer, not the scan.
  await new Promise((r) => setTimeout(r, 500));
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: ch });
  assert.equal(run.code, 0, run.stderr);
  const pass = passLines(run)[0]!;
  assert.equal(pass.bytesFetched, 64 * CHUNK_SIZE);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  const mbps = pass.bytesFetched / 1e6 / (pass.elapsedMs / 1000);
  console.log(`throughput: 64 MiB in ${pass.elapsedMs} ms = ${mbps.toFixed(1)} MB/s`);
});
