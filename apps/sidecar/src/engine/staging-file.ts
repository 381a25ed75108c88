import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHUNK_SIZE, chunkCount, chunkLength, hashFd } from './chunking.js';
import { ChunkLengthError, ChunkOutOfRangeError, MerkleMismatchError, SizeMismatchError } from './errors.js';
import { bitmapPathFor } from './bitmap-file.js';
import { bytesEqual, merkleRoot } from './merkle.js';
import type { RelPath } from './types.js';
import { fsyncDirectory } from '../fs/atomic-file.js';
import { errCode } from '../fs/fs-errors.js';
import { fdatasyncFd, fsyncFd, ioFor, type FdIo } from '../fs/fd-io.js';

/** Staging lives inside the synced folder so the final rename stays on one filesystem (atomic). */
export const STAGING_DIR = '.leafsync_tmp';

/** A staging file flushes in the background after this much is written (see startWriteback). */
const WRITEBACK_BYTES = 32 * 1024 * 1024;

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
 *
 * A small file (SMALL_FILE_BYTES) is written, re-read and renamed with blocking calls, a larger
 * one through the thread pool; fsync always goes to the pool (see fd-io).
 */
export class StagingFile {
  readonly tempPath: string;
  readonly rel: RelPath;
  readonly size: number;
  /** True when an existing staging file was kept (resume); false when it was seeded or created. */
  readonly resumed: boolean;
  private fd: number | undefined;
  private readonly io: FdIo;
  /** Seeded or resumed content may run past the new size until finalize truncates it. */
  private readonly mayRunLong: boolean;
  /**
   * For a file created empty here: the hash of each chunk as written (see writeChunk). Once every
   * chunk has one, these are the file's bytes. Absent for seeded and resumed files, whose bytes
   * came from elsewhere.
   */
  private readonly writtenHashes: (Uint8Array | undefined)[] | undefined;
  /** Bytes written since the last background flush started (see startWriteback). */
  private unwritten = 0;
  private writingBack: Promise<void> | undefined;
  /** A background flush that failed: the data it covered may never reach the disk. */
  private writebackError: unknown;

  private constructor(tempPath: string, rel: RelPath, size: number, resumed: boolean, fd: number, mayRunLong: boolean) {
    this.tempPath = tempPath;
    this.rel = rel;
    this.size = size;
    this.resumed = resumed;
    this.fd = fd;
    this.io = ioFor(size);
    this.mayRunLong = mayRunLong;
    this.writtenHashes = mayRunLong ? undefined : new Array<Uint8Array | undefined>(chunkCount(size));
  }

  static async open(rootAbs: string, rel: RelPath, opts: StagingOpenOptions): Promise<StagingFile> {
    chunkCount(opts.size); // rejects negative or fractional sizes before touching the disk
    const io = ioFor(opts.size);
    const tempPath = stagingPathFor(rootAbs, rel);
    if (opts.resume === true) {
      const kept = await openKept(io, tempPath);
      if (kept !== undefined) return StagingFile.sized(io, kept, tempPath, rel, opts.size, true);
    }
    if (opts.seedFrom !== undefined) {
      const seedFrom = opts.seedFrom;
      try {
        // FICLONE makes this a metadata-only reflink on btrfs/XFS/APFS and a plain copy elsewhere.
        await inStagingDir(tempPath, () => copyFile(seedFrom, tempPath, constants.COPYFILE_FICLONE));
        // The copy carries the source's mode; a read-only original would make it unwritable.
        await chmod(tempPath, 0o600);
        return StagingFile.sized(io, await io.open(tempPath, constants.O_RDWR), tempPath, rel, opts.size, false);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
        // No local version (deleted meanwhile): start from an empty file below.
      }
    }
    // Fresh: O_TRUNC, because stale leftovers must not count as seeded data. Chunk writes give the
    // file its size, so there is nothing to truncate now or at finalize.
    const fd = await inStagingDir(tempPath, () => io.open(tempPath, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600));
    return new StagingFile(tempPath, rel, opts.size, false, fd, false);
  }

  /** A seeded or resumed file may be longer or shorter than the new version: cut it to size. */
  private static async sized(io: FdIo, fd: number, tempPath: string, rel: RelPath, size: number, resumed: boolean): Promise<StagingFile> {
    try {
      await io.ftruncate(fd, size);
    } catch (err) {
      await io.close(fd);
      throw err;
    }
    return new StagingFile(tempPath, rel, size, resumed, fd, true);
  }

  /**
   * Writes one chunk at index × CHUNK_SIZE; its length must be exactly what that index needs.
   * `hash` is hashChunk(data) as the caller already computed it to verify the chunk: given for
   * every chunk of a file created here, it spares finalize re-reading the file (see there).
   */
  async writeChunk(index: number, data: Uint8Array, hash?: Uint8Array): Promise<void> {
    const fd = this.descriptor();
    const count = chunkCount(this.size);
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new ChunkOutOfRangeError(this.rel, index, count);
    const expected = chunkLength(this.size, index);
    if (data.length !== expected) throw new ChunkLengthError(this.rel, index, expected, data.length);
    if (this.writtenHashes) this.writtenHashes[index] = undefined; // unknown until the write is whole
    let written = 0;
    while (written < data.length) {
      written += await this.io.write(fd, data, written, data.length - written, index * CHUNK_SIZE + written);
    }
    if (this.writtenHashes) this.writtenHashes[index] = hash;
    this.unwritten += data.length;
    if (this.unwritten >= WRITEBACK_BYTES && this.writingBack === undefined) this.startWriteback(fd);
  }

  /**
   * Flushes what was written so far, in the background. This kernel starts writing dirty pages
   * back only past a tenth of memory or after 30 s, so a 1 GiB file used to reach the disk only
   * in finalize's fsync: bench W1's last ~0.5 s, both peers idle. A failure is kept for finalize,
   * because a later fsync may report success for pages an earlier one failed to write.
   */
  private startWriteback(fd: number): void {
    this.unwritten = 0;
    this.writingBack = fdatasyncFd(fd).then(
      () => {
        this.writingBack = undefined;
      },
      (err: unknown) => {
        this.writingBack = undefined;
        this.writebackError ??= err;
      },
    );
  }

  /** Reads back chunk `index` as it is on disk (to re-verify a resumed chunk before trusting it). */
  async readChunk(index: number): Promise<Uint8Array> {
    const fd = this.descriptor();
    const count = chunkCount(this.size);
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new ChunkOutOfRangeError(this.rel, index, count);
    const data = Buffer.allocUnsafe(chunkLength(this.size, index));
    let read = 0;
    while (read < data.length) {
      const bytesRead = await this.io.read(fd, data, read, data.length - read, index * CHUNK_SIZE + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return read === data.length ? data : data.subarray(0, read);
  }

  /** Closes without deleting: the bytes stay for a later resume (with their bitmap). */
  async close(): Promise<void> {
    // A background flush still uses the descriptor: it must end before the descriptor does.
    await this.writingBack;
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) {
      try {
        await fdatasyncFd(fd);
      } finally {
        await this.io.close(fd);
      }
    }
  }

  /**
   * Verifies and publishes the staged file. The root is recomputed from the bytes on disk, not
   * from what was written, so a torn write or a bad seed cannot slip through. On a mismatch the
   * destination is untouched and this staging file stays open for more writes and another try.
   *
   * With `exclusive` (the caller holds the folder's write lock, so no other session can touch
   * this staging file) a file created here whose every chunk was written whole with its hash is
   * checked against those hashes instead: re-reading it would only read back the page cache
   * this process just filled (bench W1: a second SHA-256 pass over 1 GiB, about a sixth of the
   * client's CPU). fsync still has the last word: an I/O error there fails the file before the
   * rename.
   */
  async finalize(
    destAbs: string,
    expect: { size: number; root: Uint8Array; mtimeMs: number; mode: number },
    opts: { syncDir?: boolean; beforeReplace?: () => Promise<void>; exclusive?: boolean } = {},
  ): Promise<void> {
    const fd = this.descriptor();
    const io = this.io;
    await this.writingBack;
    if (this.writebackError !== undefined) throw this.writebackError;
    if (this.mayRunLong) await io.ftruncate(fd, expect.size);
    const known = opts.exclusive === true ? this.hashesAsWritten() : undefined;
    const { size, hashes } = known ? { size: this.size, hashes: known } : await this.rehashWhileFlushing(fd);
    if (size !== expect.size) throw new SizeMismatchError(this.rel, expect.size, size);
    const actual = merkleRoot(hashes);
    if (!bytesEqual(actual, expect.root)) {
      throw new MerkleMismatchError(this.rel, hex(expect.root), hex(actual));
    }
    await io.fchmod(fd, expect.mode & 0o777);
    const mtime = utimesSeconds(expect.mtimeMs);
    await io.futimes(fd, mtime, mtime);
    // Data and metadata reach the disk before the rename makes them visible.
    await fsyncFd(fd);
    // Last check before the rename, so the window for a concurrent edit to be lost is a syscall wide.
    await opts.beforeReplace?.();
    this.fd = undefined;
    await io.close(fd);
    await io.rename(this.tempPath, destAbs).catch(async (err: unknown) => {
      // The folder is normally created before its files; make it if it went missing.
      if (errCode(err) !== 'ENOENT') throw err;
      await mkdir(dirname(destAbs), { recursive: true });
      await io.rename(this.tempPath, destAbs);
    });
    // A caller landing many files in one folder may fsync that folder once for all of them.
    if (opts.syncDir !== false) await fsyncDirectory(dirname(destAbs));
  }

  /** The hash of every chunk as written here, if every chunk of this new file was. */
  private hashesAsWritten(): Uint8Array[] | undefined {
    const hashes = this.writtenHashes;
    if (hashes === undefined) return undefined;
    const all: Uint8Array[] = [];
    for (const h of hashes) {
      if (h === undefined) return undefined;
      all.push(h);
    }
    return all;
  }

  /**
   * The Merkle check's re-read. For a multi-chunk file, flushing its data and re-reading it are
   * independent and each takes about a second per GiB here (bench W3: 1.1 s and 1.4 s), so they
   * overlap, and the fsync after the metadata has little left to write. A one-chunk file gets
   * just that one fsync: two would mean two journal commits.
   */
  private async rehashWhileFlushing(fd: number): Promise<{ size: number; hashes: Uint8Array[] }> {
    if (this.size <= CHUNK_SIZE) return hashFd(this.io, fd, this.size);
    // Both settle before anything else touches the descriptor, whichever fails.
    const [read, flushed] = await Promise.allSettled([hashFd(this.io, fd, this.size), fdatasyncFd(fd)]);
    if (read.status === 'rejected') throw read.reason;
    if (flushed.status === 'rejected') throw flushed.reason;
    return read.value;
  }

  /** Closes and deletes the staging file (a cancelled or superseded transfer). */
  async discard(): Promise<void> {
    await this.writingBack;
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await this.io.close(fd).catch(() => {});
    await rm(this.tempPath, { force: true });
  }

  private descriptor(): number {
    if (this.fd === undefined) throw new Error(`Staging file for ${this.rel} is already finalized or discarded`);
    return this.fd;
  }
}

/**
 * Opens a staging file kept for a resume, or undefined if there is none. A finalize stopped by
 * its last check (an edit at the destination) had already given the file its final mode, which
 * may be read-only; the file is ours, so it is made writable again first.
 */
async function openKept(io: FdIo, tempPath: string): Promise<number | undefined> {
  try {
    await chmod(tempPath, 0o600);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return io.open(tempPath, constants.O_RDWR);
}

/**
 * The staging folder is ours; leave no empty trace of it in the user's folder. A resume record
 * (`.bitmap`) whose staging file is gone goes too: its transfer ended (a process killed between
 * moving the finished file into place and deleting the record leaves one, and nothing else would
 * ever remove it). Staging files, their records and undo journals stay. Call it only when no
 * transfer into this root is running, or a transfer may lose the folder under its feet.
 */
export async function tidyStagingDir(rootAbs: string): Promise<void> {
  const dir = join(rootAbs, STAGING_DIR);
  const names = await readdir(dir).catch((err: unknown) => {
    if (errCode(err) === 'ENOENT') return [];
    throw err;
  });
  const recordsInUse = new Set(names.filter((n) => n.endsWith('.part')).map(bitmapPathFor));
  for (const name of names) {
    if (name.endsWith('.bitmap') && !recordsInUse.has(name)) await rm(join(dir, name), { force: true });
  }
  await rmdir(dir).catch((err: unknown) => {
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

