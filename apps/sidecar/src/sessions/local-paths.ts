import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { validateRelPath } from '../engine/safe-path.js';
import type { RelPath } from '../engine/types.js';

export class FolderError extends Error {
  readonly code = 'FOLDER';
  constructor(message: string) {
    super(message);
  }
}

/** A folder given on the command line or in the dashboard; it must exist and be a directory. */
export async function existingFolder(input: string): Promise<string> {
  const abs = resolve(input);
  const info = await stat(abs).catch(() => undefined);
  if (!info) throw new FolderError(`folder not found: ${abs}`);
  if (!info.isDirectory()) throw new FolderError(`not a folder: ${abs}`);
  return abs;
}

/** A destination folder: created if missing (like rsync), but only when its parent exists, so a typo does not build a tree. */
export async function destinationFolder(input: string): Promise<string> {
  const abs = resolve(input);
  const info = await stat(abs).catch(() => undefined);
  if (info) {
    if (!info.isDirectory()) throw new FolderError(`not a folder: ${abs}`);
    return abs;
  }
  const parent = await stat(dirname(abs)).catch(() => undefined);
  if (!parent?.isDirectory()) throw new FolderError(`cannot create ${abs}: its parent folder does not exist`);
  await mkdir(abs);
  return abs;
}

/**
 * `--file` as typed by a user (native separators allowed, e.g. `sub\\a.txt` on Windows)
 * turned into the '/'-separated relative path used everywhere else.
 */
export function fileOption(input: string): RelPath {
  const portable = sep === '\\' ? input.replaceAll('\\', '/') : input;
  return validateRelPath(portable.replace(/^\.\//, ''));
}
