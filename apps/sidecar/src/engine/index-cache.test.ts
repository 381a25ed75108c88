import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { FileIdentity, IndexCacheWarning, IndexRecord } from './index-cache.js';
import { IndexCache, indexCachePath } from './index-cache.js';
import { merkleRoot } from './merkle.js';

const h = (s: string): Uint8Array => createHash('sha256').update(s).digest();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function record(path: string, chunks: number, identity?: Partial<Omit<IndexRecord, 'path'>>): IndexRecord {
  const hashes = Array.from({ length: chunks }, (_, i) => h(`${path}#${i}`));
  const size = chunks === 0 ? 0 : (chunks - 1) * 1024 * 1024 + 10;
  return { path, size, mtimeMs: 1_700_000_000_123, ctimeMs: 1_700_000_000_123.4567, ino: 4242, mode: 0o644, hashes, root: merkleRoot(hashes), ...identity };
}

function identityOf(r: IndexRecord): FileIdentity {
  return { size: r.size, mtimeMs: r.mtimeMs, ctimeMs: r.ctimeMs, ino: r.ino };
}

describe('IndexCache', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-index-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('round-trips hashes and root, including an empty file and a huge inode', () => {
    const c = IndexCache.memory();
    const three = record('a/b.bin', 3);
    const empty = record('zero', 0, { ino: 2 ** 60 });
    c.putMany([three, empty]);
    const got = c.get('a/b.bin', identityOf(three));
    assert.ok(got);
    assert.deepEqual(got.hashes.map(hex), three.hashes.map(hex));
    assert.equal(hex(got.root), hex(three.root));
    const gotEmpty = c.get('zero', identityOf(empty));
    assert.ok(gotEmpty);
    assert.equal(gotEmpty.hashes.length, 0);
    assert.equal(hex(gotEmpty.root), hex(merkleRoot([])));
    assert.equal(c.get('missing', identityOf(three)), undefined);
    assert.equal(c.count(), 2);
    c.close();
  });

  it('a difference in any identity field is a miss', () => {
    const c = IndexCache.memory();
    const r = record('f', 2);
    c.put(r);
    const id = identityOf(r);
    assert.ok(c.get('f', id));
    assert.equal(c.get('f', { ...id, size: id.size + 1 }), undefined, 'size');
    assert.equal(c.get('f', { ...id, mtimeMs: id.mtimeMs + 1 }), undefined, 'mtime');
    assert.equal(c.get('f', { ...id, ctimeMs: id.ctimeMs + 0.001 }), undefined, 'ctime (sub-millisecond)');
    assert.equal(c.get('f', { ...id, ino: id.ino + 1 }), undefined, 'inode');
    c.close();
  });

  it('put replaces, delete and deleteMany remove, retainOnly prunes files that are gone', () => {
    const c = IndexCache.memory();
    c.putMany(['a', 'b', 'c', 'd', 'e'].map((p) => record(p, 1)));
    const newer = record('a', 2, { mtimeMs: 1_800_000_000_000 });
    c.put(newer);
    assert.equal(c.get('a', identityOf(record('a', 1))), undefined);
    assert.equal(c.get('a', identityOf(newer))?.hashes.length, 2);
    c.delete('b');
    c.deleteMany(['c']);
    assert.equal(c.retainOnly(new Set(['a', 'x'])), 2, 'd and e pruned');
    assert.deepEqual([...c.loadAllRoots().keys()], ['a']);
    c.close();
  });

  it('loadAllRoots returns every entry with its identity, mode and root', () => {
    const c = IndexCache.memory();
    const records = Array.from({ length: 500 }, (_, i) => record(`dir/${i}`, i % 4, { mode: 0o600 + (i % 8) }));
    c.putMany(records);
    const all = c.loadAllRoots();
    assert.equal(all.size, 500);
    for (const r of records) {
      const e = all.get(r.path);
      assert.ok(e, r.path);
      assert.deepEqual({ size: e.size, mtimeMs: e.mtimeMs, ctimeMs: e.ctimeMs, ino: e.ino, mode: e.mode }, { ...identityOf(r), mode: r.mode });
      assert.equal(hex(e.root), hex(r.root));
    }
    c.close();
  });

  it('persists across reopen, one private file per folder under <home>/index', async () => {
    const home = join(base, 'persist');
    const r = record('docs/ü.txt', 1);
    const c = IndexCache.open(home, '/data/folder');
    c.put(r);
    c.close();
    const file = indexCachePath(home, '/data/folder');
    assert.match(file, /[/\\]index[/\\][0-9a-f]{32}\.sqlite$/);
    assert.equal(c.file, file);
    if (process.platform !== 'win32') {
      assert.equal((await stat(join(home, 'index'))).mode & 0o777, 0o700);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    }
    const again = IndexCache.open(home, '/data/folder');
    assert.equal(hex(again.get('docs/ü.txt', identityOf(r))!.root), hex(r.root));
    assert.deepEqual(again.warnings, []);
    again.close();
    const other = IndexCache.open(home, '/data/other');
    assert.notEqual(other.file, file);
    assert.equal(other.count(), 0, 'another folder has its own cache');
    other.close();
  });

  it('is opened on first use: an index never used creates no file, and a closed one refuses use', () => {
    const home = join(base, 'lazy');
    const idle = IndexCache.open(home, '/lazy');
    idle.close();
    assert.equal(existsSync(indexCachePath(home, '/lazy')), false);
    assert.throws(() => idle.count(), /closed/);
    const used = IndexCache.open(home, '/lazy');
    assert.equal(used.count(), 0);
    assert.equal(existsSync(indexCachePath(home, '/lazy')), true);
    used.close();
    assert.throws(() => used.count());
  });

  it('a corrupt database file is moved aside with a warning and a fresh cache works', async () => {
    const home = join(base, 'corrupt');
    const file = indexCachePath(home, '/f');
    const first = IndexCache.open(home, '/f');
    first.put(record('x', 1));
    first.close();
    await writeFile(file, Buffer.alloc(16384, 0x5a));
    const seen: IndexCacheWarning[] = [];
    const c = IndexCache.open(home, '/f', { onWarning: (w) => seen.push(w) });
    assert.equal(seen.length, 0, 'the file is opened on first use');
    assert.equal(c.count(), 0);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.code, 'INDEX_CACHE_CORRUPT');
    assert.match(seen[0]!.message, /not a database/);
    assert.deepEqual(c.warnings, seen);
    const r = record('y', 2);
    c.put(r);
    assert.ok(c.get('y', identityOf(r)));
    c.close();
    const names = await readdir(join(home, 'index'));
    assert.ok(names.some((n) => /\.sqlite\.corrupt-\d+$/.test(n)), `bad file kept aside: ${names.join(', ')}`);
    const reopened = IndexCache.open(home, '/f');
    assert.ok(reopened.get('y', identityOf(r)), 'the fresh file is the one used from now on');
    assert.deepEqual(reopened.warnings, []);
    reopened.close();
  });

  it('a different schema version is wiped, not misread', () => {
    const home = join(base, 'schema');
    const c = IndexCache.open(home, '/s');
    c.put(record('old', 1));
    c.close();
    const raw = new Database(indexCachePath(home, '/s'));
    raw.pragma('user_version = 999');
    raw.close();
    const again = IndexCache.open(home, '/s');
    assert.equal(again.count(), 0);
    assert.deepEqual(again.warnings, []);
    again.close();
  });

  it('a row whose hashes do not fit its size, or whose root is not 32 bytes, is a miss', () => {
    const home = join(base, 'badrow');
    const c = IndexCache.open(home, '/b');
    const f = record('f', 2);
    const g = record('g', 1);
    c.putMany([f, g]);
    c.close();
    const raw = new Database(indexCachePath(home, '/b'));
    raw.prepare('UPDATE files SET hashes = ? WHERE path = ?').run(Buffer.alloc(31), 'f');
    raw.prepare('UPDATE files SET root = ? WHERE path = ?').run(Buffer.alloc(5), 'g');
    raw.close();
    const again = IndexCache.open(home, '/b');
    assert.equal(again.get('f', identityOf(f)), undefined);
    assert.equal(again.get('g', identityOf(g)), undefined);
    assert.deepEqual([...again.loadAllRoots().keys()], ['f']);
    again.close();
  });
});
