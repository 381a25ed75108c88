import { open } from 'node:fs/promises';
import type { LimitFunction } from 'p-limit';
import type { FileSummary, RemoteFolder } from './types.js';
import { CHUNK_SIZE, chunkCount, chunkLength, hashChunk } from './chunking.js';
import { bytesEqual } from './merkle.js';
import { ChunkBitmap } from './chunk-bitmap.js';
import { BitmapFile, bitmapPathFor } from './bitmap-file.js';
import { StagingFile, stagingPathFor } from './staging-file.js';
import { EngineError, MerkleMismatchError } from './errors.js';
import type { RateLimiter } from './rate-limiter.js';

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

/**
 * Brings one file to the remote version `file` (whose chunk hashes are `remoteHashes`, already
 * checked against file.root) through a staging file: resume what an interrupted transfer left,
 * reuse local chunks, fetch the rest over parallel requests, verify every chunk on arrival,
 * then finalize (Merkle check + atomic rename). On failure the staging file and its bitmap stay
 * so the next attempt fetches only what is still missing.
 */
export async function transferFile(ctx: TransferContext, file: FileSummary, dest: string, remoteHashes: readonly Uint8Array[], local: LocalVersion | undefined): Promise<TransferStats> {
  const stats: TransferStats = { chunksFetched: 0, bytesFetched: 0, chunksResumed: 0 };
  const { staging, record } = await prepareStaging(ctx.localRoot, file, remoteHashes, local, stats);
  try {
    let wanted = record.bitmap.missing();
    for (let attempt = 0; wanted.length > 0; attempt++) {
      const bad = await fetchInto(ctx, file, remoteHashes, staging, record, wanted, stats);
      if (bad.length > 0 && attempt > 0) throw new ChunkHashMismatchError(file.path, bad);
      wanted = bad;
    }
    await staging.finalize(dest, { size: file.size, root: file.root, mtimeMs: file.mtimeMs, mode: file.mode });
    await record.remove();
    return stats;
  } catch (err) {
    if (err instanceof MerkleMismatchError) {
      // Every chunk was verified, so this means the disk changed under us: trust none of it.
      await record.remove();
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
    if (local) await copyMatchingLocalChunks(staging, local, remoteHashes, bitmap, file.size);
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
  const matches = remoteHashes.map((h, i) => i).filter((i) => !bitmap.has(i) && local.hashes[i] && bytesEqual(local.hashes[i]!, remoteHashes[i]!));
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

/** Fetches `wanted` into the staging file; returns the indices whose bytes did not match their hash. */
async function fetchInto(
  ctx: TransferContext,
  file: FileSummary,
  remoteHashes: readonly Uint8Array[],
  staging: StagingFile,
  record: BitmapFile,
  wanted: number[],
  stats: TransferStats,
): Promise<number[]> {
  const bad: number[] = [];
  await Promise.all(
    batches(wanted, ctx.streams).map((batch) =>
      ctx.requests(async () => {
        ctx.signal?.throwIfAborted();
        await ctx.remote.fetchChunks(file.path, batch, async (index, data) => {
          ctx.signal?.throwIfAborted();
          if (ctx.limiter) await ctx.limiter.take(data.length, ctx.signal);
          if (!bytesEqual(hashChunk(data), remoteHashes[index]!)) {
            bad.push(index);
            return;
          }
          await staging.writeChunk(index, data);
          await record.mark(index);
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
