import { constants, readdirSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { join, sep } from 'node:path';
import { IgnoredPathError, InternalPathError, NotFoundError, NotRegularFileError, UnsafePathError } from './errors.js';
import type { IgnoreMatcher } from './ignore-rules.js';
import { isInternalName, isInternalPath } from './internal-names.js';
import { resolveInside, validateChildPath, validateRelPath } from './safe-path.js';
import type { RelPath, ScannedEntry } from './types.js';
import { errCode, errMessage, lstatOrNull } from '../fs/fs-errors.js';
import { lstatMany, type LstatTable } from '../fs/lstat-many.js';
import { compareUtf8 } from '../util/utf8-order.js';

/** Something the scan skipped that the user may want to know about (it will not be synced). */
export interface ScanWarning {
  path: RelPath;
  message: string;
  /** A directory whose contents (or a file whose bytes) could not be read: unknown, not absent. */
  unreadable?: true;
}

/**
 * A scanned entry plus where it really lives. `path` is NFC for the wire, but on Linux a file
 * may be stored under an NFD name, so reading it needs the on-disk spelling kept in `diskPath`.
 */
export interface ScannedEntryOnDisk extends ScannedEntry {
  diskPath: string;
  /** Exact status-change time: lets a hash cache notice rewrites that restored the old mtime. */
  ctimeMs: number;
}

export interface ScanOptions {
  /** Scan just this one regular file. */
  only?: RelPath;
  /** Receives each skipped subdirectory or unsyncable name; without it they are dropped silently. */
  onWarning?: (warning: ScanWarning) => void;
  /** Excluded entries are left out and excluded directories are not descended into. */
  ignore?: IgnoreMatcher;
  /** Called with each directory's absolute path just before it is listed (see DirectoryWatch). */
  beforeListing?: (dirAbs: string) => void;
  /** Stops the walk (rejecting with the signal's reason) at its next pause for the event loop. */
  signal?: AbortSignal;
}

/**
 * Lists the folder's regular files and directories, sorted by the UTF-8 bytes of their path.
 * Never follows symlinks (lstat only) and skips specials and internal names. An unreadable
 * subdirectory is skipped with a warning so one bad directory does not stop a whole sync.
 */
export async function scanFolder(rootAbs: string, opts?: ScanOptions): Promise<ScannedEntry[]> {
  return scanFolderOnDisk(rootAbs, opts);
}

/** scanFolder collecting warnings into the result instead of a callback. */
export async function scanFolderWithWarnings(
  rootAbs: string,
  opts?: { only?: RelPath; ignore?: IgnoreMatcher },
): Promise<{ entries: ScannedEntry[]; warnings: ScanWarning[] }> {
  const warnings: ScanWarning[] = [];
  const entries = await scanFolderOnDisk(rootAbs, { ...opts, onWarning: (w) => warnings.push(w) });
  return { entries, warnings };
}

/** scanFolder keeping each entry's on-disk relative path (used by the read side). */
export async function scanFolderOnDisk(rootAbs: string, opts?: ScanOptions): Promise<ScannedEntryOnDisk[]> {
  const ignored = opts?.ignore ?? (() => false);
  if (opts?.only !== undefined) return [await scanOne(rootAbs, opts.only, ignored)];
  const rootStat = lstatOrNull(rootAbs);
  // The root may itself be a symlink the user chose; only what is inside is never followed.
  if (rootStat === null) throw new NotFoundError(rootAbs, 'Folder');
  const w: Walk = {
    base: join(rootAbs, sep),
    out: [],
    warn: opts?.onWarning ?? (() => {}),
    ignored,
    beforeListing: opts?.beforeListing ?? (() => {}),
    sinceYield: 0,
    signal: opts?.signal,
  };
  await walk(w, '', '', true);
  return w.out.sort((a, b) => compareUtf8(a.path, b.path));
}

/** One scan's state, shared by every directory it descends into. */
interface Walk {
  /** The root with a trailing separator: entries' on-disk paths are appended to it as they are. */
  base: string;
  out: ScannedEntryOnDisk[];
  warn: (w: ScanWarning) => void;
  ignored: IgnoreMatcher;
  beforeListing: (dirAbs: string) => void;
  /** lstat calls since the walk last let the event loop run. */
  sinceYield: number;
  signal: AbortSignal | undefined;
}

/** lstat calls between yields to the event loop: a fraction of a millisecond of blocking each. */
const LSTAT_BATCH = 256;

async function walk(w: Walk, relDir: string, diskDir: string, isRoot: boolean): Promise<void> {
  let names: string[];
  const dirAbs = w.base + diskDir;
  w.beforeListing(dirAbs);
  try {
    // Synchronous for the same reason as lstat below. Names only: lstat says what each one is.
    names = readdirSync(dirAbs);
  } catch (err) {
    if (isRoot) throw err;
    if (errCode(err) === 'ENOENT') return; // deleted while we scanned: nothing to sync
    w.warn({ path: relDir, message: `Skipped unreadable directory ${relDir}: ${errMessage(err)}`, unreadable: true });
    return;
  }
  const rels: RelPath[] = [];
  const diskPaths: string[] = [];
  // Two names can only meet under NFC if normalising changed one of them.
  let renormalised = false;
  for (const name of names) {
    const diskPath = diskDir === '' ? name : `${diskDir}/${name}`;
    let rel: RelPath;
    try {
      // Validated as this platform sees it: a name the peer cannot hold is its problem to report.
      rel = validateChildPath(relDir, name);
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      w.warn({ path: diskPath, message: `Skipped ${JSON.stringify(diskPath)}: ${err.reason}` });
      continue;
    }
    const leaf = relDir === '' ? rel : rel.slice(relDir.length + 1);
    if (isInternalName(leaf)) continue;
    if (leaf !== name) renormalised = true;
    rels.push(rel);
    diskPaths.push(diskPath);
  }
  if (renormalised) dropNormalisationTwins(rels, diskPaths, w.warn);
  // lstat is synchronous and batched (10k files: 300-450 ms with promises, 35-49 ms with
  // lstatSync, 14-23 ms with lstatMany); yielding between batches keeps the event loop free for
  // the transport.
  for (let from = 0; from < rels.length; from += LSTAT_BATCH) {
    if (w.sinceYield >= LSTAT_BATCH) {
      w.sinceYield = 0;
      await yieldToEventLoop();
      w.signal?.throwIfAborted();
    }
    const to = Math.min(rels.length, from + LSTAT_BATCH);
    w.sinceYield += to - from;
    // The name's type from readdir can be stale or unknown on some filesystems; lstat is the truth.
    const st = lstatMany(w.base, diskPaths, from, to);
    for (let i = from; i < to; i++) {
      const rel = rels[i]!;
      const diskPath = diskPaths[i]!;
      const kind = st.kind(i - from);
      if (kind === 'file') {
        if (w.ignored(rel, false)) continue;
        w.out.push(entryFrom(rel, diskPath, st, i - from, 'file'));
      } else if (kind === 'dir') {
        // Not descending matters as much as not listing: an ignored node_modules can be huge.
        if (w.ignored(rel, true)) continue;
        w.out.push(entryFrom(rel, diskPath, st, i - from, 'dir'));
        await walk(w, rel, diskPath, false);
      }
      // Symlinks, sockets, FIFOs and devices are never synced.
    }
  }
}

/** Keeps the first of names that are the same after NFC normalisation, in place, warning of the rest. */
function dropNormalisationTwins(rels: RelPath[], diskPaths: string[], warn: (w: ScanWarning) => void): void {
  const seen = new Set<RelPath>();
  let kept = 0;
  for (let i = 0; i < rels.length; i++) {
    const rel = rels[i]!;
    if (seen.has(rel)) {
      warn({ path: rel, message: `Skipped ${JSON.stringify(diskPaths[i])}: another name here is the same after Unicode normalisation` });
      continue;
    }
    seen.add(rel);
    rels[kept] = rel;
    diskPaths[kept++] = diskPaths[i]!;
  }
  rels.length = kept;
  diskPaths.length = kept;
}

async function scanOne(rootAbs: string, only: RelPath, ignored: IgnoreMatcher): Promise<ScannedEntryOnDisk> {
  const rel = validateRelPath(only);
  if (isInternalPath(rel)) throw new InternalPathError(rel);
  // Asking for an excluded file by name must not be a way around the rules.
  if (ignored(rel, false)) throw new IgnoredPathError(rel);
  const abs = await resolveInside(rootAbs, rel);
  const st = lstatMany('', [abs], 0, 1);
  const kind = st.kind(0);
  if (kind === 'missing') throw new NotFoundError(rel);
  if (kind !== 'file') throw new NotRegularFileError(rel, describe(st.mode(0)));
  return entryFrom(rel, rel, st, 0, 'file');
}

function entryFrom(path: RelPath, diskPath: string, st: LstatTable, row: number, type: 'file' | 'dir'): ScannedEntryOnDisk {
  return {
    path,
    type,
    size: type === 'file' ? st.size(row) : 0,
    mtimeMs: Math.floor(st.mtimeMs(row)),
    mode: st.mode(row) & 0o777,
    ino: st.ino(row),
    diskPath,
    ctimeMs: st.ctimeMs(row),
  };
}

function describe(mode: number): string {
  const type = mode & constants.S_IFMT;
  if (type === constants.S_IFDIR) return 'a directory';
  if (type === constants.S_IFLNK) return 'a symlink';
  return 'a special file';
}

