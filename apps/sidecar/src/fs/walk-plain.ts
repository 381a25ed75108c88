/**
 * A folder's listing walked on libuv's thread pool, for the quick check that it is as the last
 * pass left it (native/fs_stat.c's walkPlain says why, and what a plain folder is). Gives up, with
 * undefined, wherever a scan would have to judge something; the caller then scans.
 */
import { loadNativeAddon } from '../util/native-addon.js';

/** What the walk leaves out or gives up on: the scan's own rules, handed to the addon. */
export interface PlainWalkRules {
  /** Names never listed, in any case (directories leafsync or git owns). */
  internalNames: readonly string[];
  /** Any name ending so (in any case) is never listed either. */
  internalSuffix: string;
  /** A root entry of this name means rules a scan would apply: give up. */
  rulesFile: string;
  /** A root directory of this name holding a name ending in `journalSuffix` means a scan would first undo something: give up. */
  stagingDir: string;
  journalSuffix: string;
  /** Give up rather than hold more entries than this. */
  maxEntries: number;
}

/** Every entry's path below the root, sorted by UTF-8 bytes, joined by NUL; and six numbers per entry in that order. */
export interface PlainListing {
  paths: Buffer;
  /** Per entry: 1 for a file or 0 for a directory, size (0 for a directory), mtime in whole ms, ctime in ms, inode, permission bits. */
  numbers: Float64Array;
}

interface WalkAddon {
  walkPlain(
    root: string,
    internalNames: readonly string[],
    internalSuffix: string,
    rulesFile: string,
    stagingDir: string,
    journalSuffix: string,
    maxEntries: number,
    done: (paths?: Buffer, numbers?: Float64Array) => void,
  ): void;
}

export type PlainWalker = (rootAbs: string, rules: PlainWalkRules) => Promise<PlainListing | undefined>;

/** The walker, or undefined where the addon is not built (it is Linux-only). */
export function plainWalker(): PlainWalker | undefined {
  const addon = loadNativeAddon<WalkAddon>('fs_stat');
  if (addon === undefined) return undefined;
  return (rootAbs, r) =>
    new Promise((resolve) => {
      addon.walkPlain(rootAbs, r.internalNames, r.internalSuffix, r.rulesFile, r.stagingDir, r.journalSuffix, r.maxEntries, (paths, numbers) =>
        resolve(paths === undefined || numbers === undefined ? undefined : { paths, numbers }),
      );
    });
}
