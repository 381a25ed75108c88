import { createHash } from 'node:crypto';
import { OPEN_SCANNED_FILE, ioFor, pooledIo, type FdIo } from '../fs/fd-io.js';
import { NotRegularFileError } from './errors.js';
import { ChunkHashWorkers, type ChunkReadResult } from './chunk-hash-workers.js';

/** Files are cut into fixed 1 MiB chunks; a chunk's index alone says where its bytes live. */
export const CHUNK_SIZE = 1024 * 1024;

/**
 * Counts every byte and file hashed through hashFileChunks (and a summary's batches of small
 * files, fs/hash-small-files.ts). Tests compare it before and after
 * a pass to prove a cache really skipped work; it is process-wide and only ever grows.
 */
export const hashStats = { bytesHashed: 0, filesHashed: 0 };

/** Counts one whole file of `bytes` in hashStats. */
export function countHashedFile(bytes: number): void {
  hashStats.bytesHashed += bytes;
  hashStats.filesHashed += 1;
}

/** Number of chunks in a file of `size` bytes; an empty file has none. */
export function chunkCount(size: number): number {
  assertSize(size);
  return Math.ceil(size / CHUNK_SIZE);
}

/**
 * Byte length of chunk `index` in a file of `size` bytes: CHUNK_SIZE except for the last one.
 * Throws RangeError for an index that is not in the file, because a silent 0 would let a caller
 * write or request a chunk that cannot exist.
 */
export function chunkLength(size: number, index: number): number {
  const count = chunkCount(size);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`chunk index ${index} out of range for ${size} bytes (${count} chunks)`);
  }
  return Math.min(CHUNK_SIZE, size - index * CHUNK_SIZE);
}

/** SHA-256 of one chunk (32 bytes). */
export function hashChunk(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

/**
 * Hashes a file chunk by chunk. One descriptor and one pooled read buffer, so hashing a large
 * tree allocates nothing per chunk except the 32-byte digests; a file the stat says is over one
 * chunk is read and hashed on worker threads (hashOnWorkers). `size` is what was actually read:
 * if the file changes meanwhile the caller sees a size that matches the hashes, not a stale stat.
 * `sizeHint` (from a stat) picks blocking reads and a small buffer for a small file; any size is
 * still read whole.
 */
export async function hashFileChunks(absPath: string, sizeHint?: number): Promise<{ size: number; hashes: Uint8Array[] }> {
  const io = sizeHint === undefined ? pooledIo : ioFor(sizeHint);
  const fd = await io.open(absPath, OPEN_SCANNED_FILE);
  try {
    if (!(await io.fstat(fd)).isFile()) throw new NotRegularFileError(absPath, 'not a regular file');
    return await hashFd(io, fd, sizeHint);
  } finally {
    await io.close(fd);
  }
}

/** Read buffers of one size, kept for reuse up to a count; more are allocated when all are in use. */
class SpareBuffers {
  private readonly spare: Buffer[] = [];
  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  async with<T>(use: (buf: Buffer) => Promise<T>): Promise<T> {
    const buf = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.size);
    try {
      return await use(buf);
    } finally {
      if (this.spare.length < this.keep) this.spare.push(buf);
    }
  }
}

/**
 * A folder of small files is hashed (by a scan, and again by each staging file's Merkle check)
 * one file at a time per task: a fresh 1 MiB buffer per file made 10,000 files cost 10 GiB of
 * allocations (bench W2: 31.0 s and 33 s of client CPU before these were kept, 23.9 s and 21.8 s
 * after). Up to 64 small files are finalized at once, more than the 1 MiB buffers kept, so small
 * files have their own smaller buffers: with 1 MiB ones alone, pulling 10,000 one-byte files
 * still made 23 full garbage collections (each new 1 MiB counts towards V8's external-memory
 * limit) and 274 young ones, against 2 and 48 with these.
 */
const chunkBuffers = new SpareBuffers(CHUNK_SIZE, 8);
const SMALL_READ_BYTES = 128 * 1024;
const smallBuffers = new SpareBuffers(SMALL_READ_BYTES, 64);

/**
 * hashFileChunks over a descriptor the caller already has open (reads from offset 0 to the end).
 * `sizeHint` is only a hint: a file that turns out larger than it said is still read whole.
 */
export async function hashFd(io: FdIo, fd: number, sizeHint?: number): Promise<{ size: number; hashes: Uint8Array[] }> {
  if (sizeHint !== undefined && sizeHint < SMALL_READ_BYTES) {
    const whole = await smallBuffers.with((buf) => hashIfShorter(buf, io, fd));
    if (whole !== undefined) return whole;
  }
  if (sizeHint !== undefined && sizeHint > CHUNK_SIZE) return hashOnWorkers(fd, sizeHint);
  return chunkBuffers.with((buf) => hashWith(buf, io, fd));
}

const hashWorkers = new ChunkHashWorkers(CHUNK_SIZE);

/**
 * hashWith for a file of several chunks, its chunks read and hashed on worker threads, a few per
 * worker in flight so none waits for the next job. Ends, like hashWith, at the first short read.
 */
async function hashOnWorkers(fd: number, sizeHint: number): Promise<{ size: number; hashes: Uint8Array[] }> {
  const expected = Math.ceil(sizeHint / CHUNK_SIZE);
  const inFlight = hashWorkers.size * 2;
  const jobs: Promise<ChunkReadResult>[] = [];
  const hashes: Uint8Array[] = [];
  let size = 0;
  let failure: Error | undefined;
  for (let i = 0; ; i++) {
    // Past what the stat said, one chunk at a time: the file grew, and a short read ends it.
    const until = i < expected ? Math.min(expected, i + inFlight) : i + 1;
    while (jobs.length < until) jobs.push(hashWorkers.hashChunk(fd, jobs.length * CHUNK_SIZE, CHUNK_SIZE));
    const result = await jobs[i]!;
    if (!result.ok) {
      failure = result.error;
      break;
    }
    if (result.read.hash !== undefined) hashes.push(result.read.hash);
    size += result.read.bytes;
    if (result.read.bytes < CHUNK_SIZE) break;
  }
  // The caller closes the descriptor once this returns: no worker may still be reading it.
  await Promise.all(jobs);
  if (failure !== undefined) throw failure;
  countHashedFile(size);
  return { size, hashes };
}

/** The file's one hash if all of it fits in `buf` with room to spare; undefined if it filled `buf`. */
async function hashIfShorter(buf: Buffer, io: FdIo, fd: number): Promise<{ size: number; hashes: Uint8Array[] } | undefined> {
  const size = await fill(buf, io, fd, 0);
  if (size === buf.length) return undefined;
  countHashedFile(size);
  return { size, hashes: size === 0 ? [] : [hashChunk(buf.subarray(0, size))] };
}

async function hashWith(buf: Buffer, io: FdIo, fd: number): Promise<{ size: number; hashes: Uint8Array[] }> {
  const hashes: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    // Chunk boundaries stay at exact multiples of CHUNK_SIZE: each chunk is read whole first.
    const filled = await fill(buf, io, fd, size);
    if (filled === 0) break;
    hashes.push(hashChunk(buf.subarray(0, filled)));
    size += filled;
    hashStats.bytesHashed += filled;
    if (filled < CHUNK_SIZE) break;
  }
  hashStats.filesHashed += 1;
  return { size, hashes };
}

/** Reads from `position` until `buf` is full or the file ends (a read may return fewer bytes than asked); returns the bytes read. */
async function fill(buf: Buffer, io: FdIo, fd: number, position: number): Promise<number> {
  let filled = 0;
  while (filled < buf.length) {
    const bytesRead = await io.read(fd, buf, filled, buf.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid file size ${size}`);
}
