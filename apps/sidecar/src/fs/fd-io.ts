import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import {
  close,
  closeSync,
  fchmod,
  fchmodSync,
  fdatasync,
  fstat,
  fstatSync,
  fsync,
  ftruncate,
  ftruncateSync,
  futimes,
  futimesSync,
  open,
  openSync,
  read,
  readSync,
  rename,
  renameSync,
  write,
  writeSync,
} from 'node:fs';

/**
 * Files up to this size are read and written with blocking calls. A promised open, read, write
 * or close each wakes a thread-pool thread and comes back through the event loop, which costs far
 * more than the syscall itself on a cached small file; a folder of small files is nothing but
 * that overhead (bench W2, 10,000 files of 1–64 KiB). Blocking the event loop for one read or
 * write of at most this much is cheap.
 */
export const SMALL_FILE_BYTES = 64 * 1024;

/**
 * How the engine opens a file it found by a scan, to hash or serve it. O_NOFOLLOW makes opening
 * a symlink fail, and O_NONBLOCK keeps a FIFO swapped in after the scan's lstat from hanging the
 * open; the caller's fstat then refuses anything but a regular file. Windows has neither flag
 * (and Node's symlinks there need privileges anyway).
 */
export const OPEN_SCANNED_FILE =
  constants.O_RDONLY | (process.platform === 'win32' ? 0 : constants.O_NOFOLLOW | constants.O_NONBLOCK);

/**
 * The per-file descriptor calls the engine makes, in two flavours of one shape: `blockingIo`
 * for a file of at most SMALL_FILE_BYTES, `pooledIo` for anything larger. Calls that wait for
 * the disk (fsync, fdatasync) are not part of it: they always go to the thread pool.
 */
export interface FdIo {
  open(path: string, flags: number, mode?: number): Promise<number>;
  fstat(fd: number): Promise<Stats>;
  /** Answers how many bytes it read (0 at the end of the file). */
  read(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Answers how many bytes it wrote (possibly fewer than asked). */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  ftruncate(fd: number, length: number): Promise<void>;
  fchmod(fd: number, mode: number): Promise<void>;
  futimes(fd: number, atime: number, mtime: number): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

// async wrappers: a failing blocking call becomes a rejection, as it would with the pool.
export const blockingIo: FdIo = {
  open: async (path, flags, mode) => openSync(path, flags, mode),
  fstat: async (fd) => fstatSync(fd),
  read: async (fd, buf, offset, length, position) => readSync(fd, buf, offset, length, position),
  write: async (fd, buf, offset, length, position) => writeSync(fd, buf, offset, length, position),
  ftruncate: async (fd, length) => ftruncateSync(fd, length),
  fchmod: async (fd, mode) => fchmodSync(fd, mode),
  futimes: async (fd, atime, mtime) => futimesSync(fd, atime, mtime),
  close: async (fd) => closeSync(fd),
  rename: async (from, to) => renameSync(from, to),
};

export const pooledIo: FdIo = {
  open: (path, flags, mode) => settle<number>((done) => open(path, flags, mode, done)),
  fstat: (fd) => settle<Stats>((done) => fstat(fd, done)),
  read: (fd, buf, offset, length, position) => settle<number>((done) => read(fd, buf, offset, length, position, done)),
  write: (fd, buf, offset, length, position) => settle<number>((done) => write(fd, buf, offset, length, position, done)),
  ftruncate: (fd, length) => settle<void>((done) => ftruncate(fd, length, done)),
  fchmod: (fd, mode) => settle<void>((done) => fchmod(fd, mode, done)),
  futimes: (fd, atime, mtime) => settle<void>((done) => futimes(fd, atime, mtime, done)),
  close: (fd) => settle<void>((done) => close(fd, done)),
  rename: (from, to) => settle<void>((done) => rename(from, to, done)),
};

/** The flavour for a file of `size` bytes (see SMALL_FILE_BYTES). */
export function ioFor(size: number): FdIo {
  return size <= SMALL_FILE_BYTES ? blockingIo : pooledIo;
}

/** Data and metadata to the disk, on the thread pool whatever the file's size. */
export function fsyncFd(fd: number): Promise<void> {
  return settle<void>((done) => fsync(fd, done));
}

/** Data (and the size) to the disk, on the thread pool whatever the file's size. */
export function fdatasyncFd(fd: number): Promise<void> {
  return settle<void>((done) => fdatasync(fd, done));
}

function settle<T>(start: (done: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value as T))));
}
