import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { QuickLink } from '@leafsync/shared';

/** The picker's shortcuts, in the order people look for them. */
const STANDARD = [
  { label: 'Desktop', xdg: 'XDG_DESKTOP_DIR' },
  { label: 'Downloads', xdg: 'XDG_DOWNLOAD_DIR' },
  { label: 'Documents', xdg: 'XDG_DOCUMENTS_DIR' },
  { label: 'Pictures', xdg: 'XDG_PICTURES_DIR' },
  { label: 'Music', xdg: 'XDG_MUSIC_DIR' },
  { label: 'Videos', xdg: 'XDG_VIDEOS_DIR' },
] as const;

/**
 * Reads `user-dirs.dirs` (written by xdg-user-dirs: `XDG_DOWNLOAD_DIR="$HOME/Téléchargements"`),
 * so a localized or moved Downloads folder is found under its real name.
 */
export function parseUserDirs(text: string, home: string): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(XDG_[A-Z]+_DIR)\s*=\s*"(.*)"\s*$/.exec(line);
    if (!m) continue;
    const value = m[2]!.replace(/\\(.)/g, '$1');
    if (value.startsWith('$HOME')) dirs.set(m[1]!, path.join(home, value.slice('$HOME'.length)));
    else if (path.isAbsolute(value)) dirs.set(m[1]!, value);
  }
  return dirs;
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function xdgUserDirs(home: string): Promise<Map<string, string>> {
  const config = process.env.XDG_CONFIG_HOME || path.join(home, '.config');
  const text = await readFile(path.join(config, 'user-dirs.dirs'), 'utf8').catch(() => '');
  return parseUserDirs(text, home);
}

/** Home, the standard folders that exist, then where disks live (drive letters on Windows). */
export async function quickLinks(home: string): Promise<QuickLink[]> {
  const links: QuickLink[] = [{ label: 'Home', path: path.resolve(home) }];
  const xdg = process.platform === 'linux' ? await xdgUserDirs(home) : new Map<string, string>();
  for (const { label, xdg: key } of STANDARD) {
    // On Windows a OneDrive-backed profile keeps Desktop and Documents under OneDrive.
    const candidates = [xdg.get(key), path.join(home, label), path.join(home, 'OneDrive', label)];
    for (const candidate of candidates) {
      if (candidate !== undefined && candidate !== path.resolve(home) && (await isDir(candidate))) {
        links.push({ label, path: candidate });
        break;
      }
    }
  }
  if (process.platform === 'win32') {
    const letters = 'CDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
    const drives = await Promise.all(letters.map(async (l) => ((await isDir(`${l}:\\`)) ? `${l}:\\` : undefined)));
    for (const drive of drives) if (drive) links.push({ label: drive, path: drive });
    return links;
  }
  for (const p of ['/Volumes', '/media', '/mnt']) if (await isDir(p)) links.push({ label: p, path: p });
  links.push({ label: 'Computer (/)', path: '/' });
  return links;
}
