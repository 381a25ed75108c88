import { constants } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { STAGING_DIR, tidyStagingDir } from './staging-file.js';
import { loadNativeAddon } from '../util/native-addon.js';

/**
 * Another leafsync session (in this process or another) is writing into the folder. Two would
 * share staging files, whose paths are per file so that an interrupted transfer finds its own
 * again, and undo each other's work.
 */
export class FolderBusyError extends Error {
  readonly code = 'FOLDER_BUSY';
  constructor(readonly folder: string) {
    super(`another leafsync session is already writing into ${folder}; stop it first (connect, watch and serve --allow-push each need a folder of their own)`);
  }
}

/**
 * The folder is writable but its staging folder is not (made by another user, or its mode was
 * changed): no file could be staged, so the session does not start.
 */
export class StagingNotWritableError extends Error {
  readonly code = 'STAGING_NOT_WRITABLE';
  constructor(
    readonly folder: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(
      `cannot write into ${join(folder, STAGING_DIR)} (${cause.code}); leafsync stages every file there before putting it in place ` +
        '(and keeps the undo journals of in-place updates there): give this user write access to it',
      { cause },
    );
  }
}

export interface FolderWriteLock {
  release(): Promise<void>;
}

/** Folders whose write lock this process holds (resolved paths). */
const heldHere = new Set<string>();

/**
 * Whether this process holds `folder`'s write lock, so no other leafsync session writes into it.
 * False where file locks are not available (the native addon is Linux-only): then nothing is
 * ruled out, and the engine keeps re-reading what it staged before publishing it.
 */
export function holdsWriteLock(folder: string): boolean {
  return heldHere.has(resolve(folder));
}

interface LockAddon {
  tryLockExclusive(fd: number): boolean;
}

const loadAddon = (): LockAddon | undefined => loadNativeAddon<LockAddon>('fs_lock');

/** Whether this installation can take folder locks (the suite insists on it where the addon should build). */
export function folderLocksAvailable(): boolean {
  return loadAddon() !== undefined;
}

const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);
const isNotWritable = (err: unknown): boolean => NOT_WRITABLE.has((err as NodeJS.ErrnoException).code ?? '');

const UNLOCKED: FolderWriteLock = { release: async () => {} };

/**
 * Claims `folder` for writing until release(): a flock on a file in its staging folder, which
 * the kernel drops when this process ends however it ends, so a session restarted after a crash
 * is never kept out. Throws FolderBusyError if another session holds it.
 */
export async function lockFolderForWriting(folder: string): Promise<FolderWriteLock> {
  const native = loadAddon();
  if (!native) return UNLOCKED;
  const path = join(folder, STAGING_DIR, 'writer.lock');
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    // A folder this process may not write into needs no guarding from it: a pass with nothing to
    // change still runs (and checks what it reads back), and any write fails on its own file.
    if (isNotWritable(err)) return UNLOCKED;
    throw err;
  }
  for (;;) {
    const file = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600).catch((err: NodeJS.ErrnoException) => {
      throw isNotWritable(err) ? new StagingNotWritableError(folder, err) : err;
    });
    let held = false;
    try {
      if (!native.tryLockExclusive(file.fd)) throw new FolderBusyError(folder);
      // The holder before us unlinks the file as it lets go: if that happened between our open
      // and our lock, we hold a file nobody else will ever open. Take the one now at the path.
      const [mine, current] = await Promise.all([file.stat(), stat(path).catch(() => undefined)]);
      held = current !== undefined && current.ino === mine.ino && current.dev === mine.dev;
    } finally {
      if (!held) await file.close();
    }
    if (held) {
      const key = resolve(folder);
      heldHere.add(key);
      return {
        release: async () => {
          heldHere.delete(key);
          // Unlinked while still locked, so whoever opens the path next gets a fresh file.
          await unlink(path).catch(() => {});
          await file.close();
          // The session is over whatever this says; a staging folder left here is tidied next pass.
          await tidyStagingDir(folder).catch(() => {});
        },
      };
    }
  }
}
