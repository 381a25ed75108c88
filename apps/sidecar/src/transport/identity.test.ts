import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { IdentityError } from './errors.js';
import { CERT_FILE, KEY_FILE, fingerprintOf, loadOrCreateIdentity } from './identity.js';

const roots: string[] = [];
async function tempHome(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'leafsync-identity-'));
  roots.push(root);
  return join(root, 'nested', 'home'); // exercises mkdir -p
}
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

test('creates an identity once, then reloads the identical one', async () => {
  const home = await tempHome();
  const first = await loadOrCreateIdentity(home);
  const second = await loadOrCreateIdentity(home);
  assert.equal(second.fingerprint, first.fingerprint);
  assert.equal(second.keyPem, first.keyPem);
  assert.deepEqual(Buffer.from(second.certDer), Buffer.from(first.certDer));

  assert.equal((await stat(join(home, KEY_FILE))).mode & 0o777, 0o600);
  assert.equal((await stat(home)).mode & 0o777, 0o700);

  const cert = new X509Certificate(await readFile(join(home, CERT_FILE)));
  assert.equal(cert.subject, 'CN=leafsync');
  const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 24 * 3600 * 1000);
  assert.ok(years > 19.9 && years < 20.1, `validity ${years} years`);
  assert.deepEqual(new Uint8Array(cert.raw), first.certDer);
});

test('two fresh identities differ (random key and serial)', async () => {
  const a = await loadOrCreateIdentity(await tempHome());
  const b = await loadOrCreateIdentity(await tempHome());
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.notEqual(
    new X509Certificate(a.certPem).serialNumber,
    new X509Certificate(b.certPem).serialNumber,
  );
});

test('fingerprint is 64 lowercase hex chars = sha256 of the DER', async () => {
  const id = await loadOrCreateIdentity(await tempHome());
  assert.match(id.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(id.fingerprint, createHash('sha256').update(id.certDer).digest('hex'));
  assert.equal(fingerprintOf(id.certDer), id.fingerprint);
  assert.equal(fingerprintOf(new Uint8Array([1, 2, 3])), createHash('sha256').update(Buffer.from([1, 2, 3])).digest('hex'));
});

test('a corrupt certificate is reported with its path and a fix, not regenerated', async () => {
  const home = await tempHome();
  await loadOrCreateIdentity(home);
  const certPath = join(home, CERT_FILE);
  await writeFile(certPath, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  await assert.rejects(loadOrCreateIdentity(home), (e: unknown) => {
    assert.ok(e instanceof IdentityError);
    assert.equal(e.code, 'IDENTITY_CORRUPT');
    assert.ok(e.message.includes(certPath), e.message);
    assert.match(e.message, /delete both/);
    return true;
  });
  // Still corrupt: the loader must not have overwritten it.
  assert.match(await readFile(certPath, 'utf8'), /not base64/);
});

test('a corrupt key, a missing half, or a mismatched pair are all errors', async () => {
  const home = await tempHome();
  const id = await loadOrCreateIdentity(home);
  const keyPath = join(home, KEY_FILE);

  await writeFile(keyPath, 'garbage');
  await assert.rejects(loadOrCreateIdentity(home), (e: unknown) => e instanceof IdentityError && e.message.includes(keyPath));

  await rm(keyPath);
  await assert.rejects(loadOrCreateIdentity(home), (e: unknown) => e instanceof IdentityError && /missing/.test(e.message));

  const other = await loadOrCreateIdentity(await tempHome());
  await writeFile(keyPath, other.keyPem);
  await assert.rejects(loadOrCreateIdentity(home), (e: unknown) => e instanceof IdentityError && /does not match/.test(e.message));

  await writeFile(keyPath, id.keyPem);
  assert.equal((await loadOrCreateIdentity(home)).fingerprint, id.fingerprint);
});
