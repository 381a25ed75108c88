import { mkdir } from 'node:fs/promises';
import pLimit from 'p-limit';
import { fsyncDirectory } from '../fs/atomic-file.js';
import type { FileFailure, PassSummary } from '@leafsync/shared';
import type { FileSummary, FolderSummary, RelPath, RemoteFolder } from './types.js';
import { chunkCount } from './chunking.js';
import { bytesEqual, folderRoot } from './merkle.js';
import { InsideRoot, validateRelPath } from './safe-path.js';
import { isInternalPath } from './internal-names.js';
import { tidyStagingDir } from './staging-file.js';
import { LocalFolderSource, type FolderScan } from './folder-source.js';
import type { TransferContext } from './file-transfer.js';
import { TypeConflictError, syncFileFrom } from './sync-file.js';
import type { RateLimiter } from './rate-limiter.js';
import { IGNORE_FILE, loadIgnoreRules } from './ignore-rules.js';
import { planMirror } from './mirror-plan.js';
import { localUnreadable, remoteUnreadable } from './unreadable.js';
import { moveToTrash, removeEmptyDirs, trashStamp } from './trash.js';
import { InternalPathError, NotFoundError } from './errors.js';

export { ChunkHashMismatchError } from './file-transfer.js';
export { RemoteChangedError, TypeConflictError } from './sync-file.js';

/** What a pass remembers for the next one, so an unchanged folder costs one round trip. */
export interface PullState {
  /** The server's folder root after the last pass that left nothing failed. */
  remoteRoot?: Uint8Array;
  /** The local folder root right after that pass. */
  localRoot?: Uint8Array;
  /**
   * The digest of the local scan `localRoot` was built from (FolderScan.digest): a scan with the
   * same digest has the same root, so an unchanged folder needs no index and no hashing.
   */
  localDigest?: Uint8Array;
  files?: number;
}

export interface PullOptions {
  /** Sync just this file of the remote folder. */
  only?: RelPath;
  /** Chunk requests in flight at once, across all files (1–64). */
  streams?: number;
  /**
   * The local folder's read side. Passing the same instance to every pass keeps its hash cache,
   * so files that did not change are not re-hashed.
   */
  local?: LocalFolderSource;
  /**
   * `scanLocal(local)` already under way, to overlap the local scan with connecting. It must be
   * recent: a pass that plans from an old listing leaves what changed since for the next pass.
   */
  localScan?: Promise<FolderScan | undefined>;
  /**
   * `local.quickDigest()` already under way. If it is the digest the last pass left
   * (`state.localDigest`) the pass does not wait for `localScan`; given alone, `localScan` then
   * starts only if needed.
   */
  quickDigest?: Promise<Uint8Array | undefined>;
  limiter?: RateLimiter;
  /** Move local-only files to the trash so the folders end identical. */
  mirror?: boolean;
  /** Update large files with few changed chunks in place (see in-place-patch). */
  inPlace?: boolean;
  /**
   * Pull only the files this accepts, given the remote version and the local one as this pass
   * scanned it (two-way sync pulls just what it planned, and only if the local file is still
   * the one it planned with).
   */
  select?: (remote: FileSummary, local: FileSummary | undefined) => boolean;
  /** Carried from pass to pass by the caller; updated in place. */
  state?: PullState;
  signal?: AbortSignal;
  onEvent?: (event: PullEvent) => void;
}

export type PullEvent =
  | { kind: 'summary'; files: number; bytes: number }
  | { kind: 'file-start'; path: RelPath; size: number; chunks: number }
  /** The local copy already matches (content; metadata was fixed up if needed): nothing to fetch. */
  | { kind: 'file-unchanged'; path: RelPath; size: number }
  | { kind: 'chunk'; path: RelPath; bytes: number }
  | { kind: 'file-done'; path: RelPath }
  | { kind: 'file-error'; path: RelPath; message: string };

const DEFAULT_STREAMS = 8;
/**
 * Files in flight at once. Small files are latency-bound (a request, a staging file, an fsync
 * and a rename each), so many overlap; at most this many one-chunk buffers (≤ 1 MiB) are held.
 */
const FILES_IN_FLIGHT = 64;

/**
 * One pull pass: make `localRoot` hold what the remote folder holds, fetching only chunks that
 * differ. Each file lands through a verified staging file and an atomic rename, so any failure
 * leaves that file's previous version in place; failures are reported per file, not thrown.
 */
export async function pullPass(remote: RemoteFolder, localRoot: string, opts: PullOptions = {}): Promise<PassSummary> {
  const started = performance.now();
  const local = opts.local ?? new LocalFolderSource(localRoot, { readIgnoreFile: true, ...(opts.only !== undefined && { only: opts.only }) });
  const state = opts.state ?? {};
  const emit = opts.onEvent ?? (() => {});
  const result: PassSummary = { files: 0, filesChanged: 0, chunksFetched: 0, bytesFetched: 0, elapsedMs: 0, failures: [], filesTrashed: 0 };
  const finish = () => {
    result.elapsedMs = Math.round(performance.now() - started);
    return result;
  };
  const fail = (path: RelPath, err: unknown) => {
    const failure = toFailure(path, err);
    result.failures.push(failure);
    emit({ kind: 'file-error', path, message: failure.message });
  };

  // Both sides look at once: the server answers "unchanged" for the root we last synced to,
  // while we check that nothing changed here either, from the folder's digest alone where it
  // allows (quickScanDigest), else by a scan. Only if ours did change do we ask for the listing.
  const [firstLook, quick] = await Promise.all([
    lookHere(local, state, opts),
    remote.summary(state.remoteRoot ? { knownRoot: state.remoteRoot } : {}),
  ]);
  const sameScan = firstLook === AS_LEFT || (state.localDigest !== undefined && firstLook !== undefined && bytesEqual(state.localDigest, firstLook.digest));
  if (quick.unchanged && sameScan) {
    result.files = state.files ?? 0;
    return finish();
  }
  const localScan = firstLook === AS_LEFT ? await (opts.localScan ?? scanLocal(local)) : firstLook;
  const localBefore = await summaryOfScan(local, localScan);
  const unchangedHere = state.localRoot !== undefined && bytesEqual(state.localRoot, localBefore.root);
  if (quick.unchanged && unchangedHere) {
    // Same content under new identities (a chmod and back, a copy over itself): remember them.
    setLocalDigest(state, localScan);
    result.files = state.files ?? 0;
    return finish();
  }
  const summary = quick.unchanged ? await remote.summary() : quick;

  const entries = acceptedEntries(summary.entries, opts.only, fail);
  // Reported as failures: the folders cannot be called identical while part of one is unread.
  const unreadable = remoteUnreadable(summary.unreadable, fail);
  // What this side could not read is not written over: it is not known to be absent or older.
  const underUnreadableHere = localUnreadable(localBefore.unreadable, fail);
  const files = entries.filter((e) => e.type === 'file');
  result.files = files.length;
  emit({ kind: 'summary', files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) });
  const localEntries = new Map(localBefore.entries.map((e) => [e.path, e]));
  const paths = new InsideRoot(localRoot);

  for (const dir of entries.filter((e) => e.type === 'dir' && !underUnreadableHere(e.path))) {
    try {
      const existing = localEntries.get(dir.path);
      if (existing && existing.type !== 'dir') throw new TypeConflictError(dir.path, 'folder', 'file');
      await mkdir(await paths.resolve(dir.path), { recursive: true });
    } catch (err) {
      fail(dir.path, err);
    }
  }

  const streams = clampStreams(opts.streams);
  const touchedDirs = new Set<string>();
  const ctx = (path: RelPath): TransferContext => ({
    remote,
    localRoot,
    requests,
    streams,
    ...(opts.limiter && { limiter: opts.limiter }),
    ...(opts.signal && { signal: opts.signal }),
    onChunk: (bytes) => emit({ kind: 'chunk', path, bytes }),
    onTransferStart: (file) => emit({ kind: 'file-start', path, size: file.size, chunks: chunkCount(file.size) }),
    touchedDirs,
    ...(opts.inPlace && { inPlace: true }),
  });
  const requests = pLimit(streams);
  const fileSlots = pLimit(FILES_IN_FLIGHT);
  const syncFile = async (file: FileSummary) => {
    if (opts.signal?.aborted) return;
    try {
      if (await pullFile(file)) result.filesChanged++;
    } catch (err) {
      if (opts.signal?.aborted) return;
      fail(file.path, err);
    }
  };
  // The rules arrive first, so this pass already judges local files by the server's rules.
  const rulesFile = files.find((f) => f.path === IGNORE_FILE);
  if (rulesFile) await syncFile(rulesFile);
  await Promise.all(files.filter((f) => f !== rulesFile).map((file) => fileSlots(() => syncFile(file))));
  if (opts.mirror && opts.only === undefined && !opts.signal?.aborted) await mirrorDeletes(entries, localBefore.entries);
  // One fsync per folder makes every rename of the pass durable before the pass reports success.
  for (const dir of touchedDirs) await fsyncDirectory(dir);
  await tidyStagingDir(localRoot);
  opts.signal?.throwIfAborted();

  const complete = result.failures.length === 0 && result.mirrorHalted === undefined;
  const after = complete ? await scanLocal(local) : undefined;
  const here = complete ? await summaryOfScan(local, after) : undefined;
  // A file edited here during the pass, after the scan that planned it, would otherwise be
  // remembered as synced and never corrected while the server stays unchanged.
  if (here !== undefined && holdsEvery(here.entries, entries)) {
    state.remoteRoot = summary.root;
    state.localRoot = here.root;
    setLocalDigest(state, after);
    state.files = result.files;
  } else {
    delete state.remoteRoot;
  }
  return finish();

  /** Local-only files go to the trash (never deleted); emptied folders the server lacks go away. */
  async function mirrorDeletes(remote: FileSummary[], localEntries: FileSummary[]): Promise<void> {
    const plan = planMirror(remote, localEntries, { ignore: await loadIgnoreRules(localRoot), unreadable });
    if (plan.halt !== undefined) {
      result.mirrorHalted = plan.halt;
      return;
    }
    const stamp = trashStamp(new Date());
    for (const path of plan.trash) {
      try {
        await moveToTrash(localRoot, path, stamp);
        result.filesTrashed++;
      } catch (err) {
        fail(path, err);
      }
    }
    const keep = new Set(remote.filter((e) => e.type === 'dir').map((e) => e.path));
    await removeEmptyDirs(localRoot, plan.emptyDirCandidates, { keep });
  }

  /** Returns true if the file's content was (re)written. */
  async function pullFile(file: FileSummary): Promise<boolean> {
    const dest = await paths.resolve(file.path);
    const existing = localEntries.get(file.path);
    if (underUnreadableHere(file.path) || (opts.select && !opts.select(file, existing))) return false;
    const stats = await syncFileFrom(remote, local, ctx(file.path), file, dest, existing);
    if (stats === undefined) {
      emit({ kind: 'file-unchanged', path: file.path, size: file.size });
      return false;
    }
    result.chunksFetched += stats.chunksFetched;
    result.bytesFetched += stats.bytesFetched;
    emit({ kind: 'file-done', path: file.path });
    return true;
  }
}

/**
 * The entries of a remote summary that may be synced here: paths normalised and proven safe,
 * internal names refused (each refusal reported through `fail`), and with `only`, just that one.
 */
export function acceptedEntries(entries: readonly FileSummary[], only: RelPath | undefined, fail: (path: RelPath, err: unknown) => void): FileSummary[] {
  const accepted: FileSummary[] = [];
  for (const entry of entries) {
    try {
      const path = validateRelPath(entry.path);
      if (isInternalPath(path)) throw new InternalPathError(path);
      if (only !== undefined && path !== only) continue;
      accepted.push({ ...entry, path });
    } catch (err) {
      fail(entry.path, err);
    }
  }
  return accepted;
}

/** The local side as a summary; a single-file session whose file does not exist yet is an empty folder. */
export async function localSummary(local: LocalFolderSource): Promise<FolderSummary> {
  return summaryOfScan(local, await scanLocal(local));
}

/** The local listing, or undefined when nothing is there yet (a new folder, a file not yet pulled). */
export async function scanLocal(local: LocalFolderSource, signal?: AbortSignal): Promise<FolderScan | undefined> {
  try {
    return await local.scan(signal && { signal });
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** A local folder whose digest is the one the last pass left: unchanged, and not scanned yet. */
const AS_LEFT = Symbol('as the last pass left it');

/**
 * The local scan, unless the folder's quick digest is the last pass's. An early scan given
 * without a digest is used as it is; given with one, it is used only if the digests differ.
 */
async function lookHere(local: LocalFolderSource, state: PullState, early: Pick<PullOptions, 'localScan' | 'quickDigest'>): Promise<FolderScan | undefined | typeof AS_LEFT> {
  if (early.localScan !== undefined && early.quickDigest === undefined) return early.localScan;
  if (state.localDigest !== undefined) {
    const digest = await (early.quickDigest ?? local.quickDigest());
    if (digest !== undefined && bytesEqual(digest, state.localDigest)) return AS_LEFT;
  }
  return early.localScan ?? scanLocal(local);
}

function summaryOfScan(local: LocalFolderSource, scan: FolderScan | undefined): Promise<FolderSummary> {
  return scan === undefined ? Promise.resolve({ root: folderRoot([]), entries: [] }) : local.summaryOf(scan);
}

/** Whether `local` has every entry of `remote` with the same content (files) or at all (folders). */
function holdsEvery(local: readonly FileSummary[], remote: readonly FileSummary[]): boolean {
  const here = new Map(local.map((e) => [e.path, e]));
  return remote.every((r) => {
    const l = here.get(r.path);
    return l !== undefined && l.type === r.type && (r.type === 'dir' || (l.size === r.size && bytesEqual(l.root, r.root)));
  });
}

/** Nothing there has no digest: a missing folder always takes the full comparison. */
function setLocalDigest(state: PullState, scan: FolderScan | undefined): void {
  if (scan === undefined) delete state.localDigest;
  else state.localDigest = scan.digest;
}

function clampStreams(streams: number | undefined): number {
  return Math.min(64, Math.max(1, Math.floor(streams ?? DEFAULT_STREAMS)));
}

export function toFailure(path: RelPath, err: unknown): FileFailure {
  const e = err as { code?: unknown; message?: unknown };
  return {
    path,
    code: typeof e.code === 'string' ? e.code : 'ERROR',
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}
