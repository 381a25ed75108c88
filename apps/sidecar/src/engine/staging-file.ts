import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { chmod, copyFile, mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHUNK_SIZE, chunkCount, chunkLength, hashOpenFile } from './chunking.js';
import { ChunkLengthError, ChunkOutOfRangeError, MerkleMismatchError, SizeMismatchError } from './errors.js';
import { bytesEqual, merkleRoot } from './merkle.js';
import type { RelPath } from './types.js';
import { fsyncDirectory } from '../fs/atomic-file.js';
import { errCode } from '../fs/fs-errors.js';

/** Staging lives inside the synced folder so the final rename stays on one filesystem (atomic). */
export const STAGING_DIR = '.leafsync_tmp';

/** Where the staging file for `rel` lives; stable per path so an interrupted transfer finds it again. */
export function stagingPathFor(rootAbs: string, rel: RelPath): string {
  return join(rootAbs, STAGING_DIR, `${createHash('sha256').update(rel, 'utf8').digest('hex')}.part`);
}

export interface StagingOpenOptions {
  /** Final size of the file; the staging file is truncated to it straight away. */
  size: number;
  /** Absolute path of the current local version; copied first so unchanged chunks need no fetch. */
  seedFrom?: string;
  /**
   * Keep an existing staging file as it is (resume after an interruption) instead of re-seeding
   * it. Only safe together with a record of which chunks were written (the resume bitmap).
   */
  resume?: boolean;
}

/**
 * A file being assembled from chunks beside the folder. Nothing becomes visible at the
 * destination until finalize() has re-read the bytes and matched the announced Merkle root; then
 * one rename swaps it in, so readers see either the old file or the complete new one.
 */
export class StagingFile {
  readonly tempPath: string;
  readonly rel: RelPath;
  readonly size: number;
  /** True when an existing staging file was kept (resume); false when it was seeded or created. */
  readonly resumed: boolean;
  private fh: FileHandle | undefined;
  /** Seeded or resumed content may run past the new size until finalize truncates it. */
  private readonly mayRunLong: boolean;

  private constructor(tempPath: string, rel: RelPath, size: number, resumed: boolean, fh: FileHandle, mayRunLong: boolean) {
    this.tempPath = tempPath;
    this.rel = rel;
    this.size = size;
    this.resumed = resumed;
    this.fh = fh;
    this.mayRunLong = mayRunLong;
  }

  static async open(rootAbs: string, rel: RelPath, opts: StagingOpenOptions): Promise<StagingFile> {
    chunkCount(opts.size); // rejects negative or fractional sizes before touching the disk
    const tempPath = stagingPathFor(rootAbs, rel);
    if (opts.resume === true) {
      const kept = await open(tempPath, constants.O_RDWR).catch((err: unknown) => {
        if (errCode(err) === 'ENOENT') return undefined;
        throw err;
      });
      if (kept !== undefined) return StagingFile.sized(kept, tempPath, rel, opts.size, true);
    }
    if (opts.seedFrom !== undefined) {
      const seedFrom = opts.seedFrom;
      try {
        // FICLONE makes this a metadata-only reflink on btrfs/XFS/APFS and a plain copy elsewhere.
        await inStagingDir(tempPath, () => copyFile(seedFrom, tempPath, constants.COPYFILE_FICLONE));
        // The copy carries the source's mode; a read-only original would make it unwritable.
        await chmod(tempPath, 0o600);
        return StagingFile.sized(await open(tempPath, constants.O_RDWR), tempPath, rel, opts.size, false);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
        // No local version (deleted meanwhile): start from an empty file below.
      }
    }
    // Fresh: O_TRUNC, because stale leftovers must not count as seeded data. Chunk writes give the
    // file its size, so there is nothing to truncate now or at finalize.
    const fh = await inStagingDir(tempPath, () => open(tempPath, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600));
    return new StagingFile(tempPath, rel, opts.size, false, fh, false);
  }

  /** A seeded or resumed file may be longer or shorter than the new version: cut it to size. */
  private static async sized(fh: FileHandle, tempPath: string, rel: RelPath, size: number, resumed: boolean): Promise<StagingFile> {
    try {
      await fh.truncate(size);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new StagingFile(tempPath, rel, size, resumed, fh, true);
  }

  /** Writes one chunk at index × CHUNK_SIZE; its length must be exactly what that index needs. */
  async writeChunk(index: number, data: Uint8Array): Promise<void> {
    const fh = this.handle();
    const count = chunkCount(this.size);
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new ChunkOutOfRangeError(this.rel, index, count);
    const expected = chunkLength(this.size, index);
    if (data.length !== expected) throw new ChunkLengthError(this.rel, index, expected, data.length);
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await fh.write(data, written, data.length - written, index * CHUNK_SIZE + written);
      written += bytesWritten;
    }
  }

  /** Reads back chunk `index` as it is on disk (to re-verify a resumed chunk before trusting it). */
  async readChunk(index: number): Promise<Uint8Array> {
    const fh = this.handle();
    const count = chunkCount(this.size);
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new ChunkOutOfRangeError(this.rel, index, count);
    const data = Buffer.allocUnsafe(chunkLength(this.size, index));
    let read = 0;
    while (read < data.length) {
      const { bytesRead } = await fh.read(data, read, data.length - read, index * CHUNK_SIZE + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return read === data.length ? data : data.subarray(0, read);
  }

  /** Closes without deleting: the bytes stay for a later resume (with their bitmap). */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh !== undefined) {
      await fh.datasync();
      await fh.close();
    }
  }

  /**
   * Verifies and publishes the staged file. The root is recomputed from the bytes on disk, not
   * from what was written, so a torn write or a bad seed cannot slip through. On a mismatch the
   * destination is untouched and this staging file stays open for more writes and another try.
   */
  async finalize(
    destAbs: string,
    expect: { size: number; root: Uint8Array; mtimeMs: number; mode: number },
    opts: { syncDir?: boolean; beforeReplace?: () => Promise<void> } = {},
  ): Promise<void> {
    const fh = this.handle();
    if (this.mayRunLong) await fh.truncate(expect.size);
    const { size, hashes } = await hashOpenFile(fh);
    if (size !== expect.size) throw new SizeMismatchError(this.rel, expect.size, size);
    const actual = merkleRoot(hashes);
    if (!bytesEqual(actual, expect.root)) {
      throw new MerkleMismatchError(this.rel, hex(expect.root), hex(actual));
    }
    await fh.chmod(expect.mode & 0o777);
    const mtime = utimesSeconds(expect.mtimeMs);
    await fh.utimes(mtime, mtime);
    // Data and metadata reach the disk before the rename makes them visible.
    await fh.sync();
    // Last check before the rename, so the window for a concurrent edit to be lost is a syscall wide.
    await opts.beforeReplace?.();
    await fh.close();
    this.fh = undefined;
    await rename(this.tempPath, destAbs).catch(async (err: unknown) => {
      // The folder is normally created before its files; make it if it went missing.
      if (errCode(err) !== 'ENOENT') throw err;
      await mkdir(dirname(destAbs), { recursive: true });
      await rename(this.tempPath, destAbs);
    });
    // A caller landing many files in one folder may fsync that folder once for all of them.
    if (opts.syncDir !== false) await fsyncDirectory(dirname(destAbs));
  }

  /** Closes and deletes the staging file (a cancelled or superseded transfer). */
  async discard(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh !== undefined) await fh.close().catch(() => {});
    await rm(this.tempPath, { force: true });
  }

  private handle(): FileHandle {
    if (this.fh === undefined) throw new Error(`Staging file for ${this.rel} is already finalized or discarded`);
    return this.fh;
  }
}

/**
 * The staging folder is ours; leave no empty trace of it in the user's folder. Call it only when
 * no transfer into this root is running, or a transfer may lose the folder under its feet.
 */
export async function removeStagingDirIfEmpty(rootAbs: string): Promise<void> {
  await rmdir(join(rootAbs, STAGING_DIR)).catch((err: unknown) => {
    const code = errCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  });
}

/** Runs `create`, making the staging folder first if it is missing (it is removed when a pass leaves it empty). */
async function inStagingDir<T>(tempPath: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
    await mkdir(dirname(tempPath), { recursive: true });
    return create();
  }
}

/**
 * The value to pass to utimes so a later Math.floor(stat.mtimeMs) reads back exactly `mtimeMs`.
 * utimes takes float seconds (a Date is converted the same way), and 1650000000.777 s lands a
 * hair below .777, which floors to .776 and would make the file look changed on every pass;
 * aiming at the middle of the millisecond survives the rounding.
 */
export function utimesSeconds(mtimeMs: number): number {
  return (Math.floor(mtimeMs) + 0.5) / 1000;
}


function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

