import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, mkdir, mkdtemp, rename, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { CHUNK_SIZE, hashStats } from './chunking.js';
import {
  ChunkOutOfRangeError,
  IgnoredPathError,
  InternalPathError,
  NotFoundError,
  NotRegularFileError,
  OutsideScopeError,
  UnsafePathError,
} from './errors.js';
import { LocalFolderSource } from './folder-source.js';
import { IndexCache } from './index-cache.js';
import { DirectoryWatch } from '../fs/directory-watch.js';
import { folderRoot, merkleRoot } from './merkle.js';
import type { FolderSummary } from './types.js';

const MiB = CHUNK_SIZE;
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hashed = (): { files: number; bytes: number } => ({ files: hashStats.filesHashed, bytes: hashStats.bytesHashed });
const summaryKey = (s: FolderSummary): string[] =>
  [hex(s.root), ...s.entries.map((e) => `${e.type}:${e.path}:${e.size}:${e.mtimeMs}:${e.mode}:${hex(e.root)}`)];

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

  it('two summaries asked at once hash each file once (a server\'s start-up summary and its first client\'s request)', async () => {
    const src = new LocalFolderSource(root);
    const before = hashed();
    const [a, b] = await Promise.all([src.summary(), src.summary()]);
    assert.deepEqual(summaryKey(a), summaryKey(b));
    assert.deepEqual(hashed(), { files: before.files + 3, bytes: before.bytes + big.length + 'hello'.length });
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

  it('hashes a folder of many small files (several batches) right, and a file grown past them since the scan as it now is, uncached', async () => {
    const r = join(base, 'many');
    await mkdir(r);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 300; i++) files.set(`f${i}`, randomBytes(i * 37));
    for (const [name, data] of files) await writeFile(join(r, name), data);
    const src = new LocalFolderSource(r);
    const scan = await src.scan();
    // Grown past what any batch reads whole after the scan saw it small: read again on its own.
    const grown = randomBytes(MiB + 5);
    await writeFile(join(r, 'f7'), grown);
    files.set('f7', grown);
    const before = hashed();
    const s = await src.summaryOf(scan);
    assert.equal(s.entries.length, files.size);
    for (const e of s.entries) {
      const data = files.get(e.path)!;
      const chunks = data.length === 0 ? [] : data.length > MiB ? [sha(data.subarray(0, MiB)), sha(data.subarray(MiB))] : [sha(data)];
      assert.equal(hex(e.root), hex(merkleRoot(chunks)), e.path);
      assert.equal(e.size, data.length, e.path);
    }
    const total = [...files.values()].reduce((n, d) => n + d.length, 0);
    assert.deepEqual(hashed(), { files: before.files + files.size, bytes: before.bytes + total });
    // The grown file no longer matched the scan, so it was not cached: the next summary reads it again, alone.
    const again = hashed();
    await src.summary();
    assert.deepEqual(hashed(), { files: again.files + 1, bytes: again.bytes + grown.length });
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

  it('tells onWarning of a skipped name once, when a scan first finds it, and again if it comes back', async () => {
    const r = join(base, 'warned');
    await mkdir(r);
    await writeFile(join(r, 'ok.txt'), 'x');
    const told: string[] = [];
    const src = new LocalFolderSource(r, { onWarning: (w) => told.push(w.message) });
    await src.summary();
    assert.deepEqual(told, []);
    await writeFile(join(r, 'bad\u0001name'), 'x');
    await src.summary();
    await src.summary();
    assert.equal(told.length, 1, told.join('\n'));
    assert.match(told[0]!, /control character/);
    assert.equal(src.lastWarnings.length, 1, 'every summary still knows it');
    await rm(join(r, 'bad\u0001name'));
    await src.summary();
    await writeFile(join(r, 'bad\u0001name'), 'x');
    await src.summary();
    assert.equal(told.length, 2);
  });
});

describe('LocalFolderSource with a persistent IndexCache', () => {
  let base: string;
  let root: string;
  let home: string;
  const FILES = 10_000;
  const pool = randomBytes(16 * 1024);
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-indexed-'));
    root = join(base, 'root');
    home = join(base, 'home');
    // 100 directories of 100 files, 1–8 KiB each, cut from one random pool so sizes and contents differ.
    for (let d = 0; d < 100; d++) {
      const dir = join(root, `g${d % 10}`, `d${d}`);
      await mkdir(dir, { recursive: true });
      await Promise.all(
        Array.from({ length: FILES / 100 }, (_, f) => {
          const n = d * 100 + f;
          const size = 1024 + ((n * 7919) % (7 * 1024));
          const off = (n * 131) % (8 * 1024);
          return writeFile(join(dir, `f${f}.bin`), pool.subarray(off, off + size));
        }),
      );
    }
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const timed = async (label: string, fn: () => Promise<FolderSummary>): Promise<FolderSummary> => {
    const t = performance.now();
    const s = await fn();
    console.log(`${label}: ${(performance.now() - t).toFixed(0)} ms`);
    return s;
  };

  it('a new instance over a warm cache re-hashes nothing and gives the same summary', async () => {
    const cold = IndexCache.open(home, root);
    const before0 = hashed();
    const first = await timed('10k files, cold summary', () => new LocalFolderSource(root, { cache: cold }).summary());
    assert.equal(hashed().files - before0.files, FILES, 'a cold pass hashes every file once');
    assert.equal(first.entries.filter((e) => e.type === 'file').length, FILES);
    assert.equal(cold.count(), FILES);
    cold.close();

    // A new IndexCache and source over the same home is what a new process sees.
    const warm = IndexCache.open(home, root);
    const src = new LocalFolderSource(root, { cache: warm });
    const before1 = hashed();
    const second = await timed('10k files, new instance, warm cache', () => src.summary());
    assert.deepEqual(hashed(), before1, 'nothing re-hashed');
    assert.deepEqual(summaryKey(second), summaryKey(first));
    await timed('10k files, same instance again', () => src.summary());
    assert.deepEqual(hashed(), before1);
    const hashes = await src.chunkHashes('g3/d13/f7.bin');
    assert.equal(hashes.length, 1);
    assert.deepEqual(hashed(), before1, 'chunkHashes of an unchanged file comes from the cache');
    warm.close();
  });

  it('only the file whose size or mtime changed is re-hashed, and the index learns it', async () => {
    const size = join(root, 'g0/d0/f1.bin');
    const mtime = join(root, 'g5/d55/f55.bin');
    await appendFile(size, 'grown');
    const st = await stat(mtime);
    await utimes(mtime, st.atime, new Date(st.mtimeMs + 5000));

    const c = IndexCache.open(home, root);
    const before0 = hashed();
    const s = await new LocalFolderSource(root, { cache: c }).summary();
    assert.equal(hashed().files - before0.files, 2, 'exactly the two changed files');
    assert.equal(hashed().bytes - before0.bytes, (await stat(size)).size + st.size);
    assert.equal(s.entries.find((e) => e.path === 'g0/d0/f1.bin')?.size, (await stat(size)).size);
    c.close();

    const again = IndexCache.open(home, root);
    const before1 = hashed();
    await new LocalFolderSource(root, { cache: again }).summary();
    assert.deepEqual(hashed(), before1, 'the re-hashed files were written back');
    again.close();
  });

  it('prunes deleted files from the index, but a single-file session prunes nothing', async () => {
    const c = IndexCache.open(home, root);
    const single = new LocalFolderSource(root, { cache: c, only: 'g1/d1/f1.bin' });
    assert.deepEqual((await single.summary()).entries.map((e) => e.path), ['g1/d1/f1.bin']);
    assert.equal(c.count(), FILES, 'the rest of the folder is still indexed');

    await rm(join(root, 'g2/d2'), { recursive: true });
    const src = new LocalFolderSource(root, { cache: c });
    await src.summary();
    assert.equal(c.count(), FILES - 100);
    assert.equal(c.loadAllRoots().has('g2/d2/f0.bin'), false);
    await rm(join(root, 'g2/d12/f0.bin'));
    await src.summary();
    assert.equal(c.count(), FILES - 101, 'a later pass of the same instance prunes too');
    c.close();
  });

  it('a corrupt cache file costs a re-hash, not the sync', async () => {
    const r = join(base, 'small');
    await mkdir(r);
    await writeFile(join(r, 'a'), 'aaa');
    const c = IndexCache.open(home, r);
    const first = await new LocalFolderSource(r, { cache: c }).summary();
    const file = c.file!;
    c.close();
    await writeFile(file, randomBytes(8192));
    const bad = IndexCache.open(home, r);
    const before0 = hashed();
    const s = await new LocalFolderSource(r, { cache: bad }).summary();
    assert.equal(bad.warnings[0]?.code, 'INDEX_CACHE_CORRUPT');
    assert.equal(hashed().files - before0.files, 1);
    assert.equal(hex(s.root), hex(first.root));
    bad.close();
  });
});

describe('LocalFolderSource ignore option', () => {
  let root: string;
  const ignore = (rel: string, isDir: boolean): boolean => (isDir && rel.endsWith('build')) || rel.endsWith('.log');
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'leafsync-ignored-'));
    await mkdir(join(root, 'src/build'), { recursive: true });
    await writeFile(join(root, 'src/a.ts'), 'a');
    await writeFile(join(root, 'src/build/out.js'), 'out');
    await writeFile(join(root, 'debug.log'), 'log');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('summary leaves ignored files and directories out', async () => {
    const s = await new LocalFolderSource(root, { ignore }).summary();
    assert.deepEqual(s.entries.map((e) => e.path), ['src', 'src/a.ts']);
  });

  it('chunkHashes and fetchChunks refuse an ignored file or a file inside an ignored directory', async () => {
    const src = new LocalFolderSource(root, { ignore });
    const noop = async (): Promise<void> => {};
    for (const p of ['debug.log', 'src/build/out.js']) {
      await assert.rejects(src.chunkHashes(p), (err: unknown) => {
        assert.ok(err instanceof IgnoredPathError);
        assert.equal(err.code, 'IGNORED_PATH');
        assert.equal(err.path, p);
        return true;
      });
      await assert.rejects(src.fetchChunks(p, [0], noop), IgnoredPathError);
    }
    assert.equal((await src.chunkHashes('src/a.ts')).length, 1);
    await assert.rejects(new LocalFolderSource(root, { ignore, only: 'src/build/out.js' }).summary(), IgnoredPathError);
  });
});

describe('LocalFolderSource with a DirectoryWatch', () => {
  let root: string;
  let watch: DirectoryWatch;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'leafsync-watched-'));
    await mkdir(join(root, 'a/b'), { recursive: true });
    await writeFile(join(root, 'a/b/f'), 'one');
    await writeFile(join(root, '.leafsyncignore'), '');
  });
  after(async () => {
    watch.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers an unchanged folder from its last listing, and sees every edit made just before it is asked', async () => {
    watch = new DirectoryWatch();
    const src = new LocalFolderSource(root, { watch, readIgnoreFile: true });
    const first = await src.scan();
    assert.equal(await src.scan(), first, 'nothing changed: the same listing, not a new walk');
    const paths = async (): Promise<string[]> => (await src.summary()).entries.map((e) => `${e.path}:${e.size}`);
    const edits: Array<[string, () => Promise<unknown>, string]> = [
      ['a deep file grows', () => writeFile(join(root, 'a/b/f'), 'grown'), 'a/b/f:5'],
      ['a new folder with a file', async () => {
        await mkdir(join(root, 'a/new'));
        await writeFile(join(root, 'a/new/g'), 'g');
      }, 'a/new/g:1'],
      // Only watched once a scan listed it: the scan that found it must not be trusted blindly.
      ['a second file in that new folder', () => writeFile(join(root, 'a/new/h'), 'hh'), 'a/new/h:2'],
      ['a rename', () => rename(join(root, 'a/new/h'), join(root, 'a/h2')), 'a/h2:2'],
    ];
    for (const [what, edit, expected] of edits) {
      await src.summary();
      await edit();
      assert.ok((await paths()).includes(expected), what);
    }
    await writeFile(join(root, '.leafsyncignore'), 'a/b/\n');
    assert.ok(!(await paths()).includes('a/b/f:5'), 'an edit to the rules applies at once');
  });

  it('scans asked for at once (two clients) agree, and an edit made after them is seen', async (t) => {
    const own = new DirectoryWatch();
    t.after(() => own.close());
    const src = new LocalFolderSource(root, { watch: own, readIgnoreFile: true });
    const scans = await Promise.all([src.scan(), src.scan(), src.scan()]);
    for (const s of scans) assert.deepEqual(s.digest, scans[0]!.digest);
    await writeFile(join(root, 'a/new/g'), 'grown');
    const after = await Promise.all([src.scan(), src.scan()]);
    for (const s of after) assert.ok(s.entries.some((e) => e.path === 'a/new/g' && e.size === 5));
  });
});
