import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChunkHashWorkers } from './chunk-hash-workers.js';

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

describe('ChunkHashWorkers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leafsync-hash-workers-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes the bytes at each position of an open file, a short read at its end, nothing past it', async () => {
    const data = randomBytes(10_000);
    const file = join(dir, 'data');
    await writeFile(file, data);
    const workers = new ChunkHashWorkers(4096, 2);
    const fd = openSync(file, 'r');
    try {
      const results = await Promise.all([0, 4096, 8192, 12288].map((at) => workers.hashChunk(fd, at, 4096)));
      const reads = results.map((r) => (r.ok ? r.read : assert.fail(r.error)));
      assert.deepEqual(reads.map((r) => r.bytes), [4096, 4096, 10_000 - 8192, 0]);
      for (const [i, r] of reads.slice(0, 3).entries()) assert.deepEqual(Buffer.from(r.hash!), sha(data.subarray(i * 4096, (i + 1) * 4096)));
      assert.equal(reads[3]!.hash, undefined);
    } finally {
      closeSync(fd);
    }
  });

  it('a read that fails comes back as an error with its code (here a folder\'s descriptor), not a crash', async () => {
    const fd = openSync(dir, 'r');
    try {
      const result = await new ChunkHashWorkers(4096, 1).hashChunk(fd, 0, 4096);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && (result.error as NodeJS.ErrnoException).code, 'EISDIR');
    } finally {
      closeSync(fd);
    }
  });
});
