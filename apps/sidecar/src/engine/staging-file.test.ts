import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { CHUNK_SIZE, hashChunk, hashStats } from './chunking.js';
import { ChunkLengthError, ChunkOutOfRangeError, MerkleMismatchError } from './errors.js';
import { merkleRoot } from './merkle.js';
import { StagingFile, stagingPathFor, tidyStagingDir } from './staging-file.js';

const MiB = CHUNK_SIZE;
const rootOf = (data: Uint8Array): Uint8Array => {
  const hashes: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += MiB) hashes.push(hashChunk(data.subarray(off, off + MiB)));
  return merkleRoot(hashes);
};
const MTIME = 1_650_000_000_777;

describe('StagingFile', () => {
  let base: string;
  let root: string;
  let n = 0;
  beforeEach(async () => {
    base ??= await mkdtemp(join(tmpdir(), 'leafsync-staging-'));
    root = join(base, `r${n++}`);
    await mkdir(root);
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('seeded copy keeps unchanged chunks; one new chunk + finalize gives the new file with mtime and mode', async () => {
    const dest = join(root, 'dir/file.bin');
    const old = randomBytes(3 * MiB + 100);
    await mkdir(join(root, 'dir'));
    await writeFile(dest, old);
    await chmod(dest, 0o444); // read-only original must still seed a writable staging copy

    const next = Buffer.from(old);
    randomBytes(MiB).copy(next, MiB); // replace chunk 1 only
    const staging = await StagingFile.open(root, 'dir/file.bin', { size: next.length, seedFrom: dest });
    assert.equal(staging.tempPath, stagingPathFor(root, 'dir/file.bin'));
    assert.match(staging.tempPath, /[/\\]\.leafsync_tmp[/\\][0-9a-f]{64}\.part$/);

    // The seed is already there: chunks 0, 2 and 3 are the old bytes.
    const seeded = await readFile(staging.tempPath);
    assert.ok(seeded.subarray(0, MiB).equals(old.subarray(0, MiB)));
    assert.ok(seeded.subarray(2 * MiB).equals(old.subarray(2 * MiB)));

    await staging.writeChunk(1, next.subarray(MiB, 2 * MiB));
    // Before finalize the destination still holds the old content.
    assert.ok((await readFile(dest)).equals(old));
    await staging.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o640 });

    assert.ok((await readFile(dest)).equals(next));
    const st = await stat(dest);
    assert.equal(Math.floor(st.mtimeMs), MTIME);
    assert.equal(st.mode & 0o777, 0o640);
    assert.deepEqual(await readdir(join(root, '.leafsync_tmp')), [], 'staging file renamed away');
  });

  it('shrink: truncates to the new size without fetching anything', async () => {
    const dest = join(root, 'big');
    const old = randomBytes(2 * MiB + 5);
    await writeFile(dest, old);
    const next = old.subarray(0, MiB + 10);
    const staging = await StagingFile.open(root, 'big', { size: next.length, seedFrom: dest });
    await staging.writeChunk(1, next.subarray(MiB)); // last chunk is now 10 bytes
    await staging.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o600 });
    assert.ok((await readFile(dest)).equals(next));

    const dest2 = join(root, 'big2');
    await writeFile(dest2, old);
    const exact = old.subarray(0, MiB); // shrink to a chunk boundary: nothing to write at all
    const s2 = await StagingFile.open(root, 'big2', { size: exact.length, seedFrom: dest2 });
    await s2.finalize(dest2, { size: exact.length, root: rootOf(exact), mtimeMs: MTIME, mode: 0o600 });
    assert.ok((await readFile(dest2)).equals(exact));
  });

  it('new file without seed, created in a missing parent directory; empty file too', async () => {
    const data = randomBytes(MiB + 1);
    const s = await StagingFile.open(root, 'new/deep/f', { size: data.length });
    await s.writeChunk(1, data.subarray(MiB));
    await s.writeChunk(0, data.subarray(0, MiB));
    await s.finalize(join(root, 'new/deep/f'), { size: data.length, root: rootOf(data), mtimeMs: MTIME, mode: 0o644 });
    assert.ok((await readFile(join(root, 'new/deep/f'))).equals(data));

    const e = await StagingFile.open(root, 'empty', { size: 0 });
    await e.finalize(join(root, 'empty'), { size: 0, root: merkleRoot([]), mtimeMs: MTIME, mode: 0o644 });
    assert.equal((await stat(join(root, 'empty'))).size, 0);
  });

  it('mismatch throws MerkleMismatchError, leaves the destination untouched and keeps staging for another try', async () => {
    const dest = join(root, 'f');
    const old = randomBytes(2 * MiB);
    await writeFile(dest, old);
    const before = await stat(dest);
    const next = Buffer.from(old);
    next[MiB + 7] = (next[MiB + 7] as number) ^ 1;
    const s = await StagingFile.open(root, 'f', { size: next.length, seedFrom: dest });
    // "Forget" to write chunk 1: the seed's old chunk 1 must not pass verification.
    await assert.rejects(
      s.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o600 }),
      (err: unknown) => {
        assert.ok(err instanceof MerkleMismatchError);
        assert.equal(err.code, 'MERKLE_MISMATCH');
        assert.equal(err.path, 'f');
        assert.match(err.message, /f.*not replaced/);
        return true;
      },
    );
    assert.ok((await readFile(dest)).equals(old));
    assert.equal((await stat(dest)).mtimeMs, before.mtimeMs);
    assert.ok((await readFile(s.tempPath)).equals(old), 'staging kept');
    // Repair and retry with the same staging file.
    await s.writeChunk(1, next.subarray(MiB));
    await s.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o600 });
    assert.ok((await readFile(dest)).equals(next));
  });

  it('a small file (blocking calls) gets the same checks: a wrong byte is refused, the right bytes land with mode and mtime', async () => {
    const dest = join(root, 'small/f.txt');
    const data = randomBytes(20_000); // under SMALL_FILE_BYTES
    const s = await StagingFile.open(root, 'small/f.txt', { size: data.length });
    const bad = Buffer.from(data);
    bad[123] = (bad[123] as number) ^ 1;
    await s.writeChunk(0, bad);
    await assert.rejects(s.finalize(dest, { size: data.length, root: rootOf(data), mtimeMs: MTIME, mode: 0o640 }), MerkleMismatchError);
    await assert.rejects(stat(dest), { code: 'ENOENT' }, 'nothing published');
    await s.writeChunk(0, data);
    await s.finalize(dest, { size: data.length, root: rootOf(data), mtimeMs: MTIME, mode: 0o640 });
    assert.ok((await readFile(dest)).equals(data));
    const st = await stat(dest);
    assert.equal(Math.floor(st.mtimeMs), MTIME);
    assert.equal(st.mode & 0o777, 0o640);
  });

  it('exclusive: a new file whose every chunk was written with its hash is checked against those hashes, not read back', async () => {
    const dest = join(root, 'new.bin');
    const data = randomBytes(2 * MiB + 300);
    const hashes = [0, 1, 2].map((i) => hashChunk(data.subarray(i * MiB, (i + 1) * MiB)));
    const s = await StagingFile.open(root, 'new.bin', { size: data.length });
    for (const i of [2, 0, 1]) await s.writeChunk(i, data.subarray(i * MiB, (i + 1) * MiB), hashes[i]);
    // A wrong announced root is still refused: the written hashes must add up to it.
    await assert.rejects(s.finalize(dest, { size: data.length, root: rootOf(randomBytes(10)), mtimeMs: MTIME, mode: 0o600 }, { exclusive: true }), MerkleMismatchError);
    const hashedBefore = hashStats.bytesHashed;
    await s.finalize(dest, { size: data.length, root: rootOf(data), mtimeMs: MTIME, mode: 0o640 }, { exclusive: true });
    assert.equal(hashStats.bytesHashed, hashedBefore, 'nothing was read back to hash');
    assert.ok((await readFile(dest)).equals(data));
    const st = await stat(dest);
    assert.equal(Math.floor(st.mtimeMs), MTIME);
    assert.equal(st.mode & 0o777, 0o640);
  });

  it('exclusive: bytes this file did not get from writeChunk with a hash (a seed, a write without one) are read back and checked', async () => {
    const old = randomBytes(2 * MiB);
    const next = Buffer.from(old);
    next[MiB + 7] = (next[MiB + 7] as number) ^ 1;
    const chunk1 = next.subarray(MiB);
    // Seeded: chunk 0 comes from the old file; "forgetting" chunk 1 is caught as before.
    const seededDest = join(root, 'seeded');
    await writeFile(seededDest, old);
    const seeded = await StagingFile.open(root, 'seeded', { size: next.length, seedFrom: seededDest });
    await assert.rejects(seeded.finalize(seededDest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o600 }, { exclusive: true }), MerkleMismatchError);
    await seeded.writeChunk(1, chunk1, hashChunk(chunk1));
    const hashedBefore = hashStats.bytesHashed;
    await seeded.finalize(seededDest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o600 }, { exclusive: true });
    assert.equal(hashStats.bytesHashed - hashedBefore, next.length, 'the seeded file was read back whole');
    assert.ok((await readFile(seededDest)).equals(next));

    // New, but one chunk was written without its hash, then changed on disk behind our back.
    const dest = join(root, 'unhashed');
    const s = await StagingFile.open(root, 'unhashed', { size: next.length });
    await s.writeChunk(0, next.subarray(0, MiB), hashChunk(next.subarray(0, MiB)));
    await s.writeChunk(1, chunk1);
    await writeFile(s.tempPath, Buffer.alloc(10, 1), { flag: 'r+' });
    await assert.rejects(s.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o600 }, { exclusive: true }), MerkleMismatchError);
    await assert.rejects(stat(dest), { code: 'ENOENT' }, 'nothing published');
  });

  it('a finalize stopped by its last check keeps a staging file that a resume can write again, even for a read-only file', async () => {
    const dest = join(root, 'ro');
    const old = randomBytes(2 * MiB);
    await writeFile(dest, old);
    const next = Buffer.from(old);
    randomBytes(MiB).copy(next, MiB);
    const s1 = await StagingFile.open(root, 'ro', { size: next.length, seedFrom: dest });
    await s1.writeChunk(1, next.subarray(MiB));
    const edited = new Error('edited meanwhile');
    await assert.rejects(
      s1.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o444 }, { beforeReplace: async () => Promise.reject(edited) }),
      (err) => err === edited,
    );
    await s1.close();
    assert.equal((await stat(s1.tempPath)).mode & 0o777, 0o444, 'the check ran after the mode was set');
    assert.ok((await readFile(dest)).equals(old), 'destination untouched');

    const s2 = await StagingFile.open(root, 'ro', { size: next.length, resume: true });
    assert.equal(s2.resumed, true);
    // Without write permission an unprivileged process could not reopen it for writing.
    assert.equal((await stat(s2.tempPath)).mode & 0o600, 0o600);
    await s2.finalize(dest, { size: next.length, root: rootOf(next), mtimeMs: MTIME, mode: 0o444 });
    assert.ok((await readFile(dest)).equals(next));
  });

  it('refuses chunks with the wrong index or length', async () => {
    const s = await StagingFile.open(root, 'x', { size: MiB + 3 });
    await assert.rejects(s.writeChunk(2, new Uint8Array(1)), ChunkOutOfRangeError);
    await assert.rejects(s.writeChunk(-1, new Uint8Array(1)), ChunkOutOfRangeError);
    await assert.rejects(s.writeChunk(1, new Uint8Array(4)), ChunkLengthError);
    await assert.rejects(s.writeChunk(0, new Uint8Array(MiB - 1)), ChunkLengthError);
    await s.discard();
  });

  it('discard removes the staging file; a missing seed starts empty', async () => {
    const s = await StagingFile.open(root, 'gone', { size: 10, seedFrom: join(root, 'no-such-file') });
    // A fresh staging file is empty and grows as chunks are written; nothing of any seed is in it.
    assert.equal((await readFile(s.tempPath)).length, 0);
    await s.writeChunk(0, new Uint8Array(10).fill(3));
    assert.deepEqual(await readFile(s.tempPath), Buffer.alloc(10, 3));
    await s.discard();
    await assert.rejects(stat(s.tempPath), { code: 'ENOENT' });
    await assert.rejects(s.writeChunk(0, new Uint8Array(10)), /already finalized or discarded/);
  });

  it('resume keeps an existing staging file instead of re-seeding it', async () => {
    const dest = join(root, 'r');
    await writeFile(dest, Buffer.alloc(MiB + 1, 1));
    const s1 = await StagingFile.open(root, 'r', { size: MiB + 1, seedFrom: dest });
    await s1.writeChunk(1, Uint8Array.of(9));
    // Simulate an interruption: the process goes away without finalize or discard.
    const s2 = await StagingFile.open(root, 'r', { size: MiB + 1, seedFrom: dest, resume: true });
    assert.equal(s2.resumed, true);
    const buf = await readFile(s2.tempPath);
    assert.equal(buf[MiB], 9);
    await s2.discard();
    await s1.discard();
  });

  it('a file written past the background-flush size finalizes, closes for a resume and discards, each after its flush ends', async () => {
    // 33 MiB passes WRITEBACK_BYTES (32 MiB) once, so a flush starts with the last chunk and is
    // still running when the file is finalized, closed or discarded right after.
    const size = 33 * MiB + 5;
    const data = randomBytes(size);
    const writeAll = async (s: StagingFile) => {
      for (let i = 0; i * MiB < size; i++) await s.writeChunk(i, data.subarray(i * MiB, (i + 1) * MiB));
    };
    const dest = join(root, 'big.bin');
    const landed = await StagingFile.open(root, 'big.bin', { size });
    await writeAll(landed);
    await landed.finalize(dest, { size, root: rootOf(data), mtimeMs: MTIME, mode: 0o644 });
    assert.ok((await readFile(dest)).equals(data));

    const kept = await StagingFile.open(root, 'kept.bin', { size });
    await writeAll(kept);
    await kept.close();
    const resumed = await StagingFile.open(root, 'kept.bin', { size, resume: true });
    assert.ok(Buffer.from(await resumed.readChunk(32)).equals(data.subarray(32 * MiB, 33 * MiB)));
    await resumed.discard();

    const dropped = await StagingFile.open(root, 'dropped.bin', { size });
    await writeAll(dropped);
    await dropped.discard();
    await assert.rejects(stat(dropped.tempPath), { code: 'ENOENT' });
  });
});

describe('tidyStagingDir', () => {
  it('drops resume records whose staging file is gone, keeps everything else, and the folder once empty', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'leafsync-tidy-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const dir = join(root, '.leafsync_tmp');
    await mkdir(dir);
    // A finished transfer's record (its staging file was renamed into place), a transfer to
    // resume (staging file and record), and an undo journal.
    for (const name of ['done.bitmap', 'going.part', 'going.bitmap', 'x.undo']) await writeFile(join(dir, name), 'x');
    await tidyStagingDir(root);
    assert.deepEqual((await readdir(dir)).sort(), ['going.bitmap', 'going.part', 'x.undo']);
    for (const name of ['going.part', 'going.bitmap', 'x.undo']) await rm(join(dir, name));
    await writeFile(join(dir, 'another-done.bitmap'), 'x');
    await tidyStagingDir(root);
    assert.deepEqual(await readdir(root), [], 'an orphan record alone does not keep the folder');
    await tidyStagingDir(root); // and no folder at all is fine
  });
});
