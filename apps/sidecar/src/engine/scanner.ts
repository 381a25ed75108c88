import { readdirSync, type Dirent, type Stats } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { join } from 'node:path';
import { IgnoredPathError, InternalPathError, NotFoundError, NotRegularFileError, UnsafePathError } from './errors.js';
import type { IgnoreMatcher } from './ignore-rules.js';
import { isInternalName, isInternalPath } from './internal-names.js';
import { resolveInside, validateChildPath, validateRelPath } from './safe-path.js';
import type { RelPath, ScannedEntry } from './types.js';
import { errCode, errMessage, lstatOrNull } from '../fs/fs-errors.js';
import { compareUtf8 } from '../util/utf8-order.js';

/** Something the scan skipped that the user may want to know about (it will not be synced). */
export interface ScanWarning {
  path: RelPath;
  message: string;
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
  const warn = opts?.onWarning ?? (() => {});
  const out: ScannedEntryOnDisk[] = [];
  const seen = new Set<string>();
  await walk(rootAbs, '', '', out, seen, warn, ignored, true);
  return out.sort((a, b) => compareUtf8(a.path, b.path));
}

const LSTAT_BATCH = 64;

async function walk(
  rootAbs: string,
  relDir: string,
  diskDir: string,
  out: ScannedEntryOnDisk[],
  seen: Set<string>,
  warn: (w: ScanWarning) => void,
  ignored: IgnoreMatcher,
  isRoot: boolean,
): Promise<void> {
  let dirents: Dirent[];
  try {
    // Synchronous for the same reason as lstat below; the walk yields after every batch.
    dirents = readdirSync(join(rootAbs, diskDir), { withFileTypes: true });
  } catch (err) {
    if (isRoot) throw err;
    if (errCode(err) === 'ENOENT') return; // deleted while we scanned: nothing to sync
    warn({ path: relDir, message: `Skipped unreadable directory ${relDir}: ${errMessage(err)}` });
    return;
  }
  const candidates: Array<{ rel: RelPath; diskPath: string }> = [];
  for (const d of dirents) {
    const diskPath = diskDir === '' ? d.name : `${diskDir}/${d.name}`;
    let rel: RelPath;
    try {
      // Validated as this platform sees it: a name the peer cannot hold is its problem to report.
      rel = validateChildPath(relDir, d.name);
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      warn({ path: diskPath, message: `Skipped ${JSON.stringify(diskPath)}: ${err.reason}` });
      continue;
    }
    if (isInternalName(relDir === '' ? rel : rel.slice(relDir.length + 1))) continue;
    if (seen.has(rel)) {
      warn({ path: rel, message: `Skipped ${JSON.stringify(diskPath)}: another name here is the same after Unicode normalisation` });
      continue;
    }
    seen.add(rel);
    candidates.push({ rel, diskPath });
  }
  // lstatOrNull is synchronous (10k files: 65 ms instead of 300-450 ms with promises); batches
  // keep the event loop free for the transport between them.
  for (let at = 0; at < candidates.length; at += LSTAT_BATCH) {
    await yieldToEventLoop();
    const batch = candidates.slice(at, at + LSTAT_BATCH);
    // The Dirent type can be stale or unknown on some filesystems; lstat is the truth.
    const stats = batch.map((c) => lstatOrNull(join(rootAbs, c.diskPath)));
    for (const [i, { rel, diskPath }] of batch.entries()) {
      const st = stats[i];
      if (!st) continue;
      if (st.isFile()) {
        if (ignored(rel, false)) continue;
        out.push(toEntry(rel, diskPath, st, 'file'));
      } else if (st.isDirectory()) {
        // Not descending matters as much as not listing: an ignored node_modules can be huge.
        if (ignored(rel, true)) continue;
        out.push(toEntry(rel, diskPath, st, 'dir'));
        await walk(rootAbs, rel, diskPath, out, seen, warn, ignored, false);
      }
      // Symlinks, sockets, FIFOs and devices are never synced.
    }
  }
}

async function scanOne(rootAbs: string, only: RelPath, ignored: IgnoreMatcher): Promise<ScannedEntryOnDisk> {
  const rel = validateRelPath(only);
  if (isInternalPath(rel)) throw new InternalPathError(rel);
  // Asking for an excluded file by name must not be a way around the rules.
  if (ignored(rel, false)) throw new IgnoredPathError(rel);
  const abs = await resolveInside(rootAbs, rel);
  const st = lstatOrNull(abs);
  if (st === null) throw new NotFoundError(rel);
  if (!st.isFile()) throw new NotRegularFileError(rel, describe(st));
  return toEntry(rel, rel, st, 'file');
}

function toEntry(path: RelPath, diskPath: string, st: Stats, type: 'file' | 'dir'): ScannedEntryOnDisk {
  return {
    path,
    type,
    size: type === 'file' ? st.size : 0,
    mtimeMs: Math.floor(st.mtimeMs),
    mode: st.mode & 0o777,
    ino: st.ino,
    diskPath,
    ctimeMs: st.ctimeMs,
  };
}

function describe(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'a special file';
}

