import { chmod, mkdir, rmdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { FileFailure, PassSummary } from '@leafsync/shared';
import type { FileSummary, RelPath, RemoteFolder, ScannedEntry } from './types.js';
import { chunkCount, hashChunk } from './chunking.js';
import { bytesEqual, merkleRoot } from './merkle.js';
import { chunksToFetch } from './chunk-diff.js';
import { resolveInside, validateRelPath } from './safe-path.js';
import { isInternalPath } from './internal-names.js';
import { scanFolder } from './scanner.js';
import { STAGING_DIR, StagingFile, utimesSeconds } from './staging-file.js';
import { LocalFolderSource } from './folder-source.js';
import { EngineError, NotFoundError, InternalPathError } from './errors.js';

export interface PullOptions {
  /** Sync just this file of the remote folder. */
  only?: RelPath;
  /** Chunk requests in flight at once, across all files. */
  streams?: number;
  /**
   * The local folder's read side. Passing the same instance to every pass keeps its hash cache,
   * so files that did not change are not re-hashed.
   */
  local?: LocalFolderSource;
  onEvent?: (event: PullEvent) => void;
}

export type PullEvent =
  | { kind: 'summary'; files: number; bytes: number }
  | { kind: 'file-start'; path: RelPath; size: number; chunks: number }
  | { kind: 'chunk'; path: RelPath; bytes: number }
  | { kind: 'file-done'; path: RelPath }
  | { kind: 'file-error'; path: RelPath; message: string };

/** A chunk whose bytes do not hash to what the server announced. */
export class ChunkHashMismatchError extends EngineError {
  readonly code = 'CHUNK_HASH_MISMATCH';
  constructor(path: string, index: number) {
    super(path, `chunk ${index} of ${path} did not match its hash (corrupted in transit or the file changed on the server); nothing was replaced`);
  }
}

/** The server's file changed between its summary and its chunk hashes: try again next pass. */
export class RemoteChangedError extends EngineError {
  readonly code = 'REMOTE_CHANGED';
  constructor(path: string) {
    super(path, `${path} changed on the server during the pass; it will be fetched again`);
  }
}

export class TypeConflictError extends EngineError {
  readonly code = 'TYPE_CONFLICT';
  constructor(path: string, remoteType: string, localType: string) {
    super(path, `${path} is a ${remoteType} on the server but a ${localType} here; leaving the local ${localType} alone`);
  }
}

const DEFAULT_STREAMS = 8;
/** Enough files in flight to keep the streams busy when files are small. */
const FILES_IN_FLIGHT = 16;

/**
 * One pull pass: make `localRoot` hold what the remote folder holds, fetching only chunks that
 * differ. Each file lands through a verified staging file and an atomic rename, so any failure
 * leaves that file's previous version in place; failures are reported per file, not thrown.
 */
export async function pullPass(remote: RemoteFolder, localRoot: string, opts: PullOptions = {}): Promise<PassSummary> {
  const started = performance.now();
  const local = opts.local ?? new LocalFolderSource(localRoot, opts.only === undefined ? {} : { only: opts.only });
  const emit = opts.onEvent ?? (() => {});
  const result: PassSummary = { files: 0, filesChanged: 0, chunksFetched: 0, bytesFetched: 0, elapsedMs: 0, failures: [] };
  const fail = (path: RelPath, err: unknown) => {
    const failure = toFailure(path, err);
    result.failures.push(failure);
    emit({ kind: 'file-error', path, message: failure.message });
  };

  const summary = await remote.summary();
  const entries: FileSummary[] = [];
  for (const entry of summary.entries) {
    try {
      const path = validateRelPath(entry.path);
      if (isInternalPath(path)) throw new InternalPathError(path);
      if (opts.only !== undefined && path !== opts.only) continue;
      entries.push({ ...entry, path });
    } catch (err) {
      fail(entry.path, err);
    }
  }
  const files = entries.filter((e) => e.type === 'file');
  result.files = files.length;
  emit({ kind: 'summary', files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) });

  const localEntries = await scanLocal(localRoot, opts.only);

  for (const dir of entries.filter((e) => e.type === 'dir')) {
    try {
      const existing = localEntries.get(dir.path);
      if (existing && existing.type !== 'dir') throw new TypeConflictError(dir.path, 'folder', 'file');
      await mkdir(await resolveInside(localRoot, dir.path), { recursive: true });
    } catch (err) {
      fail(dir.path, err);
    }
  }

  const requests = pLimit(clampStreams(opts.streams));
  const fileSlots = pLimit(FILES_IN_FLIGHT);
  await Promise.all(
    files.map((file) =>
      fileSlots(async () => {
        try {
          const changed = await pullFile(file);
          if (changed) result.filesChanged++;
        } catch (err) {
          fail(file.path, err);
        }
      }),
    ),
  );
  await removeIfEmpty(join(localRoot, STAGING_DIR));
  result.elapsedMs = Math.round(performance.now() - started);
  return result;

  /** Returns true if the file's content was (re)written. */
  async function pullFile(file: FileSummary): Promise<boolean> {
    const dest = await resolveInside(localRoot, file.path);
    const existing = localEntries.get(file.path);
    if (existing && existing.type !== 'file') throw new TypeConflictError(file.path, 'file', 'folder');
    const localHashes = existing ? await local.chunkHashes(file.path) : [];
    if (existing && existing.size === file.size && bytesEqual(merkleRoot(localHashes), file.root)) {
      await matchMetadata(dest, existing, file);
      return false;
    }

    const remoteHashes = await remote.chunkHashes(file.path);
    if (remoteHashes.length !== chunkCount(file.size) || !bytesEqual(merkleRoot(remoteHashes), file.root)) {
      throw new RemoteChangedError(file.path);
    }
    const wanted = chunksToFetch(remoteHashes, localHashes);
    emit({ kind: 'file-start', path: file.path, size: file.size, chunks: wanted.length });
    const staging = await StagingFile.open(localRoot, file.path, { size: file.size, ...(existing && { seedFrom: dest }) });
    await Promise.all(
      batches(wanted, clampStreams(opts.streams)).map((batch) =>
        requests(() =>
          remote.fetchChunks(file.path, batch, async (index, data) => {
            if (!bytesEqual(hashChunk(data), remoteHashes[index]!)) throw new ChunkHashMismatchError(file.path, index);
            await staging.writeChunk(index, data);
            result.chunksFetched++;
            result.bytesFetched += data.length;
            emit({ kind: 'chunk', path: file.path, bytes: data.length });
          }),
        ),
      ),
    );
    await staging.finalize(dest, { size: file.size, root: file.root, mtimeMs: file.mtimeMs, mode: file.mode });
    emit({ kind: 'file-done', path: file.path });
    return true;
  }
}

async function scanLocal(localRoot: string, only: RelPath | undefined): Promise<Map<RelPath, ScannedEntry>> {
  try {
    const scanned = await scanFolder(localRoot, only === undefined ? {} : { only });
    return new Map(scanned.map((e) => [e.path, e]));
  } catch (err) {
    if (err instanceof NotFoundError) return new Map();
    throw err;
  }
}

/** The staging folder is ours; leave no empty trace of it in the user's folder. */
async function removeIfEmpty(dir: string): Promise<void> {
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT' && err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  });
}

async function matchMetadata(dest: string, existing: ScannedEntry, file: FileSummary): Promise<void> {
  if (existing.mode !== file.mode && process.platform !== 'win32') await chmod(dest, file.mode);
  if (existing.mtimeMs !== file.mtimeMs) await utimes(dest, utimesSeconds(file.mtimeMs), utimesSeconds(file.mtimeMs));
}

function clampStreams(streams: number | undefined): number {
  return Math.min(64, Math.max(1, Math.floor(streams ?? DEFAULT_STREAMS)));
}

/** Splits indices into about `parts` contiguous runs, each small enough that parallel streams share the file. */
function batches(indices: number[], parts: number): number[][] {
  const size = Math.max(1, Math.min(64, Math.ceil(indices.length / parts)));
  const out: number[][] = [];
  for (let at = 0; at < indices.length; at += size) out.push(indices.slice(at, at + size));
  return out;
}

function toFailure(path: RelPath, err: unknown): FileFailure {
  const e = err as { code?: unknown; message?: unknown };
  return {
    path,
    code: typeof e.code === 'string' ? e.code : 'ERROR',
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}

