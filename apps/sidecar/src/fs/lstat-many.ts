/**
 * lstat of many paths at once, as numbers: what a folder scan needs of each entry, without a
 * Stats object and four Dates per path (native/fs_stat.c says why). Where the addon is not built
 * (it is Linux-only) the same table is filled from lstatSync.
 */
import type { Stats } from 'node:fs';
import { lstatOrNull } from './fs-errors.js';
import { loadNativeAddon } from '../util/native-addon.js';

interface StatAddon {
  lstatMany(prefix: string, paths: readonly string[], start: number, end: number): Float64Array;
}

const loadAddon = (): StatAddon | undefined => loadNativeAddon<StatAddon>('fs_stat');

/** Numbers per path, in the addon's order. */
const FIELDS = 6;
const KIND = 0;
const MODE = 1;
const SIZE = 2;
const MTIME_MS = 3;
const CTIME_MS = 4;
const INO = 5;
/** The kind codes the addons write (native/stat_fields.h): each kind's index here. */
const KINDS = ['missing', 'file', 'dir', 'other'] as const;
const FILE = 1;
const DIR = 2;
const OTHER = 3;

export type EntryKind = (typeof KINDS)[number];

/** The kind an addon's code stands for (native/stat_fields.h). */
export function entryKind(code: number): EntryKind {
  return KINDS[code] as EntryKind;
}

/** What lstat said of each path, by its index in the range asked for. */
export class LstatTable {
  constructor(private readonly v: Float64Array) {}

  /** 'missing' if nothing is there (or a parent is not a directory), 'other' for symlinks and specials. */
  kind(i: number): EntryKind {
    return entryKind(this.v[i * FIELDS + KIND] as number);
  }
  /** st_mode, file type bits included. */
  mode(i: number): number {
    return this.v[i * FIELDS + MODE] as number;
  }
  size(i: number): number {
    return this.v[i * FIELDS + SIZE] as number;
  }
  /** Equal to Stats#mtimeMs for the same file. */
  mtimeMs(i: number): number {
    return this.v[i * FIELDS + MTIME_MS] as number;
  }
  ctimeMs(i: number): number {
    return this.v[i * FIELDS + CTIME_MS] as number;
  }
  ino(i: number): number {
    return this.v[i * FIELDS + INO] as number;
  }
}

/**
 * lstat of `prefix + paths[i]` for i in [start, end): row i - start of the table. A failure other
 * than "not there" throws node:fs's own error, as lstatSync would. `native: false` fills the
 * table from lstatSync even where the addon is built (tests compare the two).
 */
export function lstatMany(prefix: string, paths: readonly string[], start: number, end: number, opts: { native?: boolean } = {}): LstatTable {
  const addon = opts.native === false ? undefined : loadAddon();
  const v = addon ? addon.lstatMany(prefix, paths, start, end) : new Float64Array((end - start) * FIELDS).fill(-1);
  for (let row = 0; row < end - start; row++) {
    // Unknown here (no addon) or a failure the addon saw: node:fs says what it is, and throws if it still fails.
    if ((v[row * FIELDS + KIND] as number) < 0) fillRow(v, row, lstatOrNull(prefix + (paths[start + row] as string)));
  }
  return new LstatTable(v);
}

function fillRow(v: Float64Array, row: number, st: Stats | null): void {
  const at = row * FIELDS;
  v.fill(0, at, at + FIELDS);
  if (st === null) return;
  v[at + KIND] = st.isFile() ? FILE : st.isDirectory() ? DIR : OTHER;
  v[at + MODE] = st.mode;
  v[at + SIZE] = st.size;
  v[at + MTIME_MS] = st.mtimeMs;
  v[at + CTIME_MS] = st.ctimeMs;
  v[at + INO] = st.ino;
}
