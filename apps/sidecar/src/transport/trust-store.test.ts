import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidFingerprintError, TrustFileError, TrustStore, normaliseFingerprint } from './trust-store.js';

const fpA = 'a'.repeat(64);
const fpB = 'b'.repeat(64);

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'leafsync-trust-'));
  try {
    await fn(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

test('pins survive a reload and can be removed', () =>
  withHome(async (home) => {
    const store = await TrustStore.load(home);
    assert.equal(store.serverFingerprint('127.0.0.1:4455'), undefined);
    await store.pinServer('127.0.0.1:4455', fpA.toUpperCase());
    await store.addClient(fpB);
    const again = await TrustStore.load(home);
    assert.equal(again.serverFingerprint('127.0.0.1:4455'), fpA);
    assert.ok(again.isClientTrusted(fpB));
    assert.equal(await again.removeServer('127.0.0.1:4455'), true);
    assert.equal(await again.removeServer('127.0.0.1:4455'), false);
    assert.equal((await TrustStore.load(home)).servers().length, 0);
    // Atomic writes leave no temp files behind.
    assert.deepEqual(await readdir(home), ['trust.json']);
    assert.ok(JSON.parse(await readFile(join(home, 'trust.json'), 'utf8')).clients[fpB]);
  }));

test('fingerprints are normalised (case, colons) and validated', () => {
  assert.equal(normaliseFingerprint(' ' + 'AB:'.repeat(31) + 'AB '), 'ab'.repeat(32));
  assert.throws(() => normaliseFingerprint('abc'), InvalidFingerprintError);
  assert.throws(() => normaliseFingerprint('g'.repeat(64)), InvalidFingerprintError);
});

test('a corrupt trust.json is a clear error naming the file, never silently reset', () =>
  withHome(async (home) => {
    await writeFile(join(home, 'trust.json'), '{not json');
    await assert.rejects(TrustStore.load(home), (e: unknown) => e instanceof TrustFileError && e.message.includes(join(home, 'trust.json')));
    await writeFile(join(home, 'trust.json'), JSON.stringify({ version: 1, servers: { x: { fingerprint: 'nope', pinnedAt: '' } }, clients: {} }));
    await assert.rejects(TrustStore.load(home), TrustFileError);
    assert.equal(await readFile(join(home, 'trust.json'), 'utf8').then((t) => t.includes('nope')), true);
  }));

test('two stores on one trust.json never write back a stale copy over each other', () =>
  withHome(async (home) => {
    // The dashboard holds one store for hours; a serve session authorises its first client through another.
    const longLived = await TrustStore.load(home);
    const other = await TrustStore.load(home);
    await other.addClient(fpB);
    await longLived.pinServer('127.0.0.1:4455', fpA);
    assert.ok((await TrustStore.load(home)).isClientTrusted(fpB), 'the client authorised elsewhere is kept');
    assert.ok(longLived.isClientTrusted(fpB), 'and shows in the long-lived store after its write');
    await other.removeClient(fpB);
    assert.ok(longLived.isClientTrusted(fpB), 'not seen until a refresh');
    await longLived.refresh();
    assert.equal(longLived.isClientTrusted(fpB), false);
    // Concurrent changes through one store all land.
    await Promise.all([1, 2, 3, 4].map((n) => longLived.pinServer(`127.0.0.${n}:5000`, fpA)));
    assert.equal((await TrustStore.load(home)).servers().length, 5);
  }));
