import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errCode, lstatOrNull } from '../fs/fs-errors.js';
import { readExactly, writeAll } from '../fs/positional-io.js';
import { CHUNK_SIZE, chunkCount, chunkLength, hashChunk } from './chunking.js';
import { chunksToFetch } from './chunk-diff.js';
import { assertDestUnchanged, type DestBefore } from './dest-guard.js';
import { EngineError, LocalChangedError } from './errors.js';
import { bytesEqual } from './merkle.js';
import { InsideRoot } from './safe-path.js';
import { STAGING_DIR, utimesSeconds, type StagingFile } from './staging-file.js';
import type { RelPath } from './types.js';
import { UNDO_SUFFIX, readUndoJournal, removeUndoJournal, restoreFromJournal, writeUndoJournal, type UndoJournal } from './undo-journal.js';

/**
 * In-place updates (`--in-place`): the chunks that changed are fetched into a sparse staging
 * file, then written over the local file itself, instead of copying the whole file and renaming
 * the copy over it. For a large file with a small change this skips copying, re-hashing and
 * flushing the whole file (bench W3). What it gives up: while the chunks are written (a few
 * milliseconds for a few MiB), a reader of the file may see some new chunks next to old ones.
 * What it keeps: an undo journal of the old chunks is on disk before the first write, so a failure
 * puts the old file back at once, and a crash is undone by the next leafsync process that looks
 * at the folder (recoverInterruptedPatches); either way the file ends old or new, never mixed.
 */

/**
 * Chunks to overwrite when updating `local` to `remote` in place, or undefined when a whole copy
 * is the better way: more than half of the new file would change, or the journal would hold more
 * than half of the old one (a copy costs about as much then), or the file is a single chunk.
 */
export function inPlaceChunks(remote: readonly Uint8Array[], local: readonly Uint8Array[]): number[] | undefined {
  if (remote.length <= 1) return undefined;
  const changed = chunksToFetch(remote, local);
  // What the journal holds: the old bytes of the chunks rewritten, and of those a shrink cuts off.
  const journalled = changed.filter((i) => i < local.length).length + Math.max(0, local.length - remote.length);
  return journalled * 2 <= Math.max(local.length, remote.length) && changed.length * 2 <= remote.length ? changed : undefined;
}

/**
 * The chunks of the old file an update must journal: those it overwrites and those a shrink cuts
 * off (the truncate loses them as surely as a write would). Ascending.
 */
export function chunksToJournal(written: readonly number[], oldSize: number, newSize: number): number[] {
  const oldCount = chunkCount(oldSize);
  const cut = Array.from({ length: Math.max(0, oldCount - chunkCount(newSize)) }, (_, k) => chunkCount(newSize) + k);
  return [...new Set([...written.filter((i) => i < oldCount), ...cut])].sort((a, b) => a - b);
}

/**
 * Whether the file at `destAbs` may be updated in place: a regular file with one name (a second
 * hard link would see the change too, where a rename leaves it the old version) that its owner
 * may write (a read-only file is replaced, never written).
 */
export function canUpdateInPlace(st: Stats | null): boolean {
  return st !== null && st.isFile() && st.nlink === 1 && (st.mode & 0o200) !== 0;
}

/** The undo journal of `rel`'s in-place update, beside its staging file. */
export function undoJournalPathFor(rootAbs: string, rel: RelPath): string {
  return join(rootAbs, STAGING_DIR, `${createHash('sha256').update(rel, 'utf8').digest('hex')}${UNDO_SUFFIX}`);
}

/** Journals of updates this process is applying right now: never recovered from under them. */
const inFlight = new Set<string>();

/** An in-place update failed and its undo also failed: the journal stays for the next process. */
export class InPlaceUndoError extends EngineError {
  readonly code = 'IN_PLACE_UNDO_FAILED';
  constructor(path: string, cause: unknown, undoError: unknown) {
    super(
      path,
      `${path}: an in-place update failed (${message(cause)}) and putting the old version back failed too (${message(undoError)}). ` +
        'Its undo journal is kept in .leafsync_tmp; the next leafsync run on this folder restores the old version.',
      { cause },
    );
  }
}

export interface InPlaceUpdate {
  rel: RelPath;
  destAbs: string;
  journalPath: string;
  /** What the pass scanned at destAbs; if it changed since, nothing is written. */
  destBefore: DestBefore;
  /** Chunk indices to overwrite, ascending, each held verified in `staging`. */
  chunks: readonly number[];
  /** The new version. */
  size: number;
  mtimeMs: number;
  mode: number;
  hashes: readonly Uint8Array[];
}

/**
 * Writes the staged chunks over the destination: journal the old chunks (durably), write the new
 * ones, set the size and metadata, re-read every written chunk against its hash, fsync, drop the
 * journal. Any failure after the journal puts the old version back before the error propagates.
 */
export async function applyInPlace(u: InPlaceUpdate, staging: StagingFile): Promise<void> {
  await assertDestUnchanged(u.rel, u.destAbs, u.destBefore);
  const target = await open(u.destAbs, constants.O_RDWR | constants.O_NOFOLLOW);
  let journal: UndoJournal | undefined;
  try {
    const st = await target.stat();
    const before = u.destBefore;
    if (!canUpdateInPlace(st) || before === undefined || st.size !== before.size || Math.floor(st.mtimeMs) !== before.mtimeMs) {
      throw new LocalChangedError(u.rel);
    }
    inFlight.add(u.journalPath);
    journal = await writeUndoJournal(
      u.journalPath,
      { path: u.rel, dev: st.dev, ino: st.ino, pid: process.pid, oldSize: st.size, oldMtimeMs: st.mtimeMs, oldMode: st.mode & 0o7777, chunks: chunksToJournal(u.chunks, st.size, u.size) },
      target,
    );
    try {
      await writeNewVersion(u, staging, target);
    } catch (err) {
      try {
        await restoreFromJournal(journal, target);
      } catch (undoError) {
        journal = undefined; // kept for the next process
        throw new InPlaceUndoError(u.rel, err, undoError);
      }
      throw err;
    }
  } finally {
    await target.close();
    if (journal) await removeUndoJournal(journal.journalPath);
    inFlight.delete(u.journalPath);
  }
}

async function writeNewVersion(u: InPlaceUpdate, staging: StagingFile, target: FileHandle): Promise<void> {
  for (const i of u.chunks) {
    const data = await staging.readChunk(i);
    if (!bytesEqual(hashChunk(data), u.hashes[i]!)) throw new StagedChunkError(u.rel, i);
    await writeAll(target, data, i * CHUNK_SIZE);
  }
  await target.truncate(u.size);
  // The bytes on disk are the proof, as with a staging file's Merkle check.
  const buf = Buffer.allocUnsafe(CHUNK_SIZE);
  for (const i of u.chunks) {
    const written = await readExactly(target, buf, chunkLength(u.size, i), i * CHUNK_SIZE);
    if (!bytesEqual(hashChunk(written), u.hashes[i]!)) throw new WrittenChunkError(u.rel, i);
  }
  await target.chmod(u.mode & 0o777);
  const mtime = utimesSeconds(u.mtimeMs);
  await target.utimes(mtime, mtime);
  await target.sync();
}

/** A staged chunk no longer matches the hash it was verified against on arrival. */
export class StagedChunkError extends EngineError {
  readonly code = 'STAGED_CHUNK_CHANGED';
  constructor(path: string, index: number) {
    super(path, `chunk ${index} of ${path} changed in .leafsync_tmp after it was verified; nothing was changed and it will be fetched again`);
  }
}

/** A chunk read back after the in-place write does not match: the old version was put back. */
export class WrittenChunkError extends EngineError {
  readonly code = 'WRITTEN_CHUNK_MISMATCH';
  constructor(path: string, index: number) {
    super(path, `chunk ${index} of ${path} did not read back as written (a disk or filesystem fault?); the old version was put back`);
  }
}

/**
 * Undoes in-place updates that a killed process left half done: every journal in the folder's
 * staging area whose process is gone is played back onto its file, which then holds its old
 * version again. Returns the paths restored. A journal torn while it was written is dropped (its
 * update never began), as is one whose file was replaced or deleted since.
 */
export async function recoverInterruptedPatches(rootAbs: string): Promise<RelPath[]> {
  let names: string[];
  try {
    names = await readdir(join(rootAbs, STAGING_DIR));
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return [];
    throw err;
  }
  const restored: RelPath[] = [];
  for (const name of names) {
    if (!name.endsWith(UNDO_SUFFIX)) continue;
    const journalPath = join(rootAbs, STAGING_DIR, name);
    if (inFlight.has(journalPath)) continue;
    const journal = await readUndoJournal(journalPath).catch((err: unknown) => (errCode(err) === 'ENOENT' ? null : Promise.reject(err)));
    if (journal === null) continue;
    if (journal === undefined) {
      await removeUndoJournal(journalPath);
      continue;
    }
    if (journal.header.pid !== process.pid && processIsAlive(journal.header.pid)) continue;
    if (await restoreIfSameFile(rootAbs, journal)) restored.push(journal.header.path);
    await removeUndoJournal(journalPath);
  }
  return restored;
}

async function restoreIfSameFile(rootAbs: string, journal: UndoJournal): Promise<boolean> {
  const { header: h } = journal;
  // The journal sits in the user's folder: its path is checked like one from the wire.
  const abs = await new InsideRoot(rootAbs).resolve(h.path).catch(() => undefined);
  if (abs === undefined) return false; // an unsafe path was never written by us
  const st = lstatOrNull(abs);
  if (st === null || !st.isFile() || st.dev !== h.dev || st.ino !== h.ino) return false;
  const target = await open(abs, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    await restoreFromJournal(journal, target);
  } finally {
    await target.close();
  }
  return true;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === 'EPERM';
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
