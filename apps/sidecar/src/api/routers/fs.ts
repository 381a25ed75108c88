import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { listDirInput, type DirEntry, type DirListing } from '@leafsync/shared';
import { isInternalPath } from '../../engine/internal-names.js';
import { quickLinks } from '../quick-links.js';
import { publicProcedure, router } from '../trpc.js';

/** `~` and `~/x` expand to the home folder; relative paths are taken from it. */
export function resolveListPath(input: string | undefined, home: string): string {
  const raw = input?.trim() ?? '';
  if (raw === '' || raw === '~') return path.resolve(home);
  if (raw.startsWith('~/') || raw.startsWith('~\\')) return path.resolve(home, raw.slice(2));
  return path.resolve(home, raw);
}

function unreadable(err: unknown, dir: string): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return `folder not found: ${dir}`;
    case 'ENOTDIR':
      return `not a folder: ${dir}`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied: ${dir}`;
    default:
      return `cannot read ${dir}: ${(err as Error).message}`;
  }
}

export async function listDir(dir: string): Promise<DirListing> {
  const parentDir = path.dirname(dir);
  const listing: DirListing = { path: dir, ...(parentDir !== dir && { parent: parentDir }), entries: [] };
  let names;
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    return { ...listing, error: unreadable(err, dir) };
  }
  const entries = await Promise.all(
    names.map(async (d): Promise<DirEntry | undefined> => {
      let type: 'dir' | 'file' | undefined = d.isDirectory() ? 'dir' : d.isFile() ? 'file' : undefined;
      let size: number | undefined;
      if (type === 'file' || d.isSymbolicLink()) {
        // A link to a folder can be picked as a folder; sizes are the target's.
        const info = await stat(path.join(dir, d.name)).catch(() => undefined);
        if (info?.isDirectory()) type = 'dir';
        else if (info?.isFile()) {
          type = 'file';
          size = info.size;
        } else if (d.isSymbolicLink()) type = undefined;
      }
      if (type === undefined) return undefined;
      return { name: d.name, type, hidden: d.name.startsWith('.'), internal: isInternalPath(d.name), ...(size !== undefined && { size }) };
    }),
  );
  listing.entries = entries
    .filter((e): e is DirEntry => e !== undefined)
    .sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1));
  return listing;
}

export const fsRouter = router({
  /** One folder's entries (folders first); no path means the user's home. */
  list: publicProcedure.input(listDirInput).query(({ ctx, input }) => listDir(resolveListPath(input.path, ctx.userHome))),
  quickLinks: publicProcedure.query(({ ctx }) => quickLinks(ctx.userHome)),
});
