import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, mkdir, mkdtemp, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHUNK_SIZE, hashStats } from './chunking.js';
import {
  ChunkOutOfRangeError,
  InternalPathError,
  NotFoundError,
  NotRegularFileError,
  OutsideScopeError,
  UnsafePathError,
} from './errors.js';
import { LocalFolderSource } from './folder-source.js';
import { folderRoot, merkleRoot } from './merkle.js';

const MiB = CHUNK_SIZE;
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('LocalFolderSource', () => {
  let base: string;
  let root: string;
  const big = randomBytes(2 * MiB + 3);
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-source-'));
    root = join(base, 'root');
    await mkdir(join(root, 'docs/empty'), { recursive: true });
    await writeFile(join(root, 'big.bin'), big);
    await writeFile(join(root, 'docs/ü.txt'), 'hello');
    await writeFile(join(root, 'zero'), '');
    await chmod(join(root, 'docs/ü.txt'), 0o600);
    await mkdir(join(root, '.git'));
    await writeFile(join(root, '.git/config'), 'secret');
    await writeFile(join(base, 'outside'), 'outside');
    await symlink(join(base, 'outside'), join(root, 'link'));
    await symlink(base, join(root, 'linkdir'));
    await symlink(join(root, 'zero'), join(root, 'innerlink'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('summary lists files and dirs with sizes, modes and Merkle roots, and a matching folder root', async () => {
    const src = new LocalFolderSource(root);
    const s = await src.summary();
    assert.deepEqual(s.entries.map((e) => `${e.type}:${e.path}`), ['file:big.bin', 'dir:docs', 'dir:docs/empty', 'file:docs/ü.txt', 'file:zero']);
    const bigEntry = s.entries.find((e) => e.path === 'big.bin');
    const bigStat = await stat(join(root, 'big.bin'));
    assert.equal(bigEntry?.size, big.length);
    assert.equal(bigEntry?.mtimeMs, Math.floor(bigStat.mtimeMs));
    const expected = merkleRoot([sha(big.subarray(0, MiB)), sha(big.subarray(MiB, 2 * MiB)), sha(big.subarray(2 * MiB))]);
    assert.equal(hex(bigEntry!.root), hex(expected));
    const small = s.entries.find((e) => e.path === 'docs/ü.txt');
    assert.equal(small?.mode, 0o600);
    assert.equal(hex(small!.root), hex(merkleRoot([sha(Buffer.from('hello'))])));
    assert.equal(hex(s.entries.find((e) => e.path === 'zero')!.root), hex(merkleRoot([])));
    assert.equal(s.entries.find((e) => e.path === 'docs')?.root.length, 0);
    assert.equal(hex(s.root), hex(folderRoot(s.entries)));
  });

  it('a second summary re-hashes nothing; a changed file is re-hashed alone', async () => {
    const src = new LocalFolderSource(root);
    const first = await src.summary();
    const before = { ...hashStats };
    const second = await src.summary();
    assert.deepEqual(hashStats, before, 'cached pass must not read file data');
    assert.equal(hex(second.root), hex(first.root));
    await src.chunkHashes('big.bin');
    assert.deepEqual(hashStats, before, 'chunkHashes of an unchanged file comes from the cache');

    await appendFile(join(root, 'docs/ü.txt'), '!');
    const third = await src.summary();
    assert.equal(hashStats.filesHashed - before.filesHashed, 1);
    assert.equal(hashStats.bytesHashed - before.bytesHashed, 6);
    assert.notEqual(hex(third.root), hex(first.root));
  });

  it('notices a rewrite that restored the old size and mtime', async () => {
    const r = join(base, 'sneaky');
    await mkdir(r);
    await writeFile(join(r, 'f'), 'aaaa');
    await utimes(join(r, 'f'), 1_600_000_000, 1_600_000_000);
    const src = new LocalFolderSource(r);
    const a = await src.summary();
    await writeFile(join(r, 'f'), 'bbbb');
    await utimes(join(r, 'f'), 1_600_000_000, 1_600_000_000);
    const b = await src.summary();
    assert.equal(a.entries[0]?.mtimeMs, b.entries[0]?.mtimeMs);
    assert.notEqual(hex(a.entries[0]!.root), hex(b.entries[0]!.root));
  });

  it('chunkHashes and fetchChunks return the real bytes, in the order asked', async () => {
    const src = new LocalFolderSource(root);
    const hashes = await src.chunkHashes('big.bin');
    assert.equal(hashes.length, 3);
    const got: Array<[number, Buffer]> = [];
    await src.fetchChunks('big.bin', [2, 0], async (i, data) => {
      got.push([i, Buffer.from(data)]);
      await new Promise((r) => setTimeout(r, 5));
    });
    assert.deepEqual(got.map(([i]) => i), [2, 0]);
    assert.ok(got[0]![1].equals(big.subarray(2 * MiB)));
    assert.ok(got[1]![1].equals(big.subarray(0, MiB)));
    assert.equal(hex(sha(got[0]![1])), hex(hashes[2]!));
  });

  it('a chunk index beyond the file is a typed error, before anything is sent', async () => {
    const src = new LocalFolderSource(root);
    let calls = 0;
    const count = async (): Promise<void> => {
      calls++;
    };
    await assert.rejects(src.fetchChunks('big.bin', [0, 3], count), (err: unknown) => {
      assert.ok(err instanceof ChunkOutOfRangeError);
      assert.equal(err.code, 'CHUNK_OUT_OF_RANGE');
      assert.match(err.message, /Chunk 3 .*big\.bin.*3 chunk/);
      return true;
    });
    await assert.rejects(src.fetchChunks('zero', [0], count), ChunkOutOfRangeError);
    await assert.rejects(src.fetchChunks('big.bin', [-1], count), ChunkOutOfRangeError);
    assert.equal(calls, 0);
  });

  it("refuses '../x', '.git/config', absolute paths, symlinks and missing files", async () => {
    const src = new LocalFolderSource(root);
    const noop = async (): Promise<void> => {};
    await assert.rejects(src.chunkHashes('../outside'), UnsafePathError);
    await assert.rejects(src.fetchChunks('../outside', [0], noop), UnsafePathError);
    await assert.rejects(src.chunkHashes('/etc/passwd'), UnsafePathError);
    await assert.rejects(src.chunkHashes('.git/config'), InternalPathError);
    await assert.rejects(src.fetchChunks('.git/config', [0], noop), InternalPathError);
    await assert.rejects(src.chunkHashes('link'), UnsafePathError);
    await assert.rejects(src.fetchChunks('link', [0], noop), UnsafePathError);
    // A symlink that stays inside is still never served: symlinks are not synced.
    await assert.rejects(src.chunkHashes('innerlink'), NotRegularFileError);
    await assert.rejects(src.fetchChunks('innerlink', [0], noop), NotRegularFileError);
    await assert.rejects(src.chunkHashes('linkdir/outside'), UnsafePathError);
    await assert.rejects(src.chunkHashes('docs'), NotRegularFileError);
    await assert.rejects(src.fetchChunks('docs', [0], noop), NotRegularFileError);
    await assert.rejects(src.chunkHashes('nope.txt'), NotFoundError);
    await assert.rejects(src.fetchChunks('nope.txt', [0], noop), NotFoundError);
  });

  it('single-file mode serves only that file', async () => {
    const src = new LocalFolderSource(root, { only: 'docs/ü.txt' });
    const s = await src.summary();
    assert.deepEqual(s.entries.map((e) => e.path), ['docs/ü.txt']);
    assert.equal((await src.chunkHashes('docs/u\u0308.txt')).length, 1, 'NFD spelling of the same path is the same file');
    await assert.rejects(src.chunkHashes('big.bin'), OutsideScopeError);
    await assert.rejects(src.fetchChunks('big.bin', [0], async () => {}), OutsideScopeError);
    await assert.rejects(new LocalFolderSource(root, { only: 'missing' }).summary(), NotFoundError);
  });

  it('a file that shrinks between summary and fetch fails with a typed error', async () => {
    const r = join(base, 'shrink');
    await mkdir(r);
    await writeFile(join(r, 'f'), randomBytes(MiB + 10));
    const src = new LocalFolderSource(r);
    await src.summary();
    await truncate(join(r, 'f'), 10);
    await assert.rejects(src.fetchChunks('f', [1], async () => {}), ChunkOutOfRangeError);
    assert.equal((await src.chunkHashes('f')).length, 1, 'stale cache is not served');
  });
});
