/**
 * Small files read and hashed whole on libuv's thread pool, a batch of them per call
 * (native/fs_hash.c says why). Only the common case is done here: a regular file, read and then
 * lstat'ed without an error. Anything else is left for the caller's file-by-file path, which
 * knows what each failure means.
 */
import { entryKind } from './lstat-many.js';
import { loadNativeAddon } from '../util/native-addon.js';

interface HashAddon {
  hashSmallFiles(paths: readonly string[], limit: number, done: (digests?: Buffer, table?: Float64Array) => void): void;
}

const loadAddon = (): HashAddon | undefined => loadNativeAddon<HashAddon>('fs_hash');

/** Numbers per file, in the addon's order. */
const FIELDS = 7;
const STATUS = 0;
const SIZE_READ = 1;
const AFTER_KIND = 2;
const AFTER_SIZE = 3;
const AFTER_MTIME_MS = 4;
const AFTER_CTIME_MS = 5;
const AFTER_INO = 6;
const HASHED = 0;

const DIGEST_BYTES = 32;

/** What lstat said of a file right after it was read: the read is trusted only if the file still looks as the scan saw it. */
export interface StatAfterRead {
  isFile: boolean;
  size: number;
  /** Equal to Stats#mtimeMs and #ctimeMs for the same file. */
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface SmallFileHash {
  /** Bytes read: the whole file. */
  size: number;
  /** SHA-256 of those bytes; undefined for an empty file. */
  digest: Uint8Array | undefined;
  /** Undefined if the file was gone by the time of the lstat. */
  after: StatAfterRead | undefined;
}

/**
 * Reads and hashes each of `paths` (absolute) if it is a regular file of at most `limit` bytes.
 * Resolves with one result per path, undefined where this path could not say (an error, not a
 * regular file, or larger than `limit`). The whole function is undefined where the addon is not
 * built (it is Linux-only).
 */
export type SmallFileHasher = (paths: readonly string[], limit: number) => Promise<Array<SmallFileHash | undefined>>;

export function smallFileHasher(): SmallFileHasher | undefined {
  const addon = loadAddon();
  if (addon === undefined) return undefined;
  return (paths, limit) =>
    new Promise((resolve, reject) => {
      addon.hashSmallFiles(paths, limit, (digests, table) => {
        if (digests === undefined || table === undefined) reject(new Error('hashSmallFiles: out of memory'));
        else resolve(paths.map((_, i) => resultAt(digests, table, i)));
      });
    });
}

function resultAt(digests: Buffer, table: Float64Array, i: number): SmallFileHash | undefined {
  const at = i * FIELDS;
  if (table[at + STATUS] !== HASHED) return undefined;
  const size = table[at + SIZE_READ] as number;
  const kind = entryKind(table[at + AFTER_KIND] as number);
  return {
    size,
    // A view: the batch's own memory (the addon's copy), kept alive by the digests cached from it.
    digest: size === 0 ? undefined : new Uint8Array(digests.buffer, digests.byteOffset + i * DIGEST_BYTES, DIGEST_BYTES),
    after:
      kind === 'missing'
        ? undefined
        : {
            isFile: kind === 'file',
            size: table[at + AFTER_SIZE] as number,
            mtimeMs: table[at + AFTER_MTIME_MS] as number,
            ctimeMs: table[at + AFTER_CTIME_MS] as number,
            ino: table[at + AFTER_INO] as number,
          },
  };
}
