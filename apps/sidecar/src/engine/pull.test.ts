import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LocalFolderSource } from './folder-source.js';
import { pullPass } from './pull.js';
import { CHUNK_SIZE, hashChunk, hashStats } from './chunking.js';
import { merkleRoot, folderRoot } from './merkle.js';
import type { FileSummary, RemoteFolder } from './types.js';
import { definePullScenarios } from '../test-support/pull-scenarios.js';
import { seededBytes, tempDir } from '../test-support/trees.js';

definePullScenarios('in memory', async (_t, served, opts) => new LocalFolderSource(served, opts?.only === undefined ? {} : { only: opts.only }));

/** A peer that describes `files` honestly except where the test makes it lie. */
function lyingRemote(files: Record<string, Buffer>, lie: { path?: (p: string) => string; chunk?: (i: number, d: Uint8Array) => Uint8Array } = {}): RemoteFolder {
  const hashes = (data: Buffer) => {
    const out: Uint8Array[] = [];
    for (let at = 0; at < data.length; at += CHUNK_SIZE) out.push(hashChunk(data.subarray(at, at + CHUNK_SIZE)));
    return out;
  };
  const entries: FileSummary[] = Object.entries(files).map(([path, data]) => ({
    path: lie.path ? lie.path(path) : path,
    type: 'file',
    size: data.length,
    mtimeMs: 1_600_000_000_000,
    mode: 0o644,
    root: merkleRoot(hashes(data)),
  }));
  const byWirePath = new Map(entries.map((e, i) => [e.path, Object.values(files)[i]!]));
  return {
    summary: async () => ({ root: folderRoot(entries), entries }),
    chunkHashes: async (p) => hashes(byWirePath.get(p)!),
    fetchChunks: async (p, indices, onChunk) => {
      const data = byWirePath.get(p)!;
      for (const i of indices) {
        const slice = data.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
        await onChunk(i, lie.chunk ? lie.chunk(i, slice) : slice);
      }
    },
  };
}

test('paths that escape the folder are refused per file; nothing is written outside', async (t) => {
  const root = await tempDir(t, 'jail');
  const dest = join(root, 'dest');
  await mkdir(dest);
  const evil = ['../outside.txt', '/etc/leafsync-owned', 'C:/win.txt', 'a/../../x', 'nul\0byte', 'sub\\..\\..\\x'];
  for (const path of evil) {
    const remote = lyingRemote({ good: Buffer.from('fine') }, { path: () => path });
    const result = await pullPass(remote, dest);
    assert.equal(result.failures.length, 1, path);
    assert.equal(result.failures[0]!.code, 'UNSAFE_PATH', path);
  }
  assert.deepEqual(await readdir(root), ['dest']);
  assert.deepEqual(await readdir(dest), []);
});

test('a chunk that does not match its hash is never written as good: the old file stays', async (t) => {
  const dest = await tempDir(t, 'dest');
  const old = seededBytes('old', 2 * CHUNK_SIZE);
  await writeFile(join(dest, 'f.bin'), old);
  const remote = lyingRemote({ 'f.bin': seededBytes('new', 2 * CHUNK_SIZE) }, { chunk: (i, d) => (i === 1 ? Buffer.alloc(d.length) : d) });
  const result = await pullPass(remote, dest);
  assert.equal(result.failures.length, 1);
  assert.equal(result.failures[0]!.code, 'CHUNK_HASH_MISMATCH');
  assert.ok((await readFile(join(dest, 'f.bin'))).equals(old));
  assert.equal(result.filesChanged, 0);
});

test('a summary that lies about a file root is caught before anything is replaced', async (t) => {
  const dest = await tempDir(t, 'dest');
  await writeFile(join(dest, 'f.txt'), 'old');
  const honest = lyingRemote({ 'f.txt': Buffer.from('new content') });
  const remote: RemoteFolder = {
    ...honest,
    summary: async () => {
      const s = await honest.summary();
      return { ...s, entries: s.entries.map((e) => ({ ...e, size: e.size + 10 })) };
    },
  };
  const result = await pullPass(remote, dest);
  assert.equal(result.failures.length, 1);
  assert.equal(await readFile(join(dest, 'f.txt'), 'utf8'), 'old');
  assert.deepEqual(await readdir(dirname(join(dest, 'f.txt'))).then((n) => n.filter((x) => !x.startsWith('.leafsync'))), ['f.txt']);
});

test('files a pass wrote are not read back to hash them: their verified hashes are remembered', async (t) => {
  const served = await tempDir(t, 'served');
  const dest = await tempDir(t, 'dest');
  await mkdir(join(served, 'sub'));
  await writeFile(join(served, 'sub/one-chunk.txt'), 'small\n');
  await writeFile(join(served, 'three-chunks.bin'), seededBytes('r3', 2 * CHUNK_SIZE + 5));
  const local = new LocalFolderSource(dest);
  const first = await pullPass(new LocalFolderSource(served), dest, { local });
  assert.equal(first.filesChanged, 2);
  const hashedBefore = hashStats.filesHashed;
  const after = await local.summary();
  assert.equal(hashStats.filesHashed, hashedBefore, 'the scan after the pass hashed nothing');
  const roots = (s: { entries: FileSummary[] }) => s.entries.filter((e) => e.type === 'file').map((e) => [e.path, Buffer.from(e.root).toString('hex')]);
  assert.deepEqual(roots(after), roots(await new LocalFolderSource(served).summary()), 'and the remembered roots are the real ones');
});
