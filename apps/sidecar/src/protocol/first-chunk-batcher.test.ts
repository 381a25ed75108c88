import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIRST_CHUNKS_PATH_BYTES, FIRST_CHUNKS_PER_REQUEST, FirstChunkBatcher, type FirstChunkAnswer, type OnChunk } from './first-chunk-batcher.js';

/** A fake server for the batcher's logic alone: `answer` decides each batch's fate. */
function harness(answer: (paths: string[], deliver: (a: FirstChunkAnswer) => Promise<void>) => Promise<void>, transient = (err: unknown) => err instanceof TransientError) {
  const batches: string[][] = [];
  const alone: string[] = [];
  const batcher = new FirstChunkBatcher(
    async (paths, deliver) => {
      batches.push(paths);
      await answer(paths, deliver);
    },
    async (path, onChunk) => {
      alone.push(path);
      await onChunk(0, Buffer.from(`alone ${path}`));
    },
    transient,
  );
  return { batcher, batches, alone };
}

class TransientError extends Error {}

const taken = (): { got: Map<string, string>; onChunk: (path: string) => OnChunk } => {
  const got = new Map<string, string>();
  return { got, onChunk: (path) => async (i, data) => void got.set(path, `${i}:${Buffer.from(data).toString()}`) };
};

test('first chunks asked for in one turn leave in batches of at most FIRST_CHUNKS_PER_REQUEST files and FIRST_CHUNKS_PATH_BYTES of names', async () => {
  const { batcher, batches } = harness(async (paths, deliver) => {
    for (const p of paths) await deliver({ data: Buffer.from(p) });
  });
  const { got, onChunk } = taken();
  const paths = Array.from({ length: FIRST_CHUNKS_PER_REQUEST + 8 }, (_, i) => `f${i}`);
  await Promise.all(paths.map((p) => batcher.fetch(p, onChunk(p))));
  assert.deepEqual(batches.map((b) => b.length), [FIRST_CHUNKS_PER_REQUEST, 8]);
  for (const p of paths) assert.equal(got.get(p), `0:${p}`);

  const long = 'x'.repeat(FIRST_CHUNKS_PATH_BYTES / 2 - 1);
  batches.length = 0;
  await Promise.all([`a${long}`, `b${long}`, `c${long}`].map((p) => batcher.fetch(p, onChunk(p))));
  assert.deepEqual(batches.map((b) => b.length), [2, 1], 'names past the byte budget start a new batch');
});

test("a file's own error reaches only that file's caller", async () => {
  const { batcher } = harness(async (paths, deliver) => {
    for (const p of paths) await deliver(p === 'missing' ? { error: new Error('no such file') } : { data: Buffer.from(p) });
  });
  const { got, onChunk } = taken();
  const results = await Promise.allSettled(['a', 'missing', 'b'].map((p) => batcher.fetch(p, onChunk(p))));
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /no such file/);
  assert.deepEqual([...got.keys()].sort(), ['a', 'b']);
});

test('a batch that fails part-way on a transient fault keeps what arrived and asks for the rest alone', async () => {
  const { batcher, alone } = harness(async (paths, deliver) => {
    await deliver({ data: Buffer.from(paths[0]!) });
    throw new TransientError('stuck');
  });
  const { got, onChunk } = taken();
  await Promise.all(['a', 'b', 'c'].map((p) => batcher.fetch(p, onChunk(p))));
  assert.deepEqual(alone, ['b', 'c']);
  assert.deepEqual(Object.fromEntries(got), { a: '0:a', b: '0:alone b', c: '0:alone c' });
});

test('a batch whose answer breaks the protocol fails the files it answered, and asks for the rest alone', async () => {
  const { batcher, alone } = harness(async (paths, deliver) => {
    await deliver({ data: Buffer.from(paths[0]!) });
    throw new Error('server sent garbage');
  });
  const { onChunk } = taken();
  const results = await Promise.allSettled(['a', 'b'].map((p) => batcher.fetch(p, onChunk(p))));
  assert.equal(results[0]!.status, 'rejected', 'the answered file is not trusted to have landed');
  assert.match(String((results[0] as PromiseRejectedResult).reason), /garbage/);
  assert.equal(results[1]!.status, 'fulfilled');
  assert.deepEqual(alone, ['b']);
});

test("a failure taking one file's chunk fails that file only", async () => {
  const { batcher } = harness(async (paths, deliver) => {
    for (const p of paths) await deliver({ data: Buffer.from(p) });
  });
  const results = await Promise.allSettled(
    ['a', 'disk-full', 'b'].map((p) =>
      batcher.fetch(p, async () => {
        if (p === 'disk-full') throw new Error('ENOSPC');
      }),
    ),
  );
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
});
