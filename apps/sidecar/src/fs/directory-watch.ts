import { watch, type FSWatcher } from 'node:fs';
import { errCode, errMessage } from './fs-errors.js';

export interface DirectoryWatchOptions {
  /**
   * More directories than this and the watch gives up for good: inotify watches are shared by
   * every program of the user (editors, other sync tools), and a huge tree must not use them up.
   */
  maxDirectories?: number;
  /** Names whose changes do not count (leafsync's own staging and trash folders). */
  ignoreName?: (name: string) => boolean;
  /** Told once, when the watch gives up and every scan has to walk the folder again. */
  onGiveUp?: (message: string) => void;
}

const DEFAULT_MAX_DIRECTORIES = 8192;

/**
 * Says whether anything changed in a folder since its last scan began, so the scan need not be
 * walked again: one inotify watch per directory (fs.watch, not recursive), each added by the scan
 * before it lists that directory. Any event at all counts as a change. A scan is trusted only if
 * every directory it listed was watched before it was listed, so nothing can change unseen in
 * between; where a watch could not be added the next scan walks again.
 *
 * What inotify does not see (writes through a shared mmap, changes made by another machine on a
 * network filesystem) is not noticed here; callers bound how long they trust a clean listing.
 */
export class DirectoryWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly maxDirectories: number;
  private readonly opts: DirectoryWatchOptions;
  /** Directories the scan under way has listed, to drop the watches of those that are gone. */
  private listed = new Set<string>();
  private changed = true;
  private gaveUp = false;
  private closed = false;

  constructor(opts: DirectoryWatchOptions = {}) {
    this.opts = opts;
    this.maxDirectories = opts.maxDirectories ?? DEFAULT_MAX_DIRECTORIES;
  }

  /** Nothing changed since the last scan began, and that scan ran with every directory watched. */
  get unchanged(): boolean {
    return !this.changed && !this.gaveUp && !this.closed;
  }

  /** A scan begins: from now on an event means its listing may be out of date. */
  scanStarted(): void {
    this.changed = false;
    this.listed = new Set();
  }

  /** Call before listing `dir`, so that a change made while (or after) it is read is seen. */
  beforeListing(dir: string): void {
    if (this.gaveUp || this.closed) return;
    this.listed.add(dir);
    if (this.watchers.has(dir)) return;
    if (this.watchers.size >= this.maxDirectories) {
      this.giveUp(`more than ${this.maxDirectories} folders to watch`);
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name !== null && this.opts.ignoreName?.(name)) return;
        this.changed = true;
      });
    } catch (err) {
      // No more inotify watches for this user: the tree is too big to watch, now and later.
      if (errCode(err) === 'ENOSPC' || errCode(err) === 'EMFILE') this.giveUp(errMessage(err));
      // Anything else (a folder unreadable or deleted meanwhile): this scan cannot be trusted.
      this.changed = true;
      return;
    }
    watcher.on('error', () => {
      // The folder went away or the watch broke: the next scan walks, and watches it again if it is there.
      this.changed = true;
      watcher.close();
      this.watchers.delete(dir);
    });
    this.watchers.set(dir, watcher);
  }

  /** The scan is done: directories it did not list are no longer watched. */
  scanFinished(): void {
    for (const [dir, watcher] of this.watchers) {
      if (this.listed.has(dir)) continue;
      watcher.close();
      this.watchers.delete(dir);
    }
    this.listed = new Set();
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private giveUp(reason: string): void {
    if (this.gaveUp) return;
    this.gaveUp = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.opts.onGiveUp?.(`not watching the folder for changes (${reason}): each scan walks it again`);
  }
}
