import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashStats } from '../engine/chunking.js';
import { LocalFolderSource } from '../engine/folder-source.js';
import { IndexCache } from '../engine/index-cache.js';
import { pullPass, type PullState } from '../engine/pull.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { connectQuic } from '../transport/quic-client.js';
import { QuicServer } from '../transport/quic-server.js';
import { hashTree, seededBytes, tempDirs } from '../test-support/trees.js';
import { QuicRemoteFolder } from './client-session.js';
import { serveConnection } from './server-session.js';

test('a 10,000-file unchanged folder: the next pass re-hashes nothing and moves under 4 KiB', async (t) => {
  const [served, dest, home] = await tempDirs(t, 'served', 'dest', 'home');
  const noise = seededBytes('10k', 64 * 1024);
  for (let d = 0; d < 100; d++) {
    await mkdir(join(served, `d${d}`));
    await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(served, `d${d}`, `f${f}.bin`), noise.subarray(0, 1024 + ((d * 100 + f) % 3072)))));
  }
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
  const remote = await QuicRemoteFolder.open(conn);
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
