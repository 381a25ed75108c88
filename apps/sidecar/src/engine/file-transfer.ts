import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LimitFunction } from 'p-limit';
import type { FileSummary, RemoteFolder } from './types.js';
import { CHUNK_SIZE, chunkCount, chunkLength, hashChunk } from './chunking.js';
import { bytesEqual, merkleRoot } from './merkle.js';
import { ChunkBitmap } from './chunk-bitmap.js';
import { BitmapFile, bitmapPathFor } from './bitmap-file.js';
import { StagingFile, stagingPathFor } from './staging-file.js';
import { EngineError, MerkleMismatchError } from './errors.js';
import type { RateLimiter } from './rate-limiter.js';
import { assertDestUnchanged, type DestBefore } from './dest-guard.js';
import { applyInPlace, canUpdateInPlace, inPlaceChunks, StagedChunkError, undoJournalPathFor } from './in-place-patch.js';
import { lstatOrNull } from '../fs/fs-errors.js';
import { holdsWriteLock } from './folder-lock.js';

/** A chunk whose bytes do not hash to what the server announced, twice in a row. */
export class ChunkHashMismatchError extends EngineError {
  readonly code = 'CHUNK_HASH_MISMATCH';
  constructor(path: string, indices: number[]) {
    super(
      path,
      `${indices.length} chunk(s) of ${path} did not match their hashes (first: ${indices[0]}); the file probably changed on the server during the transfer. ` +
        'Nothing was replaced; the good chunks are kept and the next pass fetches the rest.',
    );
  }
}

export interface TransferContext {
  remote: RemoteFolder;
  localRoot: string;
  /** Shared bound on chunk requests in flight across all files. */
  requests: LimitFunction;
  streams: number;
  limiter?: RateLimiter;
  signal?: AbortSignal;
  onChunk(bytes: number): void;
  /** Called once the file is known to need fetching, before its first request. */
  onTransferStart?(file: FileSummary): void;
  /** Folders whose entries were renamed; the caller fsyncs each once when the pass ends. */
  touchedDirs: Set<string>;
  /** Write changed chunks over the local file when few changed (see in-place-patch). */
  inPlace?: boolean;
}

export interface LocalVersion {
  abs: string;
  hashes: readonly Uint8Array[];
}

export interface TransferStats {
  chunksFetched: number;
  bytesFetched: number;
  /** Chunks that were already good in an interrupted transfer's staging file. */
  chunksResumed: number;
}

export interface TransferResult extends TransferStats {
  /** The chunk hashes of the file now in place (its root is the announced one). */
  hashes: readonly Uint8Array[];
}

/**
 * Brings one file to the remote version `file` through a staging file: resume what an
 * interrupted transfer left, reuse local chunks, fetch the rest over parallel requests, verify
 * every chunk on arrival, then finalize (Merkle check + atomic rename). With ctx.inPlace, a file
 * with few changed chunks stages only those and writes them over the local file instead (see
 * in-place-patch). On failure the staging file and its bitmap stay so the next attempt fetches
 * only what is still missing.
 *
 * `remoteHashes` (already checked against file.root) may be omitted for a file of at most one
 * chunk: its single chunk is then checked against the file root itself, which saves a round trip
 * per small file. Such files keep no bitmap either: there is nothing to resume in one chunk.
 */
export async function transferFile(
  ctx: TransferContext,
  file: FileSummary,
  dest: string,
  destBefore: DestBefore,
  remoteHashes: readonly Uint8Array[] | undefined,
  local: LocalVersion | undefined,
): Promise<TransferResult> {
  const stats: TransferStats = { chunksFetched: 0, bytesFetched: 0, chunksResumed: 0 };
  const count = chunkCount(file.size);
  if (remoteHashes === undefined && count > 1) throw new RangeError(`chunk hashes are needed for ${file.path} (${count} chunks)`);
  // The file's chunk hashes once it is done: the announced ones, or for a single chunk the hash
  // of the bytes that matched the root (empty for an empty file).
  let hashes: readonly Uint8Array[] = remoteHashes ?? [];
  const hashIsGood = remoteHashes
    ? (i: number, h: Uint8Array) => bytesEqual(h, remoteHashes[i]!)
    : (_i: number, h: Uint8Array) => {
        if (!bytesEqual(merkleRoot([h]), file.root)) return false;
        hashes = [h];
        return true;
      };
  const inPlace = ctx.inPlace && remoteHashes && local && canUpdateInPlace(lstatOrNull(local.abs)) ? inPlaceChunks(remoteHashes, local.hashes) : undefined;
  const { staging, record } = remoteHashes && count > 1
    ? await prepareStaging(ctx.localRoot, file, remoteHashes, local, inPlace, stats)
    : { staging: await StagingFile.open(ctx.localRoot, file.path, { size: file.size }), record: undefined };
  try {
    let wanted = !record ? [...Array(count).keys()] : inPlace ? inPlace.filter((i) => !record.bitmap.has(i)) : record.bitmap.missing();
    for (let attempt = 0; wanted.length > 0; attempt++) {
      const bad = await fetchInto(ctx, file, hashIsGood, staging, record, wanted, stats);
      if (bad.length > 0 && attempt > 0) throw new ChunkHashMismatchError(file.path, bad);
      wanted = bad;
    }
    if (inPlace && remoteHashes) {
      await applyInPlace(
        { rel: file.path, destAbs: dest, journalPath: undoJournalPathFor(ctx.localRoot, file.path), destBefore, chunks: inPlace, size: file.size, mtimeMs: file.mtimeMs, mode: file.mode, hashes: remoteHashes },
        staging,
      );
      await staging.discard();
    } else {
      await staging.finalize(dest, { size: file.size, root: file.root, mtimeMs: file.mtimeMs, mode: file.mode }, {
        syncDir: false,
        beforeReplace: () => assertDestUnchanged(file.path, dest, destBefore),
        // The session writing this folder holds its lock: see StagingFile.finalize.
        ...(holdsWriteLock(ctx.localRoot) && { exclusive: true }),
      });
      ctx.touchedDirs.add(dirname(dest));
    }
    await record?.remove();
    return { ...stats, hashes };
  } catch (err) {
    if (err instanceof MerkleMismatchError || err instanceof StagedChunkError || !record) {
      // Every chunk was verified, so a mismatch means the disk changed under us: trust none of it.
      // Without a record nothing could be resumed anyway.
      await record?.remove();
      await staging.discard();
    } else {
      await record.close();
      await staging.close();
    }
    throw err;
  }
}

async function prepareStaging(
  localRoot: string,
  file: FileSummary,
  remoteHashes: readonly Uint8Array[],
  local: LocalVersion | undefined,
  inPlace: readonly number[] | undefined,
  stats: TransferStats,
): Promise<{ staging: StagingFile; record: BitmapFile }> {
  const count = chunkCount(file.size);
  const recordPath = bitmapPathFor(stagingPathFor(localRoot, file.path));
  const previous = await BitmapFile.load(recordPath);
  const bitmap = new ChunkBitmap(count);
  let staging: StagingFile;
  if (previous) {
    staging = await StagingFile.open(localRoot, file.path, { size: file.size, resume: true });
    // A bit is a claim; the bytes on disk are the proof. Re-hash every claimed chunk.
    for (const i of previous.bitmap.present()) {
      if (i >= count) continue;
      if (bytesEqual(hashChunk(await staging.readChunk(i)), remoteHashes[i]!)) {
        bitmap.set(i);
        stats.chunksResumed++;
      }
    }
    if (local && !inPlace) await copyMatchingLocalChunks(staging, local, remoteHashes, bitmap, file.size);
  } else if (inPlace) {
    // Only the changed chunks are staged (a sparse file); the rest stay where they are.
    staging = await StagingFile.open(localRoot, file.path, { size: file.size });
  } else {
    staging = await StagingFile.open(localRoot, file.path, { size: file.size, ...(local && { seedFrom: local.abs }) });
    // The seed copy already holds every local chunk that equals the remote one.
    if (local) for (let i = 0; i < count; i++) if (local.hashes[i] && bytesEqual(local.hashes[i]!, remoteHashes[i]!)) bitmap.set(i);
  }
  const record = await BitmapFile.create(recordPath, { size: file.size, root: file.root }, bitmap);
  return { staging, record };
}

/** After a resume the staging holds an older mix; local chunks that match the new version are copied in. */
async function copyMatchingLocalChunks(staging: StagingFile, local: LocalVersion, remoteHashes: readonly Uint8Array[], bitmap: ChunkBitmap, size: number): Promise<void> {
  const matches = remoteHashes.map((_hash, i) => i).filter((i) => !bitmap.has(i) && local.hashes[i] && bytesEqual(local.hashes[i]!, remoteHashes[i]!));
  if (matches.length === 0) return;
  const fh = await open(local.abs, 'r');
  try {
    for (const i of matches) {
      const data = Buffer.allocUnsafe(chunkLength(size, i));
      const { bytesRead } = await fh.read(data, 0, data.length, i * CHUNK_SIZE);
      // The local file may have changed since it was hashed; only a verified copy counts.
      if (bytesRead === data.length && bytesEqual(hashChunk(data), remoteHashes[i]!)) {
        await staging.writeChunk(i, data);
        bitmap.set(i);
      }
    }
  } finally {
    await fh.close();
  }
}

/** Fetches `wanted` into the staging file; returns the indices whose bytes did not verify. */
async function fetchInto(
  ctx: TransferContext,
  file: FileSummary,
  hashIsGood: (index: number, hash: Uint8Array) => boolean,
  staging: StagingFile,
  record: BitmapFile | undefined,
  wanted: number[],
  stats: TransferStats,
): Promise<number[]> {
  const bad: number[] = [];
  // A file of one chunk is a small request (batched with others, see FirstChunkBatcher), already
  // bounded by the files in flight; holding it to the chunk-request budget too would leave a
  // folder of small files latency-bound.
  const schedule = <T>(task: () => Promise<T>): Promise<T> => (record ? ctx.requests(task) : task());
  await Promise.all(
    batches(wanted, ctx.streams).map((batch) =>
      schedule(async () => {
        ctx.signal?.throwIfAborted();
        await ctx.remote.fetchChunks(file.path, batch, async (index, data) => {
          ctx.signal?.throwIfAborted();
          if (ctx.limiter) await ctx.limiter.take(data.length, ctx.signal);
          const hash = hashChunk(data);
          if (!hashIsGood(index, hash)) {
            bad.push(index);
            return;
          }
          await staging.writeChunk(index, data, hash);
          await record?.mark(index);
          // Counted only once recorded, so reported progress never exceeds what a resume finds.
          stats.chunksFetched++;
          stats.bytesFetched += data.length;
          ctx.onChunk(data.length);
        });
      }),
    ),
  );
  return bad.sort((a, b) => a - b);
}

/** Splits indices into about `parts` contiguous runs so parallel streams share one file. */
function batches(indices: number[], parts: number): number[][] {
  const size = Math.max(1, Math.min(64, Math.ceil(indices.length / parts)));
  const out: number[][] = [];
  for (let at = 0; at < indices.length; at += size) out.push(indices.slice(at, at + size));
  return out;
}
