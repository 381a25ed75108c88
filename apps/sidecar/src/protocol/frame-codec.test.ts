import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameTooLargeError, TruncatedFrameError, FrameDecodeError, encodeFrame, encodeFrameAround, readFrames } from './frame-codec.js';

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

function concat(frames: Uint8Array[]): Uint8Array {
  return Buffer.concat(frames);
}

test('messages survive any split of the byte stream, including 1-byte pieces', async () => {
  const data = Buffer.alloc(300_000, 7);
  const messages = [{ t: 'a' }, { t: 'chunk', i: 3, data }, { t: 'empty', list: [] }];
  const wire = concat(messages.map(encodeFrame));
  for (const size of [1, 3, 1350, 65_536, wire.length]) {
    const got: unknown[] = [];
    for await (const m of readFrames(pieces(wire, size), 1 << 20)) got.push(m);
    assert.equal(got.length, 3);
    assert.deepEqual(got[0], { t: 'a' });
    const c = got[1] as { i: number; data: Uint8Array };
    assert.equal(c.i, 3);
    assert.ok(Buffer.from(c.data).equals(data), `chunk bytes intact with ${size}-byte pieces`);
    assert.deepEqual(got[2], { t: 'empty', list: [] });
  }
});

test('byte strings decode as bytes, not base64 or arrays', () => {
  const d = new FrameDecoder(1024);
  d.push(encodeFrame({ data: new Uint8Array([1, 2, 3]) }));
  const m = d.next()!.message as { data: unknown };
  assert.ok(m.data instanceof Uint8Array);
  assert.deepEqual([...(m.data as Uint8Array)], [1, 2, 3]);
});

test('a frame longer than the limit is refused from its header, before its body arrives', () => {
  const d = new FrameDecoder(1000);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(0xffffffff, 0);
  d.push(header);
  assert.throws(() => d.next(), (e: unknown) => e instanceof FrameTooLargeError && e.length === 0xffffffff && e.limit === 1000);
});

test('a frame exactly at the limit is accepted, one byte over is not', () => {
  const body = Buffer.alloc(100);
  const frame = encodeFrame(body);
  const limit = frame.length - 4;
  const ok = new FrameDecoder(limit);
  ok.push(frame);
  assert.ok(ok.next());
  const tooSmall = new FrameDecoder(limit - 1);
  tooSmall.push(frame);
  assert.throws(() => tooSmall.next(), FrameTooLargeError);
});

test('a stream that ends mid-frame is reported as truncated', async () => {
  const wire = encodeFrame({ t: 'x', pad: 'y'.repeat(100) });
  await assert.rejects(async () => {
    for await (const _ of readFrames(pieces(wire.subarray(0, wire.length - 5), 7), 1024)) void _;
  }, TruncatedFrameError);
  await assert.rejects(async () => {
    for await (const _ of readFrames(pieces(wire.subarray(0, 2), 7), 1024)) void _;
  }, TruncatedFrameError);
});

test('garbage CBOR is a decode error, not a crash', () => {
  const d = new FrameDecoder(1024);
  const bad = Buffer.from([0, 0, 0, 2, 0xff, 0xff]);
  d.push(bad);
  assert.throws(() => d.next(), FrameDecodeError);
});

test('encodeFrameAround puts the same bytes on the wire as encodeFrame, for every byte-string length form', () => {
  for (const length of [0, 1, 23, 24, 255, 256, 65_535, 65_536, 1024 * 1024]) {
    const data = Buffer.alloc(length);
    for (let i = 0; i < length; i += 4093) data[i] = i % 251;
    const [head, bytes] = encodeFrameAround({ t: 'chunk', i: 7 }, 'data', data);
    assert.equal(bytes, data, 'the bytes are passed through, not copied');
    const wire = Buffer.concat([head, bytes]);
    assert.ok(wire.equals(encodeFrame({ t: 'chunk', i: 7, data })), `length ${length}`);
    const decoder = new FrameDecoder(2 * 1024 * 1024);
    decoder.push(wire);
    assert.deepEqual(decoder.next()?.message, { t: 'chunk', i: 7, data });
  }
});

test('encodeFrameAround refuses a head that already has the byte-string key', () => {
  assert.throws(() => encodeFrameAround({ t: 'chunk', data: 1 }, 'data', Buffer.alloc(1)), RangeError);
});

test('the decoder lets go of a piece as soon as its bytes are consumed', async () => {
  // Consumed pieces used to wait in the decoder's queue for the next compaction (up to 1024 of
  // them), which kept hundreds of MiB of received data alive on a fast link.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const decoder = new FrameDecoder(1024);
  const frames = Buffer.concat([encodeFrame({ n: 1, pad: 'x'.repeat(100) }), encodeFrame({ n: 2, pad: 'y'.repeat(100) })]);
  const firstPiece = (() => {
    // Each piece owns its ArrayBuffer, so a WeakRef to it says whether anything still holds it.
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < frames.length; at += 64) pieces.push(new Uint8Array(frames.subarray(at, at + 64)));
    for (const piece of pieces) decoder.push(piece);
    return new WeakRef(pieces[0]!.buffer);
  })();
  assert.deepEqual(decoder.next()?.message, { n: 1, pad: 'x'.repeat(100) });
  // The second frame is still queued, in pieces that straddle the first one's end.
  assert.ok(decoder.bufferedBytes > 0);
  // deref() would keep the target alive until the end of the turn: only look afterwards.
  for (let i = 0; i < 3; i++) {
    gc();
    await nextTurn();
  }
  assert.equal(firstPiece.deref(), undefined, 'a consumed piece is still referenced by the decoder');
  assert.deepEqual(decoder.next()?.message, { n: 2, pad: 'y'.repeat(100) });
});
