import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkBitmap } from './chunk-bitmap.js';
import { BitmapFile } from './bitmap-file.js';
import { CHUNK_SIZE } from './chunking.js';
import { tempDir } from '../test-support/trees.js';

test('ChunkBitmap: set/has/missing/present, counts, and bounds', () => {
  const b = new ChunkBitmap(10);
  assert.deepEqual(b.missing(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  b.set(0);
  b.set(9);
  b.set(9);
  assert.equal(b.setCount, 2);
  assert.deepEqual(b.present(), [0, 9]);
  assert.equal(b.has(10), false);
  assert.throws(() => b.set(10), RangeError);
  assert.throws(() => b.set(-1), RangeError);
  for (const i of b.missing()) b.set(i);
  assert.equal(b.complete, true);
  assert.equal(new ChunkBitmap(0).complete, true);
});

test('ChunkBitmap: padding bits past the count are ignored, wrong lengths refused', () => {
  const b = new ChunkBitmap(3, Uint8Array.of(0xff));
  assert.equal(b.setCount, 3);
  assert.deepEqual(b.present(), [0, 1, 2]);
  assert.throws(() => new ChunkBitmap(9, Uint8Array.of(0)), RangeError);
});

test('BitmapFile: marks survive a reopen; torn, foreign or missing records are not trusted', async (t) => {
  const dir = await tempDir(t, 'bitmap');
  const path = join(dir, 'x.bitmap');
  const target = { size: 20 * CHUNK_SIZE + 1, root: new Uint8Array(32).fill(7) };
  const record = await BitmapFile.create(path, target, new ChunkBitmap(21));
  await Promise.all([record.mark(3), record.mark(4), record.mark(20)]);
  await record.close();
  const loaded = await BitmapFile.load(path);
  assert.ok(loaded);
  assert.equal(loaded.target.size, target.size);
  assert.deepEqual([...loaded.target.root], [...target.root]);
  assert.deepEqual(loaded.bitmap.present(), [3, 4, 20]);

  const whole = await readFile(path);
  await truncate(path, whole.length - 1);
  assert.equal(await BitmapFile.load(path), undefined, 'a torn record is not trusted');
  await writeFile(path, Buffer.concat([Buffer.from('NOPE'), whole.subarray(4)]));
  assert.equal(await BitmapFile.load(path), undefined, 'a foreign file is not trusted');
  assert.equal(await BitmapFile.load(join(dir, 'missing.bitmap')), undefined);

  const again = await BitmapFile.create(path, target, new ChunkBitmap(21));
  await again.remove();
  assert.equal(await BitmapFile.load(path), undefined, 'remove deletes the record');
});
