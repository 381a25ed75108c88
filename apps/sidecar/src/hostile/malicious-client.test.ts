import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { STAGING_DIR } from '../engine/staging-file.js';
import { MAX_FRAME_BYTES, MAX_INDICES_PER_REQUEST } from '../protocol/messages.js';
import { FIRST_CHUNKS_PER_REQUEST } from '../protocol/first-chunk-batcher.js';
import { connectQuic } from '../transport/quic-client.js';
import type { QuicConnection } from '../transport/types.js';
import { runCli, startServeProcess, type ServeProcess } from '../test-support/cli-process.js';
import { rssBytes } from '../test-support/process-memory.js';
import { ScriptedPeer, type FakeEntry } from '../test-support/malicious-server.js';
import { ask, frame, hello, type RawAnswer } from '../test-support/raw-client.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { snapshotTree } from '../test-support/tree-snapshot.js';
import { hashTree, seededBytes, tempDir, tempDirs, writeTree } from '../test-support/trees.js';

/** Marks every byte that lives outside the served folder or in its internals: no answer may carry it. */
const SECRET = `TOP-SECRET-${randomBytes(8).toString('hex')}`;
/** A `leafsync serve` process under attack stays well under this. */
const SERVER_RSS_LIMIT = 600 * 1024 * 1024;

interface Target {
  served: string;
  outside: string;
  server: ServeProcess;
  before: Map<string, string>;
  outsideBefore: Map<string, string>;
  peakRss: () => number;
}

/** A real `leafsync serve` over a folder with internals, a symlink out and an ignored file, all holding SECRET. */
async function target(t: TestContext, extra: string[] = [], serverHome?: string): Promise<Target> {
  const [served, outside, home] = await tempDirs(t, 'served', 'outside', 'sh');
  await writeTree(served, {
    'public.txt': 'public\n',
    'docs/readme.md': '# hi\n',
    'big.bin': seededBytes('mc-big', 2 * CHUNK_SIZE + 3),
    '.git/config': SECRET,
    [`${STAGING_DIR}/0123.part`]: SECRET,
    '.leafsync_trash/old/gone.txt': SECRET,
    'notes.part': SECRET,
    '.leafsyncignore': 'private.log\n',
    'private.log': SECRET,
  });
  await writeTree(outside, { 'secret.txt': SECRET, 'dir/inner.txt': SECRET });
  await symlink(outside, join(served, 'link'));
  await symlink(join(outside, 'secret.txt'), join(served, 'link-file'));
  const server = await startServeProcess(t, serverHome ?? home, served, extra);
  let peak = 0;
  const watchdog = setInterval(() => {
    const pid = server.cli.child.pid;
    const rss = pid === undefined ? undefined : rssBytes(pid);
    if (rss !== undefined) peak = Math.max(peak, rss);
  }, 100);
  t.after(() => clearInterval(watchdog));
  // Let the server hash its folder so snapshots and timings see a settled server.
  await new Promise((r) => setTimeout(r, 300));
  return { served, outside, server, before: await snapshotTree(served), outsideBefore: await snapshotTree(outside), peakRss: () => peak };
}

async function connectTo(t: TestContext, tg: Target): Promise<QuicConnection> {
  const conn = await connectQuic({ host: tg.server.host, port: tg.server.port });
  t.after(() => conn.close());
  return conn;
}

/** What a client should end up with: the served tree minus the file .leafsyncignore excludes. */
async function servedTree(tg: Target): Promise<Map<string, string>> {
  const tree = await hashTree(tg.served);
  tree.delete('private.log');
  return tree;
}

/** The server survived, still serves an honest client the right tree, and its folder is byte-identical. */
async function assertStillHealthy(t: TestContext, tg: Target, opts: { stagingMayRemain?: boolean } = {}): Promise<void> {
  assert.ok(tg.server.cli.running, `the server is still up; stderr:\n${tg.server.cli.stderr}`);
  const [dest, home] = await tempDirs(t, 'honest-dest', 'honest-home');
  const run = await runCli(['connect', tg.server.address, dest, '--accept-first', '--once', '--json'], { home, timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await hashTree(dest), await servedTree(tg), 'an honest client still gets exactly the served tree');
  // A refused push may leave its verified chunks staged for a retry: internal, never visible.
  const strip = (m: Map<string, string>) => new Map([...m].filter(([k]) => !opts.stagingMayRemain || !(k === STAGING_DIR || k.startsWith(`${STAGING_DIR}/`)) || tg.before.has(k)));
  assert.deepEqual(strip(await snapshotTree(tg.served)), strip(tg.before), 'the served folder is byte-identical, internals included');
  assert.deepEqual(await snapshotTree(tg.outside), tg.outsideBefore, 'nothing outside the served folder changed');
  assert.ok(tg.peakRss() < SERVER_RSS_LIMIT, `server RSS peaked at ${tg.peakRss() >> 20} MiB`);
}

function assertRefused(answer: RawAnswer, code: string | RegExp, what: string): void {
  assert.ok(answer.error, `${what}: expected an error message, got ${JSON.stringify(answer.messages.map((m) => m.t))}${answer.aborted ? ` (${answer.aborted.message})` : ''}`);
  if (typeof code === 'string') assert.equal(answer.error.code, code, `${what}: ${answer.error.message}`);
  else assert.match(answer.error.code, code, `${what}: ${answer.error.message}`);
  assert.equal(answer.messages.length, 1, `${what}: nothing after the error`);
  assert.ok(!answer.bytes.includes(SECRET), `${what}: the answer leaks the secret`);
}

test('malicious client vs a read-only server: push, out-of-folder, internal and symlinked paths are refused and nothing leaks', { timeout: 90_000 }, async (t) => {
  const tg = await target(t);
  const conn = await connectTo(t, tg);

  assertRefused(await ask(conn, [frame({ t: 'summary' })]), 'PROTOCOL', 'a request before hello');
  assertRefused(await ask(conn, [hello('push')]), 'READ_ONLY', 'hello in push mode');
  assert.match((await ask(conn, [hello('push')])).error?.message ?? '', /read-only/);
  const greeted = await ask(conn, [hello('pull')]);
  assert.equal(greeted.messages[0]?.t, 'welcome');

  const entry = { path: 'public.txt', type: 'file', size: 6, mtimeMs: 0, mode: 0o644, root: new Uint8Array(32) };
  assertRefused(await ask(conn, [frame({ t: 'push', entry, base: new Uint8Array(0) })]), 'NOT_AUTHORISED', 'push after a pull hello');
  assertRefused(await ask(conn, [frame({ t: 'delete', path: 'public.txt', base: new Uint8Array(32) })]), 'NOT_AUTHORISED', 'delete after a pull hello');

  const hostile: Array<[string, string | RegExp]> = [
    ['../outside/secret.txt', 'UNSAFE_PATH'],
    ['docs/../../x', 'UNSAFE_PATH'],
    [join(tg.outside, 'secret.txt'), 'UNSAFE_PATH'],
    ['/etc/passwd', 'UNSAFE_PATH'],
    ['C:\\Windows\\win.ini', 'UNSAFE_PATH'],
    ['C:/x', 'UNSAFE_PATH'],
    ['public.txt\0../../x', 'UNSAFE_PATH'],
    ['.git/config', 'INTERNAL_PATH'],
    ['.GIT/config', 'INTERNAL_PATH'],
    [`${STAGING_DIR}/0123.part`, 'INTERNAL_PATH'],
    ['.leafsync_trash/old/gone.txt', 'INTERNAL_PATH'],
    ['notes.part', 'INTERNAL_PATH'],
    ['private.log', 'IGNORED_PATH'],
    ['link/secret.txt', /UNSAFE_PATH|NOT_REGULAR_FILE/],
    ['link/dir/inner.txt', /UNSAFE_PATH|NOT_REGULAR_FILE/],
    ['link-file', /UNSAFE_PATH|NOT_REGULAR_FILE/],
  ];
  for (const [path, code] of hostile) {
    assertRefused(await ask(conn, [frame({ t: 'hashes', path })]), code, `hashes of ${JSON.stringify(path)}`);
    assertRefused(await ask(conn, [frame({ t: 'chunks', path, indices: [0] })]), code, `chunks of ${JSON.stringify(path)}`);
    // In a batch of first chunks the hostile path is refused alone; the files around it are answered, in order.
    const batch = await ask(conn, [frame({ t: 'first-chunks', paths: ['public.txt', path, 'docs/readme.md'] })]);
    assert.deepEqual(batch.messages.map((m) => m.t), ['chunk', 'error', 'chunk'], `first chunks around ${JSON.stringify(path)}`);
    assert.ok(Buffer.from(batch.messages[0]!.data as Uint8Array).equals(Buffer.from('public\n')));
    assert.match(String(batch.messages[1]!.code), typeof code === 'string' ? new RegExp(`^${code}$`) : code);
    assert.ok(Buffer.from(batch.messages[2]!.data as Uint8Array).equals(Buffer.from('# hi\n')));
    assert.ok(!batch.bytes.includes(SECRET), `first chunks around ${JSON.stringify(path)} leak nothing`);
    const only = await ask(conn, [frame({ t: 'summary', only: path })]);
    assert.ok(only.error && only.messages.length === 1 && !only.bytes.includes(SECRET), `summary of ${JSON.stringify(path)} is refused`);
  }
  const listing = await ask(conn, [frame({ t: 'summary' })]);
  assert.ok(listing.accepted, 'the server acknowledges a request before answering it');
  assert.equal(listing.messages[0]?.t, 'summary-head');
  assert.ok(!listing.bytes.includes(SECRET));
  const paths = listing.messages.flatMap((m) => (m.t === 'entries' ? (m.entries as Array<{ path: string }>).map((e) => e.path) : []));
  assert.deepEqual(paths.sort(), ['.leafsyncignore', 'big.bin', 'docs', 'docs/readme.md', 'public.txt'], 'the listing holds no internals, symlinks or ignored files');
  await assertStillHealthy(t, tg);
});

test('malicious client: malformed, oversized, truncated and out-of-range requests get typed errors', { timeout: 60_000 }, async (t) => {
  const tg = await target(t);
  const conn = await connectTo(t, tg);
  assert.equal((await ask(conn, [hello()])).messages[0]?.t, 'welcome');
  const header = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  // Without FIN: the server must not wait for a body it will never accept. (A write holds back its
  // last byte until the next write or end(), hence the extra byte.)
  assertRefused(await ask(conn, [header(MAX_FRAME_BYTES + 1), Buffer.alloc(2)], { fin: false }), 'FRAME_TOO_LARGE', 'a frame over the limit');
  assertRefused(await ask(conn, [header(0xffffffff), randomBytes(1000)]), 'FRAME_TOO_LARGE', 'a 4 GiB frame header');
  assertRefused(await ask(conn, [header(5), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])]), 'FRAME_DECODE', 'bytes that are not CBOR');
  assertRefused(await ask(conn, [header(100), randomBytes(10)]), 'FRAME_TRUNCATED', 'a frame cut short by FIN');
  assertRefused(await ask(conn, [Buffer.from([0, 0])]), 'FRAME_TRUNCATED', 'half a header');
  assertRefused(await ask(conn, []), 'PROTOCOL', 'an empty stream');
  assertRefused(await ask(conn, [frame({ t: 'nonsense' })]), 'PROTOCOL', 'an unknown request');
  assertRefused(await ask(conn, [frame({ t: 'hashes', path: 'x'.repeat(5000) })]), 'PROTOCOL', 'a path over the length limit');
  assertRefused(await ask(conn, [frame({ t: 'chunks', path: 'big.bin', indices: [-1] })]), 'PROTOCOL', 'a negative chunk index');
  assertRefused(await ask(conn, [frame({ t: 'chunks', path: 'big.bin', indices: [1.5] })]), 'PROTOCOL', 'a fractional chunk index');
  assertRefused(await ask(conn, [frame({ t: 'chunks', path: 'big.bin', indices: [3] })]), 'CHUNK_OUT_OF_RANGE', 'a chunk index past the end');
  assertRefused(await ask(conn, [frame({ t: 'chunks', path: 'big.bin', indices: [0, 2 ** 40] })]), 'CHUNK_OUT_OF_RANGE', 'a huge chunk index');
  assertRefused(await ask(conn, [frame({ t: 'chunks', path: 'big.bin', indices: Array.from({ length: MAX_INDICES_PER_REQUEST + 1 }, () => 0) })]), 'PROTOCOL', 'too many indices');
  assertRefused(await ask(conn, [frame({ t: 'first-chunks', paths: [] })]), 'PROTOCOL', 'a batch of no files');
  assertRefused(await ask(conn, [frame({ t: 'first-chunks', paths: Array.from({ length: FIRST_CHUNKS_PER_REQUEST + 1 }, () => 'public.txt') })]), 'PROTOCOL', 'a batch of too many files');
  assertRefused(await ask(conn, [frame({ t: 'summary', known: new Uint8Array(7) })]), 'PROTOCOL', 'a 7-byte root');
  assertRefused(await ask(conn, [frame({ t: 'hello', v: 99, mode: 'pull' })]), 'VERSION', 'a future protocol version');
  // Two requests on one stream: the first is answered, the rest ignored (never executed).
  const two = await ask(conn, [frame({ t: 'hashes', path: 'public.txt' }), frame({ t: 'hashes', path: '.git/config' })]);
  assert.ok(!two.bytes.includes(SECRET));
  await assertStillHealthy(t, tg);
});

test('malicious client: 1,000 handshakes (200 left open at once) in bounded time', { timeout: 150_000 }, async (t) => {
  const tg = await target(t);
  const started = Date.now();
  const open: QuicConnection[] = [];
  let done = 0;
  const worker = async () => {
    while (done < 1000) {
      done++;
      const conn = await connectQuic({ host: tg.server.host, port: tg.server.port });
      // Every fifth connection is left open, so the server holds 200 at once at the end.
      if (done % 5 === 0) open.push(conn);
      else await conn.close();
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  const ms = Date.now() - started;
  console.log(`1,000 handshakes in ${ms} ms; server RSS peak ${tg.peakRss() >> 20} MiB`);
  assert.ok(ms < 120_000, `1,000 handshakes took ${ms} ms`);
  // With 200 connections still open, an honest client is served.
  await assertStillHealthy(t, tg);
  await Promise.all(open.map((c) => c.close()));
});

test('malicious client: thousands of streams at once on one connection are all answered', { timeout: 90_000 }, async (t) => {
  const tg = await target(t);
  const conn = await connectTo(t, tg);
  assert.equal((await ask(conn, [hello()])).messages[0]?.t, 'welcome');
  const requests = Array.from({ length: 3000 }, (_, i) =>
    i % 3 === 0 ? frame({ t: 'hashes', path: 'big.bin' }) : i % 3 === 1 ? frame({ t: 'summary' }) : frame({ t: 'hashes', path: '.git/config' }),
  );
  const answers = await Promise.all(requests.map((r) => ask(conn, [r], { timeoutMs: 60_000 })));
  answers.forEach((a, i) => {
    assert.equal(a.aborted, undefined, `stream ${i} ended cleanly`);
    if (i % 3 === 2) assertRefused(a, 'INTERNAL_PATH', `stream ${i}`);
    else assert.equal(a.messages[0]?.t, i % 3 === 0 ? 'hashes-head' : 'summary-head');
  });
  await assertStillHealthy(t, tg);
});

test('malicious client: 20,000 garbage datagrams while an honest client syncs', { timeout: 90_000 }, async (t) => {
  const tg = await target(t);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  const dcid = randomBytes(20);
  const kinds: Array<() => Buffer> = [
    () => randomBytes(1 + Math.floor(Math.random() * 1500)),
    () => Buffer.alloc(0),
    // Long header, version 1, with a truncated or impossible connection-ID length.
    () => Buffer.concat([Buffer.from([0xc0 | (Math.random() * 0x3f), 0, 0, 0, 1, Math.floor(Math.random() * 256)]), randomBytes(Math.floor(Math.random() * 30))]),
    // A full-size "Initial" whose body is noise.
    () => Buffer.concat([Buffer.from([0xc3, 0, 0, 0, 1, 8]), randomBytes(8), Buffer.from([8]), randomBytes(8), randomBytes(1200)]),
    // A short header aimed at a connection ID the server never issued.
    () => Buffer.concat([Buffer.from([0x40]), dcid, randomBytes(100)]),
    // An unknown version: the server may answer with version negotiation, never more.
    () => Buffer.concat([Buffer.from([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8]), randomBytes(8), Buffer.from([8]), randomBytes(8), randomBytes(1200)]),
  ];
  let answered = 0;
  sock.on('message', () => answered++);
  const flood = (async () => {
    for (let i = 0; i < 20_000; i++) {
      sock.send(kinds[i % kinds.length]!(), tg.server.port, tg.server.host);
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const [dest, home] = await tempDirs(t, 'dest', 'home');
  const during = runCli(['connect', tg.server.address, dest, '--accept-first', '--once'], { home, timeoutMs: 60_000 });
  await flood;
  const run = await during;
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await hashTree(dest), await servedTree(tg));
  assert.ok(answered <= 20_000 / kinds.length, `the server answered ${answered} garbage datagrams (only version negotiation is allowed)`);
  await assertStillHealthy(t, tg);
});

test('malicious client vs a push-enabled server: unauthorised clients and hostile pushes change nothing', { timeout: 90_000 }, async (t) => {
  const serverHome = await tempDir(t, 'push-sh');
  const [trustedHome, strangerHome] = await tempDirs(t, 'trusted', 'stranger');
  const [trusted, stranger] = await Promise.all([loadOrCreateIdentity(trustedHome), loadOrCreateIdentity(strangerHome)]);
  assert.equal((await runCli(['trust', 'add-client', trusted.fingerprint], { home: serverHome })).code, 0);
  const tg = await target(t, ['--allow-push'], serverHome);

  // No certificate at all: the handshake itself is refused.
  const anonymous = await connectQuic({ host: tg.server.host, port: tg.server.port }).then(
    async (c) => {
      const { error } = await c.closed;
      return error;
    },
    (err: Error) => err,
  );
  assert.match(anonymous?.message ?? '', /certificate/);

  // A stranger with a certificate may pull but not push.
  const strangerConn = await connectQuic({ host: tg.server.host, port: tg.server.port, identity: stranger });
  t.after(() => strangerConn.close());
  assertRefused(await ask(strangerConn, [hello('push')]), 'NOT_AUTHORISED', 'a stranger saying hello in push mode');
  assert.match((await ask(strangerConn, [hello('push')])).error?.message ?? '', new RegExp(stranger.fingerprint));
  assert.equal((await ask(strangerConn, [hello('pull')])).messages[0]?.t, 'welcome');
  const entry = { path: 'public.txt', type: 'file', size: 6, mtimeMs: 0, mode: 0o644, root: new Uint8Array(32) };
  assertRefused(await ask(strangerConn, [frame({ t: 'push', entry, base: new Uint8Array(0) })]), 'NOT_AUTHORISED', 'a stranger pushing');
  assertRefused(await ask(strangerConn, [frame({ t: 'delete', path: 'public.txt', base: new Uint8Array(32) })]), 'NOT_AUTHORISED', 'a stranger deleting');
  await assertStillHealthy(t, tg);
});

test('malicious client: an authorised pusher with bad chunks, lying sizes and hostile paths changes nothing', { timeout: 90_000 }, async (t) => {
  const serverHome = await tempDir(t, 'push-sh');
  const trustedHome = await tempDir(t, 'trusted');
  const trusted = await loadOrCreateIdentity(trustedHome);
  assert.equal((await runCli(['trust', 'add-client', trusted.fingerprint], { home: serverHome })).code, 0);
  const tg = await target(t, ['--allow-push'], serverHome);
  const conn = await connectQuic({ host: tg.server.host, port: tg.server.port, identity: trusted });
  t.after(() => conn.close());

  // What this client claims to hold, and how it answers the server fetching it.
  const newBig = seededBytes('pushed-big', 3 * CHUNK_SIZE + 11);
  const claimed: FakeEntry[] = [
    { path: 'new.bin', data: newBig },
    { path: 'public.txt', data: Buffer.from('pushed over public\n') },
    { path: 'liar.txt', data: Buffer.from('x'.repeat(300)), size: 100 },
  ];
  const peer = new ScriptedPeer(claimed, (req, honest) => {
    // Every chunk of every file arrives corrupted, except liar.txt's, whose lie is its size.
    const corrupted = (path: string, i: number) => frame({ t: 'chunk', i, data: path === 'liar.txt' ? honest.chunk(path, i) : randomBytes(honest.chunk(path, i).length) });
    if (req.t === 'first-chunks') return req.paths.map((path) => corrupted(path, 0));
    if (req.t !== 'chunks') return undefined;
    return req.indices.map((i) => corrupted(req.path, i));
  });
  peer.serve(conn);
  assert.equal((await ask(conn, [hello('push')])).messages[0]?.t, 'welcome');
  const entryOf = (path: string) => peer.honest.entries.find((e) => e.path === path)!;
  const publicRoot = (await ask(conn, [frame({ t: 'summary', only: 'public.txt' })])).messages.find((m) => m.t === 'entries') as { entries: Array<{ root: Uint8Array }> };
  const NONE = new Uint8Array(0);

  assertRefused(await ask(conn, [frame({ t: 'push', entry: entryOf('new.bin'), base: NONE })]), 'CHUNK_HASH_MISMATCH', 'a new file pushed with bad chunks');
  assertRefused(await ask(conn, [frame({ t: 'push', entry: entryOf('public.txt'), base: publicRoot.entries[0]!.root })]), 'CHUNK_HASH_MISMATCH', 'an update pushed with bad bytes');
  assertRefused(await ask(conn, [frame({ t: 'push', entry: entryOf('liar.txt'), base: NONE })]), 'CHUNK_LENGTH', 'a push that lies about its size');
  assert.ok(peer.requests.filter((r) => r.t === 'chunks' || r.t === 'first-chunks').length >= 3, 'the server really fetched (and refused) the pushed chunks');

  const file = (path: string) => ({ path, type: 'file', size: 5, mtimeMs: 0, mode: 0o644, root: new Uint8Array(32) });
  const hostile: Array<[string, string]> = [
    ['../escape.txt', 'UNSAFE_PATH'],
    ['docs/../../escape.txt', 'UNSAFE_PATH'],
    [join(tg.outside, 'pwned.txt'), 'UNSAFE_PATH'],
    ['link/pwned.txt', 'UNSAFE_PATH'],
    ['link/dir/inner.txt', 'UNSAFE_PATH'],
    ['.git/hooks/post-checkout', 'INTERNAL_PATH'],
    [`${STAGING_DIR}/0123.part`, 'INTERNAL_PATH'],
    ['C:\\evil.txt', 'UNSAFE_PATH'],
  ];
  for (const [path, code] of hostile) {
    assertRefused(await ask(conn, [frame({ t: 'push', entry: file(path), base: NONE })]), code, `push to ${JSON.stringify(path)}`);
    assertRefused(await ask(conn, [frame({ t: 'delete', path, base: new Uint8Array(32) })]), code, `delete of ${JSON.stringify(path)}`);
  }
  assertRefused(await ask(conn, [frame({ t: 'push', entry: { ...file('link/newdir'), type: 'dir', size: 0, root: NONE }, base: NONE })]), 'UNSAFE_PATH', 'a folder through the symlink');
  assertRefused(await ask(conn, [frame({ t: 'delete', path: 'link-file', base: new Uint8Array(32) })]), /NOT_REGULAR_FILE|UNSAFE_PATH/, 'deleting a symlink');
  assertRefused(await ask(conn, [frame({ t: 'delete', path: 'public.txt', base: new Uint8Array(32) })]), 'CONFLICT', 'deleting with a wrong base');
  await assertStillHealthy(t, tg, { stagingMayRemain: true });
});
