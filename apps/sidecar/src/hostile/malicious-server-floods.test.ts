import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { encodeFrame } from '../protocol/frame-codec.js';
import { ENTRIES_PER_BATCH, HASHES_PER_BATCH, HASH_BYTES, MAX_ENTRIES } from '../protocol/messages.js';
import { claimedFile, summaryFrames } from '../test-support/malicious-server.js';
import { LISTING_FLOOD_RSS_LIMIT, attack, forever, good } from '../test-support/attack-harness.js';

/** A full frame of made-up chunk hashes, sent again and again by the hash floods. */
const hashBatch = encodeFrame({ t: 'hash-batch', hashes: Buffer.alloc(HASHES_PER_BATCH * HASH_BYTES, 7) });

test('malicious server: an endless stream of entries keeps the client within its memory bound', { timeout: 120_000 }, async (t) => {
  const entry = (n: number) => claimedFile(`flood/${n.toString(36).padStart(12, '0')}-${'x'.repeat(200)}`, 1);
  const evil = await attack(t, {
    entries: [good],
    script: (req) =>
      req.t === 'summary'
        ? forever(
            (n) => encodeFrame({ t: 'entries', entries: Array.from({ length: ENTRIES_PER_BATCH }, (_, i) => entry(n * ENTRIES_PER_BATCH + i)) }),
            encodeFrame({ t: 'summary-head', root: new Uint8Array(32), count: MAX_ENTRIES }),
          )
        : undefined,
    inChild: true,
    rssLimit: LISTING_FLOOD_RSS_LIMIT,
    expect: { error: /listing passed 512 MiB after \d+ entries/ },
  });
  assert.ok(evil.requests.some((r) => r.t === 'summary'), 'the flood was asked for');
});

test('malicious server: an endless stream of chunk hashes keeps the client within its memory bound', { timeout: 120_000 }, async (t) => {
  const evil = await attack(t, {
    entries: [],
    script: (req, honest) => {
      // A 3-chunk file whose hash list claims a billion entries and never ends.
      if (req.t === 'summary') return summaryFrames(new Uint8Array(32), [...honest.entries, claimedFile('huge.bin', 3 * CHUNK_SIZE)]);
      if (req.t === 'hashes') return forever(() => hashBatch, encodeFrame({ t: 'hashes-head', count: 2 ** 30 }));
      return undefined;
    },
    inChild: true,
    expect: { error: /huge\.bin changed on the other side/, failureCodes: ['REMOTE_CHANGED'] },
  });
  assert.ok(evil.requests.some((r) => r.t === 'hashes' && r.path === 'huge.bin'), 'the flood was asked for');
});

test('malicious server: a file claimed larger than the disk is refused before any hash or chunk is read', { timeout: 120_000 }, async (t) => {
  // Consistent lies: 2^40 bytes and the 2^20 hashes that size implies, never ending.
  const size = 2 ** 40;
  const evil = await attack(t, {
    entries: [],
    script: (req, honest) => {
      if (req.t === 'summary') return summaryFrames(new Uint8Array(32), [...honest.entries, claimedFile('huge.bin', size)]);
      if (req.t === 'hashes') return forever(() => hashBatch, encodeFrame({ t: 'hashes-head', count: size / CHUNK_SIZE }));
      return undefined;
    },
    inChild: true,
    expect: { error: /no space left on device for huge\.bin: it needs 1048576\.0 MiB/, failureCodes: ['ENOSPC'] },
  });
  assert.ok(!evil.requests.some((r) => 'path' in r && r.path === 'huge.bin'), 'neither its hashes nor its chunks were asked for');
});
