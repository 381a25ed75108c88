/**
 * A node's persistent TLS identity: one ECDSA P-256 key and a self-signed
 * certificate. Peers pin the certificate's SHA-256 fingerprint, so the files
 * must survive restarts unchanged and must never be silently replaced.
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { IdentityError } from './errors.js';
import type { Identity } from './types.js';

export const KEY_FILE = 'identity.key.pem';
export const CERT_FILE = 'identity.cert.pem';

const VALIDITY_YEARS = 20;

type MetadataKey = unknown;
type MetadataTarget = object;
type ReflectWithMetadata = typeof Reflect & {
  getMetadata?: (key: MetadataKey, target: MetadataTarget, prop?: string | symbol) => unknown;
  getOwnMetadata?: (key: MetadataKey, target: MetadataTarget, prop?: string | symbol) => unknown;
  defineMetadata?: (key: MetadataKey, value: unknown, target: MetadataTarget, prop?: string | symbol) => void;
};

/**
 * @peculiar/x509 2.x depends on tsyringe, which refuses to load unless a
 * reflect-metadata polyfill is installed, and none is among our dependencies.
 * tsyringe only needs define/get(Own)Metadata, so install a minimal WeakMap-backed
 * version (only if absent), then load x509 lazily so the polyfill runs first.
 */
let x509Module: Promise<typeof X509> | undefined;
export function loadX509(): Promise<typeof X509> {
  const r = Reflect as ReflectWithMetadata;
  if (typeof r.getMetadata !== 'function') {
    const store = new WeakMap<MetadataTarget, Map<string | symbol | undefined, Map<MetadataKey, unknown>>>();
    const own = (target: MetadataTarget, prop: string | symbol | undefined, create: boolean) => {
      let byProp = store.get(target);
      if (!byProp && create) store.set(target, (byProp = new Map()));
      let byKey = byProp?.get(prop);
      if (!byKey && create && byProp) byProp.set(prop, (byKey = new Map()));
      return byKey;
    };
    r.defineMetadata = (key, value, target, prop) => void own(target, prop, true)?.set(key, value);
    r.getOwnMetadata = (key, target, prop) => own(target, prop, false)?.get(key);
    r.getMetadata = (key, target, prop) => {
      for (let t: MetadataTarget | null = target; t; t = Object.getPrototypeOf(t) as MetadataTarget | null) {
        const m = own(t, prop, false);
        if (m?.has(key)) return m.get(key);
      }
      return undefined;
    };
  }
  return (x509Module ??= import('@peculiar/x509'));
}

export function fingerprintOf(certDer: Uint8Array): string {
  return createHash('sha256').update(certDer).digest('hex');
}

export async function loadOrCreateIdentity(home: string): Promise<Identity> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const keyPath = join(home, KEY_FILE);
  const certPath = join(home, CERT_FILE);
  const keyPem = await readIfExists(keyPath);
  const certPem = await readIfExists(certPath);
  if (keyPem === undefined && certPem === undefined) {
    return createIdentity(home, keyPath, certPath);
  }
  // Half an identity is not something we can repair: the fingerprint peers
  // pinned belongs to the certificate, and the certificate to the key.
  if (keyPem === undefined) throw corrupt(keyPath, 'is missing but its certificate exists');
  if (certPem === undefined) throw corrupt(certPath, 'is missing but its key exists');
  return parseIdentity(keyPem, certPem, keyPath, certPath);
}

async function parseIdentity(keyPem: string, certPem: string, keyPath: string, certPath: string): Promise<Identity> {
  // Node's own X509Certificate reads an existing identity; @peculiar/x509 (slow to load) is only
  // needed to create one.
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (cause) {
    throw corrupt(certPath, 'is not a valid PEM X.509 certificate', cause);
  }
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  } catch (cause) {
    throw corrupt(keyPath, 'is not a valid PEM private key', cause);
  }
  // A key/cert pair from different generations would pass parsing but fail
  // every handshake with an obscure TLS error; catch it here instead.
  if (!keySpki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw corrupt(keyPath, `does not match the certificate in ${certPath}`);
  }
  const certDer = new Uint8Array(cert.raw);
  return { keyPem, certPem, certDer, fingerprint: fingerprintOf(certDer) };
}

async function createIdentity(home: string, keyPath: string, certPath: string): Promise<Identity> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // DER INTEGER serials must be positive
  const notBefore = new Date(Date.now() - 24 * 3600 * 1000); // tolerate small clock skew
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: 'CN=leafsync',
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ],
    },
    webcrypto as unknown as Crypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  // Key first: a crash between the two renames leaves a key without a
  // certificate, which the next start reports instead of guessing.
  await writeAtomic(home, keyPath, keyPem, 0o600);
  await writeAtomic(home, certPath, certPem, 0o644);
  const certDer = new Uint8Array(cert.rawData);
  return { keyPem, certPem, certDer, fingerprint: fingerprintOf(certDer) };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IdentityError('IDENTITY_IO', path, `cannot read identity file ${path}: ${(cause as Error).message}. Check its permissions.`, { cause });
  }
}

/** Write to a temp file in the same directory, fsync, rename over, fsync the directory. */
async function writeAtomic(dir: string, path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask may have narrowed or widened nothing; be explicit
    await fh.sync();
  } catch (cause) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw cause;
  }
  await fh.close();
  await rename(tmp, path);
  const dh = await open(dir, fsConstants.O_RDONLY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

function corrupt(file: string, what: string, cause?: unknown): IdentityError {
  return new IdentityError(
    'IDENTITY_CORRUPT',
    file,
    `identity file ${file} ${what}. Restore it from a backup, or delete both ${KEY_FILE} and ${CERT_FILE} ` +
      `to create a new identity (peers that pinned the old fingerprint must then re-pair).`,
    { cause },
  );
}
