import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE, chunkCount, chunkLength, hashFileChunks } from './chunking.js';
import {
  ChunkOutOfRangeError,
  FileChangedError,
  InternalPathError,
  NotFoundError,
  NotRegularFileError,
  OutsideScopeError,
} from './errors.js';
import { isInternalPath } from './internal-names.js';
import { folderRoot, merkleRoot } from './merkle.js';
import { resolveInside, validateRelPath } from './safe-path.js';
import type { ScanWarning, ScannedEntryOnDisk } from './scanner.js';
import { scanFolderOnDisk } from './scanner.js';
import type { FileSummary, FolderSummary, RelPath, RemoteFolder } from './types.js';

/** What a file looked like when it was hashed; any difference means the hashes may be stale. */
interface CachedHashes {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  hashes: Uint8Array[];
  root: Uint8Array;
}

// O_NOFOLLOW makes opening a symlink fail, and O_NONBLOCK keeps a FIFO swapped in after our
// lstat from hanging the open; both close the gap between the check and the open. Windows has
// neither flag (and Node's symlinks there need privileges anyway).
const OPEN_FLAGS =
  constants.O_RDONLY | (process.platform === 'win32' ? 0 : constants.O_NOFOLLOW | constants.O_NONBLOCK);

/**
 * The read side of a folder: what a server serves, and what tests use directly as an in-memory
 * peer. Every path asked for is validated, kept out of internal names and, in single-file mode,
 * limited to that one file. Hashes are cached in memory by (path, size, mtime, ctime, inode) so
 * repeated passes over an unchanged folder read no file data.
 */
export class LocalFolderSource implements RemoteFolder {
  readonly rootAbs: string;
  readonly only: RelPath | undefined;
  private readonly cache = new Map<RelPath, CachedHashes>();
  /** NFC wire path → on-disk spelling, for names stored decomposed (NFD) on disk. */
  private diskPaths = new Map<RelPath, string>();
  private warnings: ScanWarning[] = [];

  constructor(rootAbs: string, opts?: { only?: RelPath }) {
    this.rootAbs = rootAbs;
    this.only = opts?.only === undefined ? undefined : validateRelPath(opts.only);
  }

  /** What the last summary() skipped (unreadable directories, names that cannot be synced). */
  get lastWarnings(): readonly ScanWarning[] {
    return this.warnings;
  }

  async summary(): Promise<FolderSummary> {
    const warnings: ScanWarning[] = [];
    const scanned = await scanFolderOnDisk(this.rootAbs, {
      ...(this.only !== undefined && { only: this.only }),
      onWarning: (w) => warnings.push(w),
    });
    const diskPaths = new Map<RelPath, string>();
    const entries: FileSummary[] = [];
    for (const e of scanned) {
      if (e.diskPath !== e.path) diskPaths.set(e.path, e.diskPath);
      if (e.type === 'dir') {
        entries.push({ path: e.path, type: 'dir', size: 0, mtimeMs: e.mtimeMs, mode: e.mode, root: new Uint8Array(0) });
        continue;
      }
      const hashed = await this.hashesFor(e.path, join(this.rootAbs, e.diskPath), e);
      if (hashed === undefined) continue; // deleted since the scan: it is simply not there now
      entries.push({ path: e.path, type: 'file', size: hashed.size, mtimeMs: hashed.mtimeMs, mode: e.mode, root: hashed.root });
    }
    // Forget files that are gone, so the cache cannot grow without bound over a long session.
    const present = new Set(scanned.map((e) => e.path));
    for (const path of this.cache.keys()) if (!present.has(path)) this.cache.delete(path);
    this.diskPaths = diskPaths;
    this.warnings = warnings;
    return { root: folderRoot(entries), entries };
  }

  async chunkHashes(path: RelPath): Promise<Uint8Array[]> {
    const { rel, abs } = await this.resolve(path);
    const st = await lstatFile(rel, abs);
    const hashed = await this.hashesFor(rel, abs, statKey(st));
    if (hashed === undefined) throw new NotFoundError(rel);
    return hashed.hashes;
  }

  /**
   * Reads the requested chunks in order with positional reads on one handle. Each chunk gets its
   * own buffer because onChunk may keep it (queue it, hand it to a stream); the next read waits
   * for onChunk, which is the backpressure the protocol relies on.
   */
  async fetchChunks(
    path: RelPath,
    indices: number[],
    onChunk: (index: number, data: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const { rel, abs } = await this.resolve(path);
    await lstatFile(rel, abs);
    const fh = await openFile(rel, abs);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new NotRegularFileError(rel, 'not a regular file');
      const count = chunkCount(st.size);
      // Check every index before sending anything, so a bad request fails whole, not halfway.
      for (const index of indices) {
        if (!Number.isInteger(index) || index < 0 || index >= count) throw new ChunkOutOfRangeError(rel, index, count);
      }
      for (const index of indices) {
        const len = chunkLength(st.size, index);
        const buf = Buffer.allocUnsafe(len);
        let filled = 0;
        while (filled < len) {
          const { bytesRead } = await fh.read(buf, filled, len - filled, index * CHUNK_SIZE + filled);
          if (bytesRead === 0) throw new FileChangedError(rel, `shrank while chunk ${index} was read`);
          filled += bytesRead;
        }
        await onChunk(index, buf);
      }
    } finally {
      await fh.close();
    }
  }

  /** Validates a requested path and maps it to the file on disk, inside the root. */
  private async resolve(path: RelPath): Promise<{ rel: RelPath; abs: string }> {
    const rel = validateRelPath(path);
    if (isInternalPath(rel)) throw new InternalPathError(rel);
    if (this.only !== undefined && rel !== this.only) throw new OutsideScopeError(rel, this.only);
    const abs = await resolveInside(this.rootAbs, rel);
    const disk = this.diskPaths.get(rel);
    return { rel, abs: disk === undefined ? abs : join(this.rootAbs, ...disk.split('/')) };
  }

  /**
   * Cached hashes if the file still looks exactly as when it was hashed, else hashes it now.
   * Only a file that was stable across the whole read is cached; one that changed meanwhile is
   * reported as read (its root will not match its chunk hashes later, and the client retries).
   */
  private async hashesFor(
    rel: RelPath,
    abs: string,
    seen: Pick<ScannedEntryOnDisk, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>,
  ): Promise<CachedHashes | undefined> {
    const cached = this.cache.get(rel);
    if (cached !== undefined && sameFile(cached, seen)) return cached;
    let read: { size: number; hashes: Uint8Array[] };
    try {
      read = await hashFileChunks(abs);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const after = await lstat(abs).catch(() => undefined);
    const entry: CachedHashes = {
      size: read.size,
      mtimeMs: after === undefined ? seen.mtimeMs : Math.floor(after.mtimeMs),
      ctimeMs: after?.ctimeMs ?? seen.ctimeMs,
      ino: after?.ino ?? seen.ino,
      hashes: read.hashes,
      root: merkleRoot(read.hashes),
    };
    if (after !== undefined && after.isFile() && sameFile(entry, seen) && after.size === read.size) {
      this.cache.set(rel, entry);
    } else {
      this.cache.delete(rel);
    }
    return entry;
  }
}

function sameFile(a: Pick<CachedHashes, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>, b: Pick<CachedHashes, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

function statKey(st: Stats): Pick<CachedHashes, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'> {
  return { size: st.size, mtimeMs: Math.floor(st.mtimeMs), ctimeMs: st.ctimeMs, ino: st.ino };
}

async function lstatFile(rel: RelPath, abs: string): Promise<Stats> {
  let st: Stats;
  try {
    st = await lstat(abs);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(rel);
    throw err;
  }
  if (st.isSymbolicLink()) throw new NotRegularFileError(rel, 'a symlink');
  if (!st.isFile()) throw new NotRegularFileError(rel, st.isDirectory() ? 'a directory' : 'a special file');
  return st;
}

async function openFile(rel: RelPath, abs: string): Promise<FileHandle> {
  try {
    return await open(abs, OPEN_FLAGS);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(rel);
    if (code === 'ELOOP') throw new NotRegularFileError(rel, 'a symlink');
    throw err;
  }
}

function errCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}
