import type { Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { CHUNK_SIZE, chunkCount, chunkLength, countHashedFile, hashFileChunks } from './chunking.js';
import {
  ChunkOutOfRangeError,
  FileChangedError,
  IgnoredPathError,
  InternalPathError,
  NotFoundError,
  NotRegularFileError,
  OutsideScopeError,
} from './errors.js';
import type { IndexCache, IndexRecord } from './index-cache.js';
import { isInternalPath } from './internal-names.js';
import { loadIgnoreRules, type IgnoreMatcher } from './ignore-rules.js';
import { bytesEqual, folderRoot, merkleRoot } from './merkle.js';
import { InsideRoot, validateRelPath } from './safe-path.js';
import type { ScanWarning } from './scanner.js';
import { scanFolderOnDisk, type ScannedEntryOnDisk } from './scanner.js';
import { recoverInterruptedPatches } from './in-place-patch.js';
import { quickScanDigest, scanDigest } from './scan-digest.js';
import type { FileSummary, FolderSummary, RelPath, RemoteFolder } from './types.js';
import { errCode, errMessage, lstatOrNull } from '../fs/fs-errors.js';
import { compareUtf8 } from '../util/utf8-order.js';
import { OPEN_SCANNED_FILE, ioFor, pooledIo, type FdIo } from '../fs/fd-io.js';
import type { DirectoryWatch } from '../fs/directory-watch.js';
import { smallFileHasher, type SmallFileHasher, type StatAfterRead } from '../fs/hash-small-files.js';
import { KeyedLock } from '../util/keyed-lock.js';

export interface LocalFolderSourceOptions {
  /** Serve just this one regular file (single-file session). */
  only?: RelPath;
  /**
   * Persistent index of hashes (one per folder), so a new process re-hashes only files whose
   * identity changed. Without it hashes are cached in memory for this instance's lifetime only.
   * The caller owns it and closes it.
   */
  cache?: IndexCache;
  /** Paths to leave out (e.g. .leafsyncignore): not listed, not descended into, never served. */
  ignore?: IgnoreMatcher;
  /**
   * Read the folder's own `.leafsyncignore` at every summary, so edits to the rules apply from
   * the next pass on (instead of a fixed `ignore`).
   */
  readIgnoreFile?: boolean;
  /**
   * Told of each thing a scan skipped (an unreadable file or directory, a name that cannot be
   * synced, an interrupted in-place update put back) once, when first found, not at every pass.
   */
  onWarning?: (warning: ScanWarning) => void;
  /**
   * Watches the folder (not in single-file mode) so a scan with nothing changed since the last
   * one returns that one instead of walking the tree again, for up to WATCHED_LISTING_TRUST_MS.
   * The caller owns it and closes it.
   */
  watch?: DirectoryWatch;
}

/**
 * How long a watched listing with no change seen is trusted. Syncthing trusts its watcher for an
 * hour between full rescans; this is shorter because what inotify misses (mmap writes, another
 * machine writing to a network filesystem) would otherwise be missed for that long.
 */
const WATCHED_LISTING_TRUST_MS = 30_000;

/** One listing of the folder, before any hashing: what summary() builds on. */
export interface FolderScan {
  entries: ScannedEntryOnDisk[];
  warnings: ScanWarning[];
  /**
   * SHA-256 over every entry's path, type, size, mtime, ctime, inode and mode. Two scans with
   * the same digest give the same summary, on the presumption the hash cache already makes: a
   * file whose size, times and inode are unchanged still holds what it held when hashed.
   */
  digest: Uint8Array;
}

/** What a file looked like when it was hashed; any difference means the hashes may be stale. */
interface CachedHashes {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** Undefined when only the root came from the index: fetched from it when someone asks. */
  hashes: Uint8Array[] | undefined;
  root: Uint8Array;
}

/**
 * Why a file's bytes can be out of reach while the rest of the folder is fine: permissions, or a
 * disk error on that file. Such a file is left out as unreadable; anything else fails the summary.
 */
const UNREADABLE_CODES: ReadonlySet<unknown> = new Set(['EACCES', 'EPERM', 'EIO']);

// Files hashed at once on a cache miss: overlaps one file's reads with another's hashing
// without holding many 1 MiB read buffers.
const HASH_CONCURRENCY = 4;

/**
 * Files up to this size, when a summary must hash them, are read and hashed whole on the thread
 * pool, SMALL_HASH_BATCH to a call and SMALL_HASH_BATCHES at once (one per pool thread): a cold
 * summary of W2's 10,000 files took 0.77-0.82 s file by file on the main thread, 0.39-0.52 s this
 * way (bench/README). Where the addon is not built, and for any file it could not do, file by file.
 */
const SMALL_HASH_BYTES = 128 * 1024;
const SMALL_HASH_BATCH = 64;
const SMALL_HASH_BATCHES = 4;
const hashSmallFiles: SmallFileHasher | undefined = smallFileHasher();

type Identity = Pick<CachedHashes, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>;
type Hashed = CachedHashes & { hashes: Uint8Array[] };

/** A file just read and hashed; `stable` if it did not change during the read (only then is it cached). */
interface HashedNow {
  entry: Hashed;
  stable: boolean;
}

/**
 * The read side of a folder: what a server serves, and what tests use directly as an in-memory
 * peer. Every path asked for is validated, kept out of internal names and, in single-file mode,
 * limited to that one file. Hashes are cached in memory by (path, size, mtime, ctime, inode) so
 * repeated passes over an unchanged folder read no file data, and, given an IndexCache, on disk
 * so that a new process does not read them either.
 */
export class LocalFolderSource implements RemoteFolder {
  readonly rootAbs: string;
  readonly only: RelPath | undefined;
  private readonly cache = new Map<RelPath, CachedHashes>();
  private readonly index: IndexCache | undefined;
  /**
   * Paths that have a row in `index`, once a whole-folder summary has loaded it; lets a pass
   * prune the rows of deleted files without reading the table again.
   */
  private indexed: Set<RelPath> | undefined;
  private ignore: IgnoreMatcher | undefined;
  private readonly readIgnoreFile: boolean;
  /** NFC wire path → on-disk spelling, for names stored decomposed (NFD) on disk. */
  private diskPaths = new Map<RelPath, string>();
  private warnings: ScanWarning[] = [];
  private readonly onWarning: ((warning: ScanWarning) => void) | undefined;
  /**
   * Messages of the warnings told of for the previous listing and for this one so far: a warning
   * is told once, and again only after a listing without it.
   */
  private toldBefore = new Set<string>();
  private toldNow = new Set<string>();
  /** Files this process wrote and verified since the last summary, for the index. */
  private remembered: IndexRecord[] = [];
  /** Directories proven inside the root since the last summary (each summary starts afresh). */
  private paths: InsideRoot;
  /** The last summary, the digest of the scan it was built from, and the files it could not read. */
  private lastSummary: { digest: Uint8Array; summary: FolderSummary; unreadableFiles: ScanWarning[] } | undefined;
  private readonly watch: DirectoryWatch | undefined;
  /** The last scan and when it began, while `watch` says nothing changed since. */
  private lastScan: { scan: FolderScan; startedAt: number } | undefined;
  /** Scans run one at a time, and so do summaries (see scan and summaryOf). */
  private readonly oneAtATime = new KeyedLock<'scan' | 'summary'>();

  constructor(rootAbs: string, opts?: LocalFolderSourceOptions) {
    this.rootAbs = rootAbs;
    this.only = opts?.only === undefined ? undefined : validateRelPath(opts.only);
    this.index = opts?.cache;
    this.ignore = opts?.ignore;
    this.readIgnoreFile = opts?.readIgnoreFile === true;
    this.onWarning = opts?.onWarning;
    this.paths = new InsideRoot(rootAbs);
    this.watch = this.only === undefined ? opts?.watch : undefined;
  }

  /** What the last summary() skipped (unreadable files and directories, names that cannot be synced). */
  get lastWarnings(): readonly ScanWarning[] {
    return this.warnings;
  }

  /**
   * Lists the folder as it is now, without hashing anything. Cheap next to summary() when the
   * index must first be loaded: a caller holding the digest of an earlier scan can skip the rest.
   */
  async scan(opts?: {
    /** Stops the scan of an unwatched folder that nothing waits for any more (ScanOptions.signal). */
    signal?: AbortSignal;
  }): Promise<FolderScan> {
    const watch = this.watch;
    if (watch === undefined) return this.listFolder(undefined, opts?.signal);
    // One scan at a time: the watch follows one scan from its start (two clients asking at once
    // would otherwise each restart it while the other walks).
    return this.oneAtATime.run('scan', async () => {
      if (this.lastScan !== undefined) {
        // Changes the kernel reported before this call are handled first, so none is missed.
        await yieldToEventLoop();
        if (watch.unchanged && performance.now() - this.lastScan.startedAt < WATCHED_LISTING_TRUST_MS) return this.lastScan.scan;
      }
      this.lastScan = undefined;
      const startedAt = performance.now();
      const scan = await this.listFolder(watch);
      this.lastScan = { scan, startedAt };
      return scan;
    });
  }

  /**
   * The digest scan() would give now, if it can be had without scanning (quickScanDigest), else
   * undefined. Only for a source that reads the folder's own rules, or has none, and keeps no
   * watch: a watch must see the listing it follows.
   */
  quickDigest(): Promise<Uint8Array | undefined> {
    const plainRules = this.readIgnoreFile || this.ignore === undefined;
    if (this.only !== undefined || this.watch !== undefined || !plainRules) return Promise.resolve(undefined);
    return quickScanDigest(this.rootAbs);
  }

  private async listFolder(watch: DirectoryWatch | undefined, signal?: AbortSignal): Promise<FolderScan> {
    signal?.throwIfAborted();
    // Watched before the rules are read, so an edit to them is seen too.
    watch?.scanStarted();
    watch?.beforeListing(join(this.rootAbs, sep));
    if (this.readIgnoreFile) this.ignore = await loadIgnoreRules(this.rootAbs);
    this.paths = new InsideRoot(this.rootAbs);
    if (this.only !== undefined && this.isIgnored(this.only)) throw new IgnoredPathError(this.only);
    // A half-done in-place update (its process was killed) is undone before anyone reads the file.
    const warnings: ScanWarning[] = (await recoverInterruptedPatches(this.rootAbs)).map((path) => ({
      path,
      message: `${path}: an in-place update was interrupted; its previous version was put back`,
    }));
    const entries = await scanFolderOnDisk(this.rootAbs, {
      ...(this.only !== undefined && { only: this.only }),
      ...(this.ignore !== undefined && { ignore: this.ignore }),
      onWarning: (w) => warnings.push(w),
      ...(watch !== undefined && { beforeListing: (dir: string) => watch.beforeListing(dir) }),
      ...(signal !== undefined && { signal }),
    });
    watch?.scanFinished();
    this.toldBefore = this.toldNow;
    this.toldNow = new Set();
    this.tell(warnings);
    return { entries, warnings, digest: scanDigest(entries) };
  }

  private tell(warnings: readonly ScanWarning[]): void {
    for (const w of warnings) {
      if (!this.toldBefore.has(w.message) && !this.toldNow.has(w.message)) this.onWarning?.(w);
      this.toldNow.add(w.message);
    }
  }

  async summary(): Promise<FolderSummary> {
    return this.summaryOf(await this.scan());
  }

  /**
   * The folder's summary built from `scan`, which must be this instance's own and recent. One at
   * a time: a second caller waits and then finds what the first hashed in the cache, where it
   * would have read and hashed the same files again alongside (a `serve`'s start-up summary and
   * its first client's request hashed a 1 GiB file twice at once: bench W1, done ~0.6 s later).
   */
  summaryOf(scan: FolderScan): Promise<FolderSummary> {
    return this.oneAtATime.run('summary', () => this.summarize(scan));
  }

  private async summarize(scan: FolderScan): Promise<FolderSummary> {
    const { entries: scanned, warnings, digest } = scan;
    const diskPaths = new Map<RelPath, string>();
    for (const e of scanned) if (e.diskPath !== e.path) diskPaths.set(e.path, e.diskPath);
    this.diskPaths = diskPaths;
    // Nothing changed since the last summary and nothing written meanwhile: same root, same
    // entries (a server answers every pass's summary request; this spares it the lookups).
    const last = this.lastSummary;
    if (last !== undefined && this.remembered.length === 0 && bytesEqual(last.digest, digest)) {
      return this.withWarnings({ root: last.summary.root, entries: [...last.summary.entries] }, warnings, last.unreadableFiles);
    }
    if (this.index !== undefined && this.only === undefined && this.indexed === undefined) this.loadIndex(this.index);
    // Cached files are resolved synchronously first; only misses are read, a few at a time.
    const hashed: Array<CachedHashes | undefined> = new Array<CachedHashes | undefined>(scanned.length);
    const misses: number[] = [];
    scanned.forEach((e, i) => {
      if (e.type !== 'file') return;
      const known = this.lookup(e.path, e);
      if (known === undefined) misses.push(i);
      else hashed[i] = known;
    });
    const fresh: IndexRecord[] = [];
    const unreadableFiles: ScanWarning[] = [];
    const done = (i: number, read: HashedNow): void => {
      const e = scanned[i]!;
      hashed[i] = read.entry;
      if (read.stable) fresh.push({ path: e.path, mode: e.mode, ...read.entry });
    };
    const hashOne = async (i: number): Promise<void> => {
      const e = scanned[i]!;
      let read: HashedNow | undefined;
      try {
        read = await this.hashNow(e.path, join(this.rootAbs, e.diskPath), e);
      } catch (err) {
        // One file nobody may read must not stop the rest of the folder from syncing.
        if (!UNREADABLE_CODES.has(errCode(err))) throw err;
        unreadableFiles.push({ path: e.path, message: `Skipped unreadable file ${e.path}: ${errMessage(err)}`, unreadable: true });
        return;
      }
      if (read === undefined) return; // deleted since the scan: it is simply not there now
      done(i, read);
    };
    const small = hashSmallFiles === undefined ? [] : misses.filter((i) => scanned[i]!.size <= SMALL_HASH_BYTES);
    const large = hashSmallFiles === undefined ? misses : misses.filter((i) => scanned[i]!.size > SMALL_HASH_BYTES);
    await Promise.all([
      forEachLimit(large, HASH_CONCURRENCY, hashOne),
      hashSmallFiles && this.hashSmallNow(hashSmallFiles, scanned, small, done, hashOne),
    ]);
    const entries: FileSummary[] = [];
    scanned.forEach((e, i) => {
      if (e.type === 'dir') {
        entries.push({ path: e.path, type: 'dir', size: 0, mtimeMs: e.mtimeMs, mode: e.mode, root: new Uint8Array(0) });
        return;
      }
      const h = hashed[i];
      if (h !== undefined) entries.push({ path: e.path, type: 'file', size: h.size, mtimeMs: h.mtimeMs, mode: e.mode, root: h.root });
    });
    // Forget files that are gone, so neither cache can grow without bound over a long session.
    const present = new Set(scanned.map((e) => e.path));
    for (const path of this.cache.keys()) if (!present.has(path)) this.cache.delete(path);
    if (this.index !== undefined) {
      // One transaction for the whole pass: a first scan of 10k files is one commit, not 10k.
      const records = [...this.remembered.filter((r) => present.has(r.path)), ...fresh];
      this.remembered = [];
      if (records.length > 0) this.index.putMany(records);
      // A single-file session saw one file; the rest of the folder's index is still valid.
      if (this.indexed !== undefined) {
        const gone: RelPath[] = [];
        for (const path of this.indexed) if (!present.has(path)) gone.push(path);
        for (const path of gone) this.indexed.delete(path);
        for (const r of records) this.indexed.add(r.path);
        if (gone.length > 0) this.index.deleteMany(gone);
      }
    }
    unreadableFiles.sort((a, b) => compareUtf8(a.path, b.path));
    this.lastSummary = { digest, summary: { root: folderRoot(entries), entries: [...entries] }, unreadableFiles };
    return this.withWarnings({ root: this.lastSummary.summary.root, entries }, warnings, unreadableFiles);
  }

  /** `summary` with what could not be read marked unreadable; remembers and tells the warnings. */
  private withWarnings(summary: FolderSummary, scanWarnings: readonly ScanWarning[], unreadableFiles: readonly ScanWarning[]): FolderSummary {
    this.warnings = [...scanWarnings, ...unreadableFiles];
    this.tell(unreadableFiles);
    const unreadable = this.warnings.filter((w) => w.unreadable).map((w) => w.path);
    return unreadable.length > 0 ? { ...summary, unreadable } : summary;
  }

  async chunkHashes(path: RelPath): Promise<Uint8Array[]> {
    const { rel, abs } = await this.resolve(path);
    const st = await lstatFile(rel, abs);
    const seen = statKey(st);
    const known = this.lookup(rel, seen);
    if (known !== undefined) {
      if (known.hashes !== undefined) return known.hashes;
      const hit = this.index?.get(rel, seen);
      // Same root guards against another process having rewritten the row since it was loaded.
      if (hit !== undefined && Buffer.compare(hit.root, known.root) === 0) {
        known.hashes = hit.hashes;
        return hit.hashes;
      }
    }
    const read = await this.hashNow(rel, abs, seen);
    if (read === undefined) throw new NotFoundError(rel);
    if (read.stable && this.index !== undefined) {
      this.index.put({ path: rel, mode: st.mode & 0o777, ...read.entry });
      this.indexed?.add(rel);
    }
    return read.entry.hashes;
  }

  /**
   * Records the hashes of a file this process just wrote and verified at `abs`, so the next
   * summary does not read it back. Only if it still has the size and mtime it was written with:
   * anything else means someone changed it since, and a scan must hash it.
   */
  async remember(path: RelPath, abs: string, written: Pick<FileSummary, 'size' | 'mtimeMs'>, hashes: readonly Uint8Array[]): Promise<void> {
    const st = lstatOrNull(abs);
    if (st === null || !st.isFile() || st.size !== written.size || Math.floor(st.mtimeMs) !== written.mtimeMs) return;
    const entry: Hashed = { ...statKey(st), hashes: [...hashes], root: merkleRoot(hashes) };
    this.cache.set(path, entry);
    if (this.index !== undefined) this.remembered.push({ path, mode: st.mode & 0o777, ...entry });
  }

  /**
   * One path as it is now, without scanning the folder: where it lives (proven inside the root,
   * not internal, not ignored) and, if a regular file is there, its summary. What a push checks
   * before it may replace or delete a file.
   */
  async locate(path: RelPath): Promise<{ rel: RelPath; abs: string; entry: FileSummary | undefined }> {
    const { rel, abs } = await this.resolve(path);
    let hashes: Uint8Array[];
    try {
      hashes = await this.chunkHashes(rel);
    } catch (err) {
      if (err instanceof NotFoundError) return { rel, abs, entry: undefined };
      throw err;
    }
    const st = await lstatFile(rel, abs);
    const entry: FileSummary = { path: rel, type: 'file', size: st.size, mtimeMs: Math.floor(st.mtimeMs), mode: st.mode & 0o777, root: merkleRoot(hashes) };
    return { rel, abs, entry };
  }

  /**
   * Reads the requested chunks in order with positional reads on one handle, into one buffer:
   * the next read waits for onChunk, which is the backpressure the protocol relies on, and after
   * that the chunk is no longer the caller's (see RemoteFolder.fetchChunks).
   */
  async fetchChunks(
    path: RelPath,
    indices: number[],
    onChunk: (index: number, data: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const { rel, abs } = await this.resolve(path);
    // Elsewhere O_NOFOLLOW and the fstat below already refuse symlinks and non-files.
    if (process.platform === 'win32') await lstatFile(rel, abs);
    const known = this.cache.get(rel);
    const io = known === undefined ? pooledIo : ioFor(known.size);
    const fd = await openForChunks(io, rel, abs);
    try {
      const st = await io.fstat(fd);
      if (!st.isFile()) throw new NotRegularFileError(rel, 'not a regular file');
      const count = chunkCount(st.size);
      // Check every index before sending anything, so a bad request fails whole, not halfway.
      for (const index of indices) {
        if (!Number.isInteger(index) || index < 0 || index >= count) throw new ChunkOutOfRangeError(rel, index, count);
      }
      const reused = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, st.size));
      for (const index of indices) {
        const len = chunkLength(st.size, index);
        const buf = reused.subarray(0, len);
        let filled = 0;
        while (filled < len) {
          const bytesRead = await io.read(fd, buf, filled, len - filled, index * CHUNK_SIZE + filled);
          if (bytesRead === 0) throw new FileChangedError(rel, `shrank while chunk ${index} was read`);
          filled += bytesRead;
        }
        await onChunk(index, buf);
      }
    } finally {
      await io.close(fd);
    }
  }

  /** Validates a requested path and maps it to the file on disk, inside the root. */
  private async resolve(path: RelPath): Promise<{ rel: RelPath; abs: string }> {
    const rel = validateRelPath(path);
    if (isInternalPath(rel)) throw new InternalPathError(rel);
    if (this.only !== undefined && rel !== this.only) throw new OutsideScopeError(rel, this.only);
    // A request may come before any summary loaded the rules; it must not slip past them.
    if (this.readIgnoreFile && this.ignore === undefined) this.ignore = await loadIgnoreRules(this.rootAbs);
    if (this.isIgnored(rel)) throw new IgnoredPathError(rel);
    const abs = await this.paths.resolve(rel);
    const disk = this.diskPaths.get(rel);
    return { rel, abs: disk === undefined ? abs : join(this.rootAbs, ...disk.split('/')) };
  }

  /**
   * Whether the ignore rules exclude `rel`. A file inside an ignored directory is ignored too,
   * the way the scan never descends into one, so every ancestor is asked as a directory.
   */
  private isIgnored(rel: RelPath): boolean {
    const ignore = this.ignore;
    if (ignore === undefined) return false;
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) {
      if (ignore(rel.slice(0, i), true)) return true;
    }
    return ignore(rel, false);
  }

  /** Seeds the memory cache from the whole index at once: far cheaper than one query per file. */
  private loadIndex(index: IndexCache): void {
    const all = index.loadAllRoots();
    for (const [path, e] of all) {
      if (!this.cache.has(path)) this.cache.set(path, { size: e.size, mtimeMs: e.mtimeMs, ctimeMs: e.ctimeMs, ino: e.ino, hashes: undefined, root: e.root });
    }
    this.indexed = new Set(all.keys());
  }

  /** Hashes of a file that still looks exactly as when it was hashed: memory first, then the index. */
  private lookup(rel: RelPath, seen: Identity): CachedHashes | undefined {
    const cached = this.cache.get(rel);
    if (cached !== undefined && sameFile(cached, seen)) return cached;
    const hit = this.index?.get(rel, seen);
    if (hit === undefined) return undefined;
    const entry: CachedHashes = { size: seen.size, mtimeMs: seen.mtimeMs, ctimeMs: seen.ctimeMs, ino: seen.ino, ...hit };
    this.cache.set(rel, entry);
    return entry;
  }

  /** Reads and hashes a file now (see settle for what is cached). Undefined if the file is gone. */
  private async hashNow(rel: RelPath, abs: string, seen: Identity): Promise<HashedNow | undefined> {
    let read: { size: number; hashes: Uint8Array[] };
    try {
      read = await hashFileChunks(abs, seen.size);
    } catch (err) {
      // Gone, or no longer a regular file (a symlink or FIFO swapped in): not there for this pass.
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ELOOP' || err instanceof NotRegularFileError) return undefined;
      throw err;
    }
    const st = lstatOrNull(abs);
    const after = st === null ? undefined : { isFile: st.isFile(), size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
    return this.settle(rel, seen, read, after);
  }

  /**
   * The files of `small` (indices into `scanned`) read and hashed in batches on the thread pool
   * (SMALL_HASH_BYTES); each one the batch could not do (an error, a file grown or replaced) goes
   * to `one`, which reads it file by file and knows what each failure means.
   */
  private async hashSmallNow(
    hasher: SmallFileHasher,
    scanned: readonly ScannedEntryOnDisk[],
    small: readonly number[],
    done: (i: number, read: HashedNow) => void,
    one: (i: number) => Promise<void>,
  ): Promise<void> {
    const batches: number[][] = [];
    for (let from = 0; from < small.length; from += SMALL_HASH_BATCH) batches.push(small.slice(from, from + SMALL_HASH_BATCH));
    await forEachLimit(batches, SMALL_HASH_BATCHES, async (batch) => {
      const results = await hasher(
        batch.map((i) => join(this.rootAbs, scanned[i]!.diskPath)),
        SMALL_HASH_BYTES,
      );
      const left: number[] = [];
      batch.forEach((i, k) => {
        const r = results[k];
        if (r === undefined) {
          left.push(i);
          return;
        }
        countHashedFile(r.size);
        done(i, this.settle(scanned[i]!.path, scanned[i]!, { size: r.size, hashes: r.digest === undefined ? [] : [r.digest] }, r.after));
      });
      for (const i of left) await one(i);
    });
  }

  /**
   * A file's hashes as read, with what lstat said of it right after (`after`, undefined if it was
   * gone). Only a file that was stable across the whole read is cached (`stable`); one that
   * changed meanwhile is reported as read (its root will not match its chunk hashes later, and
   * the client retries).
   */
  private settle(rel: RelPath, seen: Identity, read: { size: number; hashes: Uint8Array[] }, after: StatAfterRead | undefined): HashedNow {
    const entry: Hashed = {
      size: read.size,
      mtimeMs: after === undefined ? seen.mtimeMs : Math.floor(after.mtimeMs),
      ctimeMs: after?.ctimeMs ?? seen.ctimeMs,
      ino: after?.ino ?? seen.ino,
      hashes: read.hashes,
      root: merkleRoot(read.hashes),
    };
    const stable = after !== undefined && after.isFile && sameFile(entry, seen) && after.size === read.size;
    if (stable) this.cache.set(rel, entry);
    else this.cache.delete(rel);
    return { entry, stable };
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function sameFile(a: Identity, b: Identity): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

function statKey(st: Stats): Identity {
  return { size: st.size, mtimeMs: Math.floor(st.mtimeMs), ctimeMs: st.ctimeMs, ino: st.ino };
}

async function lstatFile(rel: RelPath, abs: string): Promise<Stats> {
  const st = lstatOrNull(abs);
  if (st === null) throw new NotFoundError(rel);
  if (st.isSymbolicLink()) throw new NotRegularFileError(rel, 'a symlink');
  if (!st.isFile()) throw new NotRegularFileError(rel, st.isDirectory() ? 'a directory' : 'a special file');
  return st;
}

/** Opens a file to serve chunks from; a missing file or a symlink becomes the engine's error. */
async function openForChunks(io: FdIo, rel: RelPath, abs: string): Promise<number> {
  try {
    return await io.open(abs, OPEN_SCANNED_FILE);
  } catch (err) {
    throw openError(rel, err);
  }
}

function openError(rel: RelPath, err: unknown): unknown {
  const code = errCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(rel);
  if (code === 'ELOOP') return new NotRegularFileError(rel, 'a symlink');
  return err;
}
