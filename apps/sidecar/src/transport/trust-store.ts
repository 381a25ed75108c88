import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from '../util/schema.js';
import { writeFileAtomic } from '../fs/atomic-file.js';

/**
 * Pinned fingerprints, persisted in LEAFSYNC_HOME/trust.json:
 * servers this peer pulls from (by HOST:PORT) and clients allowed to push to it.
 */
export interface TrustFile {
  version: 1;
  servers: Record<string, { fingerprint: string; pinnedAt: string }>;
  clients: Record<string, { pinnedAt: string }>;
}

export const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;

export class InvalidFingerprintError extends Error {
  readonly code = 'INVALID_FINGERPRINT';
  constructor(readonly value: string) {
    super(`"${value}" is not a fingerprint: expected 64 hex characters (SHA-256 of the peer's certificate, as printed by \`leafsync id\`)`);
  }
}

export class TrustFileError extends Error {
  readonly code = 'TRUST_FILE';
  constructor(readonly path: string, reason: string) {
    super(`cannot read the trust store ${path}: ${reason}. Fix or remove that file (removing it forgets every pinned peer).`);
  }
}

/** Accepts hex with optional ':' separators and any case; returns the canonical lowercase form. */
export function normaliseFingerprint(value: string): string {
  const hex = value.trim().replace(/:/g, '').toLowerCase();
  if (!FINGERPRINT_PATTERN.test(hex)) throw new InvalidFingerprintError(value);
  return hex;
}

export class TrustStore {
  private constructor(readonly path: string, private data: TrustFile) {}

  static async load(home: string): Promise<TrustStore> {
    const path = join(home, 'trust.json');
    return new TrustStore(path, await readTrustFile(path));
  }

  /** Changes run one at a time, each on a fresh read of the file. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Re-reads trust.json, so what other stores wrote shows here: another process, or a serve
   * session authorising its first pushing client while the dashboard holds this store.
   */
  refresh(): Promise<void> {
    return this.update(() => false).then(() => undefined);
  }

  serverFingerprint(address: string): string | undefined {
    return this.data.servers[address]?.fingerprint;
  }

  servers(): Array<{ address: string; fingerprint: string; pinnedAt: string }> {
    return Object.entries(this.data.servers).map(([address, v]) => ({ address, ...v }));
  }

  clients(): Array<{ fingerprint: string; pinnedAt: string }> {
    return Object.entries(this.data.clients).map(([fingerprint, v]) => ({ fingerprint, ...v }));
  }

  isClientTrusted(fingerprint: string): boolean {
    return Object.hasOwn(this.data.clients, fingerprint);
  }

  async pinServer(address: string, fingerprint: string): Promise<void> {
    const entry = { fingerprint: normaliseFingerprint(fingerprint), pinnedAt: new Date().toISOString() };
    await this.update((data) => {
      data.servers[address] = entry;
      return true;
    });
  }

  /** Returns false if nothing was pinned for that address. */
  async removeServer(address: string): Promise<boolean> {
    return this.update((data) => {
      if (!Object.hasOwn(data.servers, address)) return false;
      delete data.servers[address];
      return true;
    });
  }

  async addClient(fingerprint: string): Promise<void> {
    const key = normaliseFingerprint(fingerprint);
    await this.update((data) => {
      data.clients[key] = { pinnedAt: new Date().toISOString() };
      return true;
    });
  }

  async removeClient(fingerprint: string): Promise<boolean> {
    const key = normaliseFingerprint(fingerprint);
    return this.update((data) => {
      if (!Object.hasOwn(data.clients, key)) return false;
      delete data.clients[key];
      return true;
    });
  }

  /**
   * Read, change, write: re-reading first means a change never writes back a stale copy over
   * pins another store made since this one was loaded (other processes share trust.json, and a
   * serve session authorises clients through its own store). `change` says whether to save.
   */
  private update(change: (data: TrustFile) => boolean): Promise<boolean> {
    const run = this.queue.then(async () => {
      this.data = await readTrustFile(this.path);
      const changed = change(this.data);
      if (changed) await writeFileAtomic(this.path, JSON.stringify(this.data, null, 2) + '\n');
      return changed;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

async function readTrustFile(path: string): Promise<TrustFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, servers: {}, clients: {} };
    throw new TrustFileError(path, (err as Error).message);
  }
  return parseTrustFile(path, text);
}

const trustFileSchema = z.object({
  version: z._default(z.literal(1), 1),
  servers: z.record(z.string(), z.object({ fingerprint: z.string().check(z.regex(FINGERPRINT_PATTERN)), pinnedAt: z.string() })),
  clients: z.record(z.string().check(z.regex(FINGERPRINT_PATTERN)), z.object({ pinnedAt: z.string() })),
});

function parseTrustFile(path: string, text: string): TrustFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TrustFileError(path, 'it is not valid JSON');
  }
  const parsed = trustFileSchema.safeParse(raw);
  if (!parsed.success) throw new TrustFileError(path, z.prettifyError(parsed.error).replace(/\n/g, ' '));
  return parsed.data;
}
