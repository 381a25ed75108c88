import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, link, stat, truncate, readFile, readdir, open, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { pullPass, type PullOptions } from '../engine/pull.js';
import type { RemoteFolder } from '../engine/types.js';
import { hashTree, overwriteAt, seededBytes, tempDir, writeTree } from './trees.js';

/** How a scenario reaches the served folder: in memory, or through a real server over QUIC. */
export type RemoteFactory = (t: TestContext, servedRoot: string, opts?: { only?: string }) => Promise<RemoteFolder>;

export const sampleTree = () => ({
  'empty.txt': Buffer.alloc(0),
  'a/b/c/deep.txt': 'deep\n',
  'empty-dir': null,
  'ünïcødé/日本語 ファイル.txt': 'unicode name\n',
  'five-mib-plus-one.bin': seededBytes('5m1', 5 * CHUNK_SIZE + 1),
  'exactly-one-chunk.bin': seededBytes('1m', CHUNK_SIZE),
});

async function pull(remote: RemoteFolder, dest: string, opts?: PullOptions) {
  const result = await pullPass(remote, dest, opts);
  assert.deepEqual(result.failures, [], 'no file failed');
  return result;
}

/**
 * The pull behaviour every transport must show. Each scenario serves a real folder and pulls it
 * into another, comparing the trees by SHA-256.
 */
export function definePullScenarios(label: string, remoteFor: RemoteFactory): void {
  test(`${label}: a generated tree arrives identical, and a second pass fetches nothing`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, sampleTree());
    const remote = await remoteFor(t, served);
    const first = await pull(remote, dest);
    assert.deepEqual(await hashTree(dest), await hashTree(served));
    assert.deepEqual(await readdir(dest).then((names) => names.filter((n) => n.startsWith('.leafsync'))), [], 'no staging left behind');
    assert.equal(first.files, 5);
    assert.equal(first.filesChanged, 5);
    assert.equal(first.chunksFetched, 6 + 1 + 1 + 0 + 1);
    const second = await pull(remote, dest);
    assert.equal(second.filesChanged, 0);
    assert.equal(second.chunksFetched, 0);
    assert.equal(second.bytesFetched, 0);
  });

  test(`${label}: changing one chunk of a 32 MiB file fetches exactly that chunk`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, { 'big.bin': seededBytes('big', 32 * CHUNK_SIZE) });
    const remote = await remoteFor(t, served);
    await pull(remote, dest);
    const handle = await open(join(served, 'big.bin'), 'r+');
    await handle.write(Buffer.from('changed'), 0, 7, 17 * CHUNK_SIZE + 100);
    await handle.close();
    const second = await pull(remote, dest);
    assert.equal(second.chunksFetched, 1);
    assert.equal(second.filesChanged, 1);
    assert.deepEqual(await hashTree(dest), await hashTree(served));
  });

  test(`${label}: a file that shrank ends with its exact size and content`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, { 'shrinks.bin': seededBytes('s', 3 * CHUNK_SIZE + 500) });
    const remote = await remoteFor(t, served);
    await pull(remote, dest);
    await truncate(join(served, 'shrinks.bin'), CHUNK_SIZE + 7);
    const second = await pull(remote, dest);
    assert.equal((await stat(join(dest, 'shrinks.bin'))).size, CHUNK_SIZE + 7);
    assert.equal(second.chunksFetched, 1, 'only the new partial last chunk travels');
    assert.deepEqual(await hashTree(dest), await hashTree(served));
  });

  test(`${label}: mtimes and permission bits are preserved, also when only they change`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, { 'x.sh': '#!/bin/sh\n' });
    const when = new Date('2020-02-03T04:05:06.789Z');
    await utimes(join(served, 'x.sh'), when, when);
    const remote = await remoteFor(t, served);
    await pull(remote, dest);
    assert.equal(Math.floor((await stat(join(dest, 'x.sh'))).mtimeMs), when.getTime());
    const later = new Date('2021-01-01T00:00:00Z');
    await utimes(join(served, 'x.sh'), later, later);
    const second = await pull(remote, dest);
    assert.equal(second.bytesFetched, 0);
    assert.equal(Math.floor((await stat(join(dest, 'x.sh'))).mtimeMs), later.getTime());
  });

  test(`${label}: a single file (--file) syncs just that file`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, sampleTree());
    const remote = await remoteFor(t, served, { only: 'a/b/c/deep.txt' });
    const result = await pull(remote, dest, { only: 'a/b/c/deep.txt' });
    assert.equal(result.files, 1);
    assert.deepEqual([...(await hashTree(dest)).keys()], ['a', 'a/b', 'a/b/c', 'a/b/c/deep.txt']);
    assert.equal(await readFile(join(dest, 'a/b/c/deep.txt'), 'utf8'), 'deep\n');
  });

  test(`${label}: internal names are never synced`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, { 'keep.txt': 'k', '.git/config': 'x', '.leafsync_tmp/junk': 'x', 'download.part': 'x', 'sub/.leafsync_trash/old': 'x' });
    const remote = await remoteFor(t, served);
    await pull(remote, dest);
    assert.deepEqual([...(await hashTree(dest)).keys()], ['keep.txt', 'sub']);
  });

  test(`${label}: local edits are overwritten by the server's version through staging, never partially`, async (t) => {
    const served = await tempDir(t, 'served');
    const dest = await tempDir(t, 'dest');
    await writeTree(served, { 'f.bin': seededBytes('f', 2 * CHUNK_SIZE) });
    await writeTree(dest, { 'f.bin': seededBytes('other', 3 * CHUNK_SIZE), 'local-only.txt': 'mine' });
    const remote = await remoteFor(t, served);
    await pull(remote, dest);
    const tree = await hashTree(dest);
    assert.equal(tree.get('f.bin'), (await hashTree(served)).get('f.bin'));
    assert.ok(tree.has('local-only.txt'), 'without mirror, local-only files stay');
  });

  test(`${label}: --in-place writes changed chunks over the same file as it grows, changes and shrinks, and leaves nothing behind`, async (t) => {
    const [served, dest] = [await tempDir(t, 'served'), await tempDir(t, 'dest')];
    const big = join(served, 'big.bin');
    await writeTree(served, { 'big.bin': seededBytes('in-place', 32 * CHUNK_SIZE) });
    const remote = await remoteFor(t, served);
    await pull(remote, dest, { inPlace: true });
    const ino = (await stat(join(dest, 'big.bin'))).ino;
    const steps: Array<[string, () => Promise<void>, number]> = [
      ['one chunk overwritten', () => overwriteAt(big, 17 * CHUNK_SIZE, seededBytes('mid', CHUNK_SIZE)), 1],
      ['grown by 1.5 chunks', () => appendFile(big, seededBytes('tail', CHUNK_SIZE + CHUNK_SIZE / 2)), 2],
      ['a few bytes in two chunks', () => overwriteAt(big, 3 * CHUNK_SIZE - 2, Buffer.from('edge')), 2],
      ['shrunk to 20.5 chunks', () => truncate(big, 20 * CHUNK_SIZE + CHUNK_SIZE / 2), 1],
    ];
    for (const [what, change, chunks] of steps) {
      await change();
      const r = await pull(remote, dest, { inPlace: true });
      assert.equal(r.chunksFetched, chunks, `${what}: chunks fetched`);
      assert.deepEqual(await hashTree(dest), await hashTree(served), `${what}: identical`);
      const st = await stat(join(dest, 'big.bin'));
      assert.equal(st.ino, ino, `${what}: updated in place, not replaced`);
      assert.equal(Math.floor(st.mtimeMs), Math.floor((await stat(big)).mtimeMs), `${what}: mtime carried`);
      assert.deepEqual(await readdir(dest), ['big.bin'], `${what}: no journal or staging left`);
    }
  });

  test(`${label}: --in-place still replaces the whole file when it has a second name or most of it changed`, async (t) => {
    const [served, dest] = [await tempDir(t, 'served'), await tempDir(t, 'dest')];
    const old = seededBytes('linked', 16 * CHUNK_SIZE);
    await writeTree(served, { 'linked.bin': old, 'rewritten.bin': seededBytes('rewritten', 16 * CHUNK_SIZE) });
    const remote = await remoteFor(t, served);
    await pull(remote, dest, { inPlace: true });
    await link(join(dest, 'linked.bin'), join(dest, 'second-name.bin'));
    const before = { linked: (await stat(join(dest, 'linked.bin'))).ino, rewritten: (await stat(join(dest, 'rewritten.bin'))).ino };
    await overwriteAt(join(served, 'linked.bin'), 0, seededBytes('one', CHUNK_SIZE));
    await overwriteAt(join(served, 'rewritten.bin'), 0, seededBytes('most', 9 * CHUNK_SIZE));
    await pull(remote, dest, { inPlace: true });
    const want = await hashTree(served);
    const got = await hashTree(dest);
    assert.equal(got.get('linked.bin'), want.get('linked.bin'));
    assert.equal(got.get('rewritten.bin'), want.get('rewritten.bin'));
    assert.notEqual((await stat(join(dest, 'linked.bin'))).ino, before.linked, 'a file with two names is replaced');
    assert.ok((await readFile(join(dest, 'second-name.bin'))).equals(old), 'its other name keeps the old version');
    assert.notEqual((await stat(join(dest, 'rewritten.bin'))).ino, before.rewritten, 'a mostly rewritten file is replaced');
  });
}
