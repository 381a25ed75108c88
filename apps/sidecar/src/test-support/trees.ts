import { createHash, createCipheriv } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isInternalPath } from '../engine/internal-names.js';

/** Deterministic incompressible bytes: AES-CTR keystream of a seed, so tests can regenerate any file. */
export function seededBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

export type TreeSpec = Record<string, string | Buffer | null>; // null = empty directory

export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [rel, content] of Object.entries(spec)) {
    const abs = join(root, rel);
    if (content === null) {
      await mkdir(abs, { recursive: true });
    } else {
      await mkdir(dirname(abs), { recursive: true });
      await writeFile(abs, content);
    }
  }
}

/**
 * Every synced path with its SHA-256 (files) or 'dir'; internal names excluded, like the product
 * does. Tests poll trees that a running sync is changing, so an entry that vanishes between the
 * listing and its read is simply not in the snapshot.
 */
export async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(rel: string): Promise<void> {
    // The root itself must exist; a folder inside it may vanish.
    const listing = readdir(join(root, rel), { withFileTypes: true });
    const entries = rel === '' ? await listing : await listing.catch(ifVanished([]));
    for (const d of entries) {
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      if (isInternalPath(childRel)) continue;
      const info = await lstat(join(root, childRel)).catch(ifVanished(undefined));
      if (info?.isDirectory()) {
        out.set(childRel, 'dir');
        await walk(childRel);
      } else if (info?.isFile()) {
        const data = await readFile(join(root, childRel)).catch(ifVanished(undefined));
        if (data !== undefined) out.set(childRel, createHash('sha256').update(data).digest('hex'));
      }
    }
  }
  await walk('');
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A rejection handler that turns "it is gone" (ENOENT) into `fallback` and rethrows anything else. */
function ifVanished<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if ((err as { code?: unknown }).code === 'ENOENT') return fallback;
    throw err;
  };
}

/** A fresh temp folder removed when the test (or suite) that asked for it ends. */
export async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), `leafsync-${prefix}-`));
  t.after(() => rm(path, { recursive: true, force: true }));
  return path;
}

/** Several temp folders at once, typed as a tuple so destructuring needs no checks. */
export async function tempDirs<const N extends readonly string[]>(t: { after(fn: () => Promise<void>): void }, ...names: N): Promise<{ -readonly [K in keyof N]: string }> {
  return (await Promise.all(names.map((n) => tempDir(t, n)))) as { -readonly [K in keyof N]: string };
}

/** Writes `data` over `path` at `position`, leaving the rest of the file as it is. */
export async function overwriteAt(path: string, position: number, data: Buffer): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(data, 0, data.length, position);
  } finally {
    await handle.close();
  }
}
