import { lstatSync, type Stats } from 'node:fs';

/** The errno code of a Node fs error ('ENOENT', …), or undefined for anything else. */
export function errCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * lstat that answers null when the path (or a parent of it) does not exist. Synchronous on
 * purpose: the syscall takes a few microseconds, a promised one costs ~10× that in dispatch,
 * and scans, path checks and guards call it once per file.
 */
export function lstatOrNull(abs: string): Stats | null {
  try {
    return lstatSync(abs, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    if (errCode(err) === 'ENOTDIR') return null; // a parent is a file, or was replaced meanwhile
    throw err;
  }
}
