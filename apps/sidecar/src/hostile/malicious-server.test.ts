import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CHUNK_SIZE, hashChunk } from '../engine/chunking.js';
import { merkleRoot } from '../engine/merkle.js';
import { encodeFrame } from '../protocol/frame-codec.js';
import { MAX_FRAME_BYTES, type Request } from '../protocol/messages.js';
import { claimedFile, summaryFrames } from '../test-support/malicious-server.js';
import { HONEST, attack, forever, good, withHostileName } from '../test-support/attack-harness.js';

test('malicious server: a ".." path is refused, nothing escapes', { timeout: 90_000 }, async (t) => {
  await attack(t, { entries: withHostileName('../outside/victim.txt'), expect: { error: /'\.\.' segment/, failureCodes: ['UNSAFE_PATH'] } });
  await attack(t, { entries: withHostileName('good/../../escape.txt'), expect: { error: /'\.\.' segment/, failureCodes: ['UNSAFE_PATH'] } });
  // The CLI says so in one line and exits 1.
  await attack(t, { entries: withHostileName('../x'), inChild: true, expect: { error: /^leafsync: error: 1 file\(s\) could not be synced.*Refusing unsafe path "\.\.\/x": '\.\.' segment\)\n$/m, failureCodes: ['UNSAFE_PATH'] } });
});

test('malicious server: an absolute path is refused', { timeout: 60_000 }, async (t) => {
  let outside = '';
  await attack(t, {
    entries: [],
    setup: async (f) => {
      outside = join(f.outside, 'abs.txt');
    },
    script: (req, honest) => (req.t === 'summary' ? summaryFrames(new Uint8Array(32), [...honest.entries, claimedFile(outside, 6, merkleRoot([hashChunk(Buffer.from('pwned\n'))]))]) : undefined),
    expect: { error: /absolute path/, failureCodes: ['UNSAFE_PATH'] },
  });
});

test('malicious server: Windows drive and backslash paths are refused', { timeout: 60_000 }, async (t) => {
  await attack(t, { entries: withHostileName('C:\\x'), expect: { error: /backslash/, failureCodes: ['UNSAFE_PATH'] } });
  await attack(t, { entries: withHostileName('C:/x'), expect: { error: /drive letter/, failureCodes: ['UNSAFE_PATH'] } });
  await attack(t, { entries: withHostileName('..\\..\\x'), expect: { error: /backslash/, failureCodes: ['UNSAFE_PATH'] } });
});

test('malicious server: a NUL byte in a name is refused', { timeout: 60_000 }, async (t) => {
  await attack(t, { entries: withHostileName('keep.txt\0.evil'), expect: { error: /NUL/, failureCodes: ['UNSAFE_PATH'] } });
});

test('malicious server: a name through a symlink in the destination is refused', { timeout: 60_000 }, async (t) => {
  await attack(t, { entries: withHostileName('link/victim.txt'), expect: { error: /escapes through symlink/, failureCodes: ['UNSAFE_PATH'] } });
  await attack(t, { entries: [{ path: 'link/newdir', type: 'dir' }, { path: 'link/newdir/x.txt', data: Buffer.from('x') }], expect: { error: /escapes through symlink/, failureCodes: ['UNSAFE_PATH'] } });
});

test('malicious server: chunks that do not match their hash are never published', { timeout: 60_000 }, async (t) => {
  const evil = await attack(t, {
    entries: [{ path: 'target.bin', data: HONEST['target.bin'] }],
    script: (req, honest) => (req.t === 'chunks' ? req.indices.map((i) => encodeFrame({ t: 'chunk', i, data: i === 1 ? randomBytes(CHUNK_SIZE) : honest.chunk(req.path, i) })) : undefined),
    expect: { error: /did not match their hashes/, failureCodes: ['CHUNK_HASH_MISMATCH'] },
  });
  const asked = evil.requests.filter((r) => r.t === 'chunks' && r.indices.includes(1)).length;
  assert.equal(asked, 2, 'a bad chunk is refetched once, then the file fails');
});

/** The same frames for each file a chunk request asks about: one, or each of a batch of first chunks. */
const perFile = (req: Request, frames: () => Uint8Array[]): Uint8Array[] | undefined =>
  req.t === 'chunks' ? frames() : req.t === 'first-chunks' ? req.paths.flatMap(frames) : undefined;

test('malicious server: a single-chunk file whose bytes do not match its root is never published', { timeout: 60_000 }, async (t) => {
  await attack(t, {
    entries: [{ path: 'keep.txt', data: HONEST['keep.txt'] }],
    script: (req) => perFile(req, () => [encodeFrame({ t: 'chunk', i: 0, data: Buffer.from('evil keep\n') })]),
    expect: { error: /did not match their hashes/, failureCodes: ['CHUNK_HASH_MISMATCH'] },
  });
});

test('malicious server: a summary that lies about a size is refused', { timeout: 60_000 }, async (t) => {
  const body = Buffer.from('two hundred bytes? '.repeat(10));
  // Claims fewer bytes than it sends (the root matches the bytes sent).
  await attack(t, { entries: [{ path: 'keep.txt', data: body, size: 10 }], expect: { error: /has \d+ bytes, expected 10/, failureCodes: ['CHUNK_LENGTH'] } });
  // Claims more chunks than its hashes describe.
  await attack(t, { entries: [{ path: 'target.bin', data: HONEST['target.bin'], size: 9 * CHUNK_SIZE }], expect: { error: /changed on the other side during the pass/, failureCodes: ['REMOTE_CHANGED'] } });
  // Claims a size just past a chunk boundary but sends a short last chunk.
  const data = HONEST['target.bin'];
  await attack(t, {
    entries: [{ path: 'target.bin', data, size: data.length + 1 }],
    expect: { error: /Chunk 3 of target\.bin has 77 bytes, expected 78/, failureCodes: ['CHUNK_LENGTH'] },
  });
});

test('malicious server: a frame larger than the limit is refused before it is buffered', { timeout: 60_000 }, async (t) => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_FRAME_BYTES + 1);
  await attack(t, {
    entries: [good],
    script: (req) => (req.t === 'summary' ? [header, randomBytes(64 * 1024)] : undefined),
    inChild: true,
    expect: { error: new RegExp(`${MAX_FRAME_BYTES + 1}-byte message; the limit is ${MAX_FRAME_BYTES} bytes`) },
  });
  // The same, as the answer to a chunk request.
  await attack(t, {
    entries: [{ path: 'keep.txt', data: HONEST['keep.txt'] }],
    script: (req) => perFile(req, () => [Buffer.from([0xff, 0xff, 0xff, 0xff])]),
    expect: { error: /4294967295-byte message/, failureCodes: ['FRAME_TOO_LARGE'] },
  });
});

test('malicious server: a chunk index beyond the file is refused', { timeout: 60_000 }, async (t) => {
  await attack(t, {
    entries: [{ path: 'keep.txt', data: HONEST['keep.txt'] }],
    script: (req) => perFile(req, () => [encodeFrame({ t: 'chunk', i: 7, data: Buffer.from('beyond') })]),
    expect: { error: /chunk 7 of keep\.txt, which was not asked for/, failureCodes: ['PROTOCOL'] },
  });
  await attack(t, {
    entries: [{ path: 'keep.txt', data: HONEST['keep.txt'] }],
    script: (req) => perFile(req, () => [encodeFrame({ t: 'chunk', i: 2 ** 40, data: Buffer.from('beyond') })]),
    expect: { error: /which was not asked for/, failureCodes: ['PROTOCOL'] },
  });
});

test('malicious server: an endless stream of chunks for one request is cut off', { timeout: 60_000 }, async (t) => {
  await attack(t, {
    entries: [{ path: 'keep.txt', data: HONEST['keep.txt'] }],
    script: (req) => (req.t === 'chunks' || req.t === 'first-chunks' ? forever(() => encodeFrame({ t: 'chunk', i: 0, data: HONEST['keep.txt'] })) : undefined),
    expect: { error: /which was not asked for|more than the 1 files asked for/, failureCodes: ['PROTOCOL'] },
  });
});

