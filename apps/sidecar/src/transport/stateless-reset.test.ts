import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { RESET_TOKEN_LEN, StatelessResets, resetKeyFor } from './stateless-reset.js';

const CID_LEN = 20;
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nnot a real key, only key material\n-----END PRIVATE KEY-----\n';
const key = resetKeyFor(KEY_PEM);

function shortPacket(cid: Buffer, length: number): Buffer {
  const p = randomBytes(length);
  p[0] = 0x40 | (p[0]! & 0x3f);
  cid.copy(p, 1);
  return p;
}

test('a connection ID has one token for a given key: the same after a restart, different for another ID or key', () => {
  const cid = randomBytes(CID_LEN);
  const token = new StatelessResets(key).token(cid);
  assert.equal(token.length, RESET_TOKEN_LEN);
  assert.deepEqual(new StatelessResets(resetKeyFor(KEY_PEM)).token(cid), token, 'a new process derives the same key');
  assert.notDeepEqual(new StatelessResets(key).token(randomBytes(CID_LEN)), token);
  assert.notDeepEqual(new StatelessResets(resetKeyFor('another key')).token(cid), token);
  assert.equal(new StatelessResets(key).tokenValue(cid), BigInt(`0x${token.toString('hex')}`));
});

test('a reset looks like a short-header packet, ends in the token of the datagram\'s connection ID, and is shorter than the datagram', () => {
  const resets = new StatelessResets(key);
  const cid = randomBytes(CID_LEN);
  for (const length of [38, 40, 44, 100, 1350]) {
    const reset = resets.answer(shortPacket(cid, length), CID_LEN);
    assert.ok(reset, `a ${length}-byte datagram draws a reset`);
    assert.equal(reset.length, Math.min(length - 1, 43));
    assert.equal(reset[0]! & 0xc0, 0x40, 'short header, fixed bit set');
    assert.deepEqual(reset.subarray(reset.length - RESET_TOKEN_LEN), resets.token(cid));
  }
  // Shorter than any packet of ours (header, connection ID, packet number, AEAD tag): no answer.
  assert.equal(resets.answer(shortPacket(cid, 37), CID_LEN), undefined);
});

test('resets are rate-limited: a burst of 20, then 100 a second', () => {
  let now = 1_000;
  const resets = new StatelessResets(key, () => now);
  const datagram = shortPacket(randomBytes(CID_LEN), 200);
  let sent = 0;
  for (let i = 0; i < 50; i++) if (resets.answer(datagram, CID_LEN)) sent++;
  assert.equal(sent, 20);
  now += 100; // ten more tokens
  sent = 0;
  for (let i = 0; i < 50; i++) if (resets.answer(datagram, CID_LEN)) sent++;
  assert.equal(sent, 10);
  now += 60_000; // refills to the burst, no further
  sent = 0;
  for (let i = 0; i < 50; i++) if (resets.answer(datagram, CID_LEN)) sent++;
  assert.equal(sent, 20);
});
