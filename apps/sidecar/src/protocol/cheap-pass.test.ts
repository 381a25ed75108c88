import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashStats } from '../engine/chunking.js';
import { LocalFolderSource, type FolderScan } from '../engine/folder-source.js';
import { IndexCache } from '../engine/index-cache.js';
import { pullPass, type PullState } from '../engine/pull.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { connectQuic } from '../transport/quic-client.js';
import { QuicServer } from '../transport/quic-server.js';
import { hashTree, seededBytes, tempDirs, writeTree, type TreeSpec } from '../test-support/trees.js';
import { QuicRemoteFolder } from './client-session.js';
import { serveConnection } from './server-session.js';

/** A real QUIC server over `served` and one connection to it; everything is closed after the test. */
async function servedOverQuic(t: TestContext, served: string, home: string) {
  const serverCache = IndexCache.memory();
  const source = new LocalFolderSource(served, { cache: serverCache, readIgnoreFile: true });
  const server = await QuicServer.listen({ host: '127.0.0.1', port: 0, identity: await loadOrCreateIdentity(home), onConnection: (c) => void serveConnection(c, { source }) });
  const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
  const clientCache = IndexCache.memory();
  t.after(async () => {
    await conn.close();
    await server.close();
    serverCache.close();
    clientCache.close();
  });
  return { conn, clientCache, remote: await QuicRemoteFolder.open(conn) };
}

test('a 10,000-file unchanged folder: the next pass re-hashes nothing and moves under 4 KiB', async (t) => {
  const [served, dest, home] = await tempDirs(t, 'served', 'dest', 'home');
  const noise = seededBytes('10k', 64 * 1024);
  for (let d = 0; d < 100; d++) {
    await mkdir(join(served, `d${d}`));
    await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(served, `d${d}`, `f${f}.bin`), noise.subarray(0, 1024 + ((d * 100 + f) % 3072)))));
  }
  const { conn, clientCache, remote } = await servedOverQuic(t, served, home);
  const local = new LocalFolderSource(dest, { cache: clientCache, readIgnoreFile: true });
  const state: PullState = {};

  const started = performance.now();
  const first = await pullPass(remote, dest, { local, state });
  console.log(`10k files, first pass: ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(first.failures, []);
  assert.equal(first.files, 10_000);
  assert.equal(first.filesChanged, 10_000);
  assert.deepEqual(await hashTree(dest), await hashTree(served));

  const hashedBefore = hashStats.filesHashed;
  const wireBefore = conn.stats();
  const t0 = performance.now();
  const second = await pullPass(remote, dest, { local, state });
  const ms = performance.now() - t0;
  const wire = conn.stats();
  const moved = wire.sentBytes - wireBefore.sentBytes + (wire.recvBytes - wireBefore.recvBytes);
  console.log(`10k files, unchanged pass: ${Math.round(ms)} ms, ${moved} bytes on the wire`);
  assert.equal(hashStats.filesHashed, hashedBefore, 'no file was hashed again on either side');
  assert.equal(second.filesChanged, 0);
  assert.equal(second.bytesFetched, 0);
  assert.equal(second.files, 10_000);
  assert.ok(moved < 4096, `moved ${moved} bytes`);
});

/** A local side that counts its scans, and the summaries built from them: zero means the index was never consulted. */
class CountingSource extends LocalFolderSource {
  scans = 0;
  summaries = 0;
  override scan() {
    this.scans++;
    return super.scan();
  }
  override summaryOf(scan: FolderScan) {
    this.summaries++;
    return super.summaryOf(scan);
  }
}

test('a pass that carries the last state skips hashing while the local scan is unchanged, and still sees a rewrite that kept size and mtime', async (t) => {
  const [served, dest, home] = await tempDirs(t, 'served', 'dest', 'home');
  const tree: TreeSpec = {};
  for (let i = 0; i < 40; i++) tree[`d${i % 4}/f${i}.txt`] = `file ${i}\n`;
  await writeTree(served, tree);
  const { clientCache, remote } = await servedOverQuic(t, served, home);
  const state: PullState = {};
  // A new source per pass, as a new `connect --once` process would have, over the same index.
  const pass = async () => {
    const local = new CountingSource(dest, { cache: clientCache, readIgnoreFile: true });
    const result = await pullPass(remote, dest, { local, state });
    assert.deepEqual(result.failures, []);
    return { result, scans: local.scans, summaries: local.summaries };
  };

  assert.equal((await pass()).result.filesChanged, 40);
  const digest = state.localDigest;
  assert.ok(digest !== undefined, 'the pass remembered its scan');
  const unchanged = await pass();
  assert.equal(unchanged.summaries, 0, 'nothing changed: no summary was built');
  assert.equal(unchanged.scans, 0, 'the digest walked on the thread pool was the last pass\'s: no scan either');
  assert.equal(unchanged.result.files, 40);

  // Same size, same mtime, new content: only the status-change time tells.
  const victim = join(dest, 'd1/f5.txt');
  const before = await stat(victim);
  await writeFile(victim, 'FILE 5\n');
  await utimes(victim, before.atime, before.mtime);
  const rewritten = await pass();
  assert.equal(rewritten.summaries, 2, 'the scan differed, so the pass compared roots (and rescanned after)');
  assert.equal(rewritten.result.filesChanged, 1, 'the rewrite was noticed and the server version restored');
  assert.deepEqual(await hashTree(dest), await hashTree(served));

  // The same kind of rewrite on the server: its own summary must not be the one it remembered.
  const served7 = join(served, 'd3/f7.txt');
  const before7 = await stat(served7);
  await writeFile(served7, 'FILE 7\n');
  await utimes(served7, before7.atime, before7.mtime);
  assert.equal((await pass()).result.filesChanged, 1, 'the server-side rewrite was pulled');
  assert.deepEqual(await hashTree(dest), await hashTree(served));

  // A chmod and back changes identities, not content: one full look, then fast again.
  const other = join(dest, 'd2/f6.txt');
  const mode = (await stat(other)).mode & 0o777;
  await chmod(other, 0o600);
  await chmod(other, mode);
  const digestBefore = state.localDigest;
  const touched = await pass();
  assert.equal(touched.summaries, 1);
  assert.equal(touched.scans, 1, 'the quick digest differed: one scan to compare roots');
  assert.equal(touched.result.filesChanged, 0);
  assert.notDeepEqual(state.localDigest, digestBefore, 'the new identities were remembered');
  assert.equal((await pass()).summaries, 0);

  // A name the thread-pool walk leaves to the scan: still one cheap pass, from the scan's digest.
  await writeFile(join(served, 'd0/ünïcode.txt'), 'not ASCII\n');
  assert.equal((await pass()).result.filesChanged, 1);
  const scanned = await pass();
  assert.equal(scanned.scans, 1, 'the quick digest gave up: scanned');
  assert.equal(scanned.summaries, 0, 'and the scan was the last pass\'s: no summary');
  assert.equal(scanned.result.files, 41);
});

test('a local edit made during a pass, after the scan that planned it, is not remembered as synced', async (t) => {
  const [served, dest, home] = await tempDirs(t, 'served', 'dest', 'home');
  const tree: TreeSpec = {};
  for (let i = 0; i < 10; i++) tree[`f${i}.txt`] = `file ${i}\n`;
  await writeTree(served, tree);
  const { clientCache, remote } = await servedOverQuic(t, served, home);
  const local = new LocalFolderSource(dest, { cache: clientCache, readIgnoreFile: true });
  const state: PullState = {};
  assert.equal((await pullPass(remote, dest, { local, state })).filesChanged, 10);

  // The server changes one file, so the next pass lists and plans; once it has planned (the
  // local f5.txt matched), f5.txt is edited here.
  await writeFile(join(served, 'f2.txt'), 'changed on the server\n');
  const during = await pullPass(remote, dest, {
    local,
    state,
    onEvent: (e) => {
      if (e.kind === 'summary') writeFileSync(join(dest, 'f5.txt'), 'edited here mid-pass\n');
    },
  });
  assert.equal(during.filesChanged, 1);
  assert.equal(state.remoteRoot, undefined, 'the folders did not match at the end: nothing saved to skip the next comparison');

  const next = await pullPass(remote, dest, { local, state });
  assert.equal(next.filesChanged, 1, 'the next pass compared in full and restored f5.txt');
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});
