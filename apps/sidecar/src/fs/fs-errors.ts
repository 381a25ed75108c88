import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';

/** The errno code of a Node fs error ('ENOENT', …), or undefined for anything else. */
export function errCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** lstat that answers null when the path (or a parent of it) does not exist. */
export async function lstatOrNull(abs: string): Promise<Stats | null> {
  try {
    return await lstat(abs);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}
