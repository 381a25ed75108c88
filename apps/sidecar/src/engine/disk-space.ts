import { statfs } from 'node:fs/promises';
import type { FileSummary } from './types.js';
import { stagingPathFor } from './staging-file.js';
import { lstatOrNull } from '../fs/fs-errors.js';
import { EngineError } from './errors.js';

/** The destination's disk cannot hold the file: nothing was started, the old file is untouched. */
export class DiskSpaceError extends EngineError {
  // The errno's name, so a pre-check and a write that ran out of space read the same to users.
  readonly code = 'ENOSPC';
  constructor(path: string, needed: number, free: number) {
    super(path, `no space left on device for ${path}: it needs ${mib(needed)} and the destination has ${mib(free)} free`);
  }
}

/**
 * Refuses, before anything is fetched or staged, a file that cannot fit even if the old copy
 * and an interrupted staging file were counted as free: it fails fast instead of after
 * gigabytes, and a peer lying about a size cannot make us stage (or list hashes for) a file
 * larger than the disk.
 */
export async function assertRoomFor(localRoot: string, file: FileSummary, existing: FileSummary | undefined): Promise<void> {
  const fs = await statfs(localRoot);
  const free = fs.bavail * fs.bsize;
  const reusable = (existing?.size ?? 0) + (lstatOrNull(stagingPathFor(localRoot, file.path))?.size ?? 0);
  if (file.size > free + reusable) throw new DiskSpaceError(file.path, file.size, free);
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
