import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHUNK_SIZE, chunkCount, chunkLength, hashChunk, hashFd, hashFileChunks, hashStats } from './chunking.js';
import { pooledIo } from '../fs/fd-io.js';
import { merkleRoot } from './merkle.js';
import { NotRegularFileError } from './errors.js';

const MiB = CHUNK_SIZE;
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe('chunking', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leafsync-chunking-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: Array<{ name: string; size: number; count: number; last: number }> = [
    { name: '0 bytes', size: 0, count: 0, last: 0 },
    { name: '1 byte', size: 1, count: 1, last: 1 },
    { name: 'exactly 1 MiB', size: MiB, count: 1, last: MiB },
    { name: '1 MiB + 1 byte', size: MiB + 1, count: 2, last: 1 },
    { name: '5 MiB + 1 byte', size: 5 * MiB + 1, count: 6, last: 1 },
  ];

  for (const c of cases) {
    it(`${c.name}: counts, lengths and hashes match direct SHA-256 of the slices`, async () => {
      assert.equal(chunkCount(c.size), c.count);
      if (c.count > 0) {
        assert.equal(chunkLength(c.size, c.count - 1), c.last);
        for (let i = 0; i < c.count - 1; i++) assert.equal(chunkLength(c.size, i), MiB);
      }
      assert.throws(() => chunkLength(c.size, c.count), RangeError);

      const data = randomBytes(c.size);
      const file = join(dir, `f-${c.size}`);
      await writeFile(file, data);
      const before = { ...hashStats };
      const { size, hashes } = await hashFileChunks(file);
      assert.equal(size, c.size);
      assert.equal(hashes.length, c.count);
      for (let i = 0; i < c.count; i++) {
        const slice = data.subarray(i * MiB, i * MiB + chunkLength(c.size, i));
        assert.deepEqual(Buffer.from(hashes[i] as Uint8Array), sha(slice));
        assert.deepEqual(Buffer.from(hashChunk(slice)), sha(slice));
      }
      assert.equal(hashStats.bytesHashed - before.bytesHashed, c.size);
      assert.equal(hashStats.filesHashed - before.filesHashed, 1);

      if (c.size > 0) {
        // Flip one byte in the last chunk: exactly that chunk hash and the root change.
        const changed = Buffer.from(data);
        changed[c.size - 1] = (changed[c.size - 1] as number) ^ 0xff;
        await writeFile(file, changed);
        const again = await hashFileChunks(file);
        assert.notDeepEqual(Buffer.from(merkleRoot(again.hashes)), Buffer.from(merkleRoot(hashes)));
        for (let i = 0; i < c.count - 1; i++) assert.deepEqual(again.hashes[i], hashes[i]);
        assert.notDeepEqual(again.hashes[c.count - 1], hashes[c.count - 1]);
      }
    });
  }

  it('a size hint picks the read buffer, never the result: a file larger or smaller than its hint is still hashed whole', async () => {
    const KiB = 1024;
    // Hints over 1 MiB hash on worker threads (chunk-hash-workers): a hint short of the file
    // makes them read past it, one beyond it makes them find the end early.
    for (const size of [0, 1, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1, MiB + 1, 3 * MiB, 5 * MiB + 3]) {
      const file = join(dir, `hinted-${size}`);
      await writeFile(file, randomBytes(size));
      const expected = await hashFileChunks(file);
      for (const hint of [0, 1, Math.max(0, size - 1), size, size + 1, 100 * KiB, 2 * MiB, 2 * MiB + 1, 9 * MiB]) {
        const before = { ...hashStats };
        assert.deepEqual(await hashFileChunks(file, hint), expected, `size ${size}, hint ${hint}`);
        assert.equal(hashStats.bytesHashed - before.bytesHashed, size);
        assert.equal(hashStats.filesHashed - before.filesHashed, 1);
      }
    }
  });

  it('rejects negative and fractional sizes and indices', () => {
    assert.throws(() => chunkCount(-1), RangeError);
    assert.throws(() => chunkCount(1.5), RangeError);
    assert.throws(() => chunkLength(10, -1), RangeError);
    assert.throws(() => chunkLength(10, 0.5), RangeError);
  });

  it('a read error on a hashing thread fails the file with its code', async () => {
    const fd = openSync(dir, 'r');
    try {
      await assert.rejects(hashFd(pooledIo, fd, 3 * MiB), { code: 'EISDIR' });
    } finally {
      closeSync(fd);
    }
  });

  it('hashing a missing file rejects with ENOENT', async () => {
    await assert.rejects(hashFileChunks(join(dir, 'nope')), { code: 'ENOENT' });
  });

  it('a FIFO or a symlink where a scan saw a file is refused at once, never waited on or followed', { timeout: 10_000 }, async () => {
    // What a swap between the scan's lstat and the open leaves behind. A blocking open of a FIFO
    // with no writer would never return (and for a small file it blocks the event loop).
    const fifo = join(dir, 'swapped-fifo');
    execFileSync('mkfifo', [fifo]);
    const target = join(dir, 'outside.bin');
    await writeFile(target, randomBytes(100));
    const link = join(dir, 'swapped-link');
    await symlink(target, link);
    // The pooled open first: if it regresses, the test times out instead of the blocking one
    // freezing the event loop.
    for (const sizeHint of [10 * MiB, 100]) {
      await assert.rejects(hashFileChunks(fifo, sizeHint), NotRegularFileError);
      await assert.rejects(hashFileChunks(link, sizeHint), { code: 'ELOOP' });
    }
  });
});
