import type { RelPath } from './types.js';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * Where the losing side of a conflict is kept: beside the file, named the way Syncthing names
 * them so people and tools recognise it, e.g. `report.sync-conflict-20261125-143005-1a2b3c4d.txt`.
 * The time is local (what the user's clock said), the suffix is the first 8 hex digits of the
 * fingerprint of the peer whose version this is.
 */
export function conflictCopyPath(path: RelPath, when: Date, fingerprint: string): RelPath {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  // A leading dot is a hidden file, not an extension: ".bashrc" keeps its whole name.
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  const stamp = `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}-${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
  return `${dir}${stem}.sync-conflict-${stamp}-${fingerprint.slice(0, 8)}${ext}`;
}
