import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameTooLargeError, TruncatedFrameError, FrameDecodeError, encodeFrame, encodeFrameAround, readFrames } from './frame-codec.js';
import { piecesSource, splitEvery } from '../test-support/byte-source.js';

/** Every message of `wire`, read in `size`-byte pieces (whole if no size). */
async function readAll(wire: Uint8Array, limit: number, size = wire.length || 1, transient = false): Promise<unknown[]> {
  const got: unknown[] = [];
  for await (const m of readFrames(piecesSource(splitEvery(wire, size)), limit, { transient })) got.push(m);
  return got;
}

test('messages survive any split of the byte stream, including 1-byte pieces', async () => {
  const data = Buffer.alloc(300_000, 7);
  const messages = [{ t: 'a' }, { t: 'chunk', i: 3, data }, { t: 'empty', list: [] }];
  const wire = Buffer.concat(messages.map((m) => encodeFrame(m)));
  for (const size of [1, 3, 1350, 65_536, wire.length]) {
    const got = await readAll(wire, 1 << 20, size);
    assert.equal(got.length, 3);
    assert.deepEqual(got[0], { t: 'a' });
    const c = got[1] as { i: number; data: Uint8Array };
    assert.equal(c.i, 3);
    assert.ok(Buffer.from(c.data).equals(data), `chunk bytes intact with ${size}-byte pieces`);
    assert.deepEqual(got[2], { t: 'empty', list: [] });
  }
});

test('byte strings decode as bytes, not base64 or arrays', async () => {
  const [m] = (await readAll(encodeFrame({ data: new Uint8Array([1, 2, 3]) }), 1024)) as Array<{ data: unknown }>;
  assert.ok(m);
  assert.ok(m.data instanceof Uint8Array);
  assert.deepEqual([...(m.data as Uint8Array)], [1, 2, 3]);
});

test('a frame longer than the limit is refused from its header, before its body arrives', async () => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(0xffffffff, 0);
  await assert.rejects(readAll(header, 1000), (e: unknown) => e instanceof FrameTooLargeError && e.length === 0xffffffff && e.limit === 1000);
});

test('a frame exactly at the limit is accepted, one byte over is not', async () => {
  for (const size of [100, 100_000]) {
    const frame = encodeFrame(Buffer.alloc(size));
    const limit = frame.length - 4;
    assert.equal((await readAll(frame, limit)).length, 1);
    await assert.rejects(readAll(frame, limit - 1), FrameTooLargeError);
  }
});

test('a stream that ends mid-frame is reported as truncated', async () => {
  const wire = encodeFrame({ t: 'x', pad: 'y'.repeat(100) });
  await assert.rejects(async () => {
    await readAll(wire.subarray(0, wire.length - 5), 1024, 7);
  }, TruncatedFrameError);
  await assert.rejects(readAll(wire.subarray(0, 2), 1024, 7), TruncatedFrameError);
  const big = encodeFrame({ t: 'x', pad: Buffer.alloc(100_000) });
  await assert.rejects(readAll(big.subarray(0, big.length - 1), 1 << 20, 1350), TruncatedFrameError);
});

test('garbage CBOR is a decode error, not a crash', async () => {
  await assert.rejects(readAll(Buffer.from([0, 0, 0, 2, 0xff, 0xff]), 1024), FrameDecodeError);
});

test('encodeFrameAround puts the same bytes on the wire as encodeFrame, for every byte-string length form', async () => {
  for (const length of [0, 1, 23, 24, 255, 256, 65_535, 65_536, 1024 * 1024]) {
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i += 4093) data[i] = i % 251;
    const [head, bytes] = encodeFrameAround({ t: 'chunk', i: 7 }, 'data', data);
    assert.equal(bytes, data, 'the bytes are passed through, not copied');
    const wire = Buffer.concat([head, bytes]);
    assert.ok(wire.equals(encodeFrame({ t: 'chunk', i: 7, data })), `length ${length}`);
    assert.deepEqual(await readAll(wire, 2 * 1024 * 1024), [{ t: 'chunk', i: 7, data }]);
  }
});

test('encodeFrameAround refuses a head that already has the byte-string key', () => {
  assert.throws(() => encodeFrameAround({ t: 'chunk', data: 1 }, 'data', Buffer.alloc(1)), RangeError);
});

test('a large frame is read straight into the memory its message then holds, reused when transient', async () => {
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i += 997) data[i] = i % 253;
  const wire = Buffer.concat([encodeFrame({ t: 'chunk', i: 0, data }), encodeFrame({ t: 'chunk', i: 1, data })]);
  for (const transient of [false, true]) {
    const source = piecesSource(splitEvery(wire, 1350));
    const buffers: ArrayBufferLike[] = [];
    for await (const m of readFrames(source, 1 << 20, { transient })) {
      const c = m as { data: Uint8Array };
      assert.ok(Buffer.from(c.data).equals(data));
      buffers.push(c.data.buffer);
      // Apart from the few bytes that came in with the header, every byte was read into the
      // chunk's own buffer: nothing was gathered in between and copied again.
      const direct = source.targets.filter((t) => t.buffer === c.data.buffer).reduce((n, t) => n + Math.min(t.length, 1350), 0);
      assert.ok(direct >= data.length - 4000, `only ${direct} bytes read in place`);
    }
    assert.equal(buffers.length, 2);
    assert.equal(buffers[0] === buffers[1], transient, transient ? 'a transient reader reuses its frame buffer' : 'each message owns its bytes');
  }
});

test('small messages own their bytes unless the reader is transient', async () => {
  const wire = Buffer.concat([encodeFrame({ h: Buffer.from([1, 2, 3]) }), encodeFrame({ h: Buffer.from([4, 5, 6]) })]);
  // Read in small pieces, the reader's memory is reused between the two messages.
  const kept = (await readAll(wire, 1024, 5)) as Array<{ h: Uint8Array }>;
  assert.deepEqual(
    kept.map((m) => [...m.h]),
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
  );
});
