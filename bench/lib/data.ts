import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Seeded incompressible bytes: AES-256-CTR over zeros, key = SHA-256(seed). The same seed always
 * gives the same bytes on every machine, and the output is as incompressible as random data.
 */
export class SeededStream {
  private readonly cipher;
  private static readonly zeros = Buffer.alloc(4 << 20);

  constructor(seed: string) {
    const key = createHash('sha256').update(`leafsync-bench:${seed}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** The next `n` bytes of the stream (n ≤ 4 MiB per call is cheapest; any n works). */
  next(n: number): Buffer {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const take = Math.min(left, SeededStream.zeros.length);
      parts.push(this.cipher.update(SeededStream.zeros.subarray(0, take)));
      left -= take;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** A uniform integer in [lo, hi], drawn from the stream (deterministic for the seed). */
  int(lo: number, hi: number): number {
    return lo + (this.next(4).readUInt32LE(0) % (hi - lo + 1));
  }
}

/** Writes `size` seeded bytes to `path` (created, truncated) and fsyncs it. */
export function writeSeededFile(path: string, size: number, seed: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const s = new SeededStream(seed);
  const fd = openSync(path, 'w');
  try {
    let left = size;
    while (left > 0) {
      const buf = s.next(Math.min(left, 4 << 20));
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
      left -= buf.length;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface SmallTree {
  files: number;
  bytes: number;
}

/**
 * `count` files of 1–64 KiB (sizes drawn from the seed) in nested folders:
 * a/b/ with up to 100 files per leaf folder (10,000 files → 10 × 10 folders of 100).
 */
export function writeSmallTree(root: string, count: number, seed: string): SmallTree {
  const s = new SeededStream(seed);
  let bytes = 0;
  const perLeaf = 100;
  for (let i = 0; i < count; i++) {
    const leaf = Math.floor(i / perLeaf);
    const dir = join(root, `d${Math.floor(leaf / 10)}`, `e${leaf % 10}`);
    if (i % perLeaf === 0) mkdirSync(dir, { recursive: true });
    const size = s.int(1024, 64 * 1024);
    const fd = openSync(join(dir, `f${i}.bin`), 'w');
    writeSync(fd, s.next(size));
    closeSync(fd);
    bytes += size;
  }
  return { files: count, bytes };
}

/** Reads every byte of the given files, so each tool starts from the same (warm) page cache. */
export async function readThrough(paths: string[]): Promise<void> {
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const p of paths) {
    const fh = await open(p, 'r');
    try {
      while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0);
    } finally {
      await fh.close();
    }
  }
}
