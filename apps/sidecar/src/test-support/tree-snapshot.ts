import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Every path under root, internal names and symlinks included (hashTree skips those): files map
 * to their SHA-256, folders to 'dir', symlinks to 'symlink -> target'. Two equal snapshots mean
 * nothing under root was written, renamed, created or removed.
 */
export async function snapshotTree(root: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const d of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    const st = await lstat(join(root, r));
    if (st.isSymbolicLink()) out.set(r, 'symlink');
    else if (st.isDirectory()) {
      out.set(r, 'dir');
      for (const [k, v] of await snapshotTree(root, r)) out.set(k, v);
    } else out.set(r, createHash('sha256').update(await readFile(join(root, r))).digest('hex'));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}
