import { createHash, type Hash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDirectory } from '../fs/atomic-file.js';
import { errCode } from '../fs/fs-errors.js';
import { readExactly, writeAll } from '../fs/positional-io.js';
import * as z from '../util/schema.js';
import { CHUNK_SIZE, chunkCount, chunkLength } from './chunking.js';
import { utimesSeconds } from './staging-file.js';

/**
 * What an in-place update must be able to put back: the file's old size, times and mode, and the
 * old bytes of every chunk it overwrites. Written and fsynced before the first byte of the file
 * changes, so a crash at any later point can be undone.
 */
export interface UndoHeader {
  /** The folder-relative path of the file being updated. */
  path: string;
  /** Identity of the file updated: a file replaced since is not ours to undo. */
  dev: number;
  ino: number;
  /** The process applying the update; while it runs, nobody else undoes its work. */
  pid: number;
  oldSize: number;
  oldMtimeMs: number;
  oldMode: number;
  /** Chunks whose old bytes follow the header, ascending (all within oldSize). */
  chunks: number[];
}

const header = z.object({
  path: z.string(),
  dev: z.number(),
  ino: z.number(),
  pid: z.number(),
  oldSize: z.number(),
  oldMtimeMs: z.number(),
  oldMode: z.number(),
  chunks: z.array(z.number()),
});

/**
 * Layout: MAGIC, header length (u32 LE), the header as JSON, the old chunks back to back, then
 * SHA-256 of everything before it. A journal whose hash does not match was torn while being
 * written, before its fsync, so the file it describes was never touched.
 */
const MAGIC = Buffer.from('LSUNDO1\n', 'latin1');
const HASH_BYTES = 32;

export const UNDO_SUFFIX = '.undo';

/** An undo journal that was read back whole and verified. */
export interface UndoJournal {
  readonly journalPath: string;
  readonly header: UndoHeader;
  /** Where the old chunks start in the journal file. */
  readonly dataOffset: number;
}

/**
 * Writes the journal for overwriting `header.chunks` of the file open as `target`, reading their
 * old bytes from it, and makes it durable (file and folder fsynced) before returning.
 */
export async function writeUndoJournal(journalPath: string, head: UndoHeader, target: FileHandle): Promise<UndoJournal> {
  const headBytes = Buffer.from(JSON.stringify(head), 'utf8');
  const prefix = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(prefix);
  prefix.writeUInt32LE(headBytes.length, MAGIC.length);
  const hash = createHash('sha256');
  const fh = await open(journalPath, 'w', 0o600);
  try {
    let at = 0;
    const append = async (data: Uint8Array) => {
      hash.update(data);
      await writeAll(fh, data, at);
      at += data.length;
    };
    await append(prefix);
    await append(headBytes);
    const buf = Buffer.allocUnsafe(CHUNK_SIZE);
    for (const i of head.chunks) {
      const old = await readExactly(target, buf, chunkLength(head.oldSize, i), i * CHUNK_SIZE);
      await append(old);
    }
    await writeAll(fh, hash.digest(), at);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(journalPath, { force: true });
    throw err;
  }
  await fh.close();
  await fsyncDirectory(dirname(journalPath));
  return { journalPath, header: head, dataOffset: prefix.length + headBytes.length };
}

/**
 * Reads and verifies a journal. Undefined when it is torn or not a journal at all: such a file
 * was never complete, so the update it was for never started.
 */
export async function readUndoJournal(journalPath: string): Promise<UndoJournal | undefined> {
  const fh = await open(journalPath, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = Buffer.alloc(MAGIC.length + 4);
    if (size < prefix.length + HASH_BYTES) return undefined;
    await readExactly(fh, prefix, prefix.length, 0);
    if (!prefix.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const headLength = prefix.readUInt32LE(MAGIC.length);
    if (prefix.length + headLength + HASH_BYTES > size) return undefined;
    const headBytes = await readExactly(fh, Buffer.alloc(headLength), headLength, prefix.length);
    let parsed: unknown;
    try {
      parsed = JSON.parse(headBytes.toString('utf8'));
    } catch {
      return undefined;
    }
    const checked = header.safeParse(parsed);
    if (!checked.success || !isConsistent(checked.data)) return undefined;
    const head = checked.data;
    const dataOffset = prefix.length + headLength;
    const dataBytes = head.chunks.reduce((n, i) => n + chunkLength(head.oldSize, i), 0);
    if (dataOffset + dataBytes + HASH_BYTES !== size) return undefined;
    const hash = createHash('sha256').update(prefix).update(headBytes);
    await hashRange(fh, hash, dataOffset, dataBytes);
    const stored = await readExactly(fh, Buffer.alloc(HASH_BYTES), HASH_BYTES, dataOffset + dataBytes);
    if (!stored.equals(hash.digest())) return undefined;
    return { journalPath, header: head, dataOffset };
  } finally {
    await fh.close();
  }
}

/**
 * Puts the old version back into `target` (the file the journal describes, open read-write):
 * its old chunks, size, mode and modification time, then fsyncs it. Safe to repeat.
 */
export async function restoreFromJournal(journal: UndoJournal, target: FileHandle): Promise<void> {
  const { header: head } = journal;
  const fh = await open(journal.journalPath, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_SIZE);
    let at = journal.dataOffset;
    for (const i of head.chunks) {
      const length = chunkLength(head.oldSize, i);
      const old = await readExactly(fh, buf, length, at);
      await writeAll(target, old, i * CHUNK_SIZE);
      at += length;
    }
  } finally {
    await fh.close();
  }
  await target.truncate(head.oldSize);
  await target.chmod(head.oldMode & 0o7777);
  const mtime = utimesSeconds(head.oldMtimeMs);
  await target.utimes(mtime, mtime);
  await target.sync();
}

/** Deletes the journal and makes the deletion durable: a journal that came back after a crash would undo a finished update. */
export async function removeUndoJournal(journalPath: string): Promise<void> {
  await rm(journalPath, { force: true });
  await fsyncDirectory(dirname(journalPath)).catch((err: unknown) => {
    if (errCode(err) !== 'ENOENT') throw err;
  });
}

function isConsistent(h: UndoHeader): boolean {
  if (!Number.isSafeInteger(h.oldSize) || h.oldSize < 0) return false;
  const count = chunkCount(h.oldSize);
  return h.chunks.every((i, k) => Number.isInteger(i) && i >= 0 && i < count && (k === 0 || i > h.chunks[k - 1]!));
}

async function hashRange(fh: FileHandle, hash: Hash, from: number, length: number): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK_SIZE);
  for (let done = 0; done < length; ) {
    const n = Math.min(CHUNK_SIZE, length - done);
    hash.update(await readExactly(fh, buf, n, from + done));
    done += n;
  }
}
