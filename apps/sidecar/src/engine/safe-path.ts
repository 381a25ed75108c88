import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { lstatOrNull } from '../fs/fs-errors.js';
import { UnsafePathError } from './errors.js';
import type { RelPath } from './types.js';

export { UnsafePathError } from './errors.js';

/** NTFS and most Unix filesystems cap one name at 255 units; bytes is the stricter Unix view. */
const MAX_SEGMENT_BYTES = 255;

/*
 * Device names Windows maps to devices in every directory, with or without an extension.
 * COM0/LPT0 and the superscript digits are in Microsoft's current list too, so we refuse them.
 */
const WINDOWS_RESERVED = new Set([
  'CON', 'PRN', 'AUX', 'NUL',
  ...['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '\u00b9', '\u00b2', '\u00b3'].flatMap((d) => [`COM${d}`, `LPT${d}`]),
]);
const WINDOWS_BAD_CHARS = /[<>:"|?*]/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f]/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks a '/'-separated relative path from the wire or a user and returns it NFC-normalised.
 * Everything that could leave the folder, mean something else on another OS, or not be
 * representable as a file name is refused with the reason, so the log says what was wrong.
 */
export function validateRelPath(p: string, opts?: { windows?: boolean }): RelPath {
  const windows = opts?.windows ?? process.platform === 'win32';
  const fail = (reason: string): never => {
    throw new UnsafePathError(p, reason);
  };
  if (typeof p !== 'string') fail('path is not a string');
  if (p.length === 0) fail('empty path');
  const characters = characterProblem(p);
  if (characters !== undefined) fail(characters);
  if (p.startsWith('//') || p.startsWith('\\\\')) fail('UNC path');
  if (p.includes('\\')) fail(BACKSLASH);
  if (p.startsWith('/')) fail('absolute path');
  if (/^[A-Za-z]:/.test(p)) fail('starts with a drive letter');

  const normal = p.normalize('NFC');
  for (const segment of normal.split('/')) {
    const problem = segmentProblem(segment, windows);
    if (problem !== undefined) fail(problem);
  }
  return normal;
}

/**
 * validateRelPath(`${parent}/${name}`) for a `parent` that already passed it, checking only the
 * new name: a scan validates every entry, and re-checking the parents cost 10k files ~20 ms.
 * Same result, same reasons.
 */
export function validateChildPath(parent: RelPath, name: string, opts?: { windows?: boolean }): RelPath {
  const p = parent === '' ? name : `${parent}/${name}`;
  if (parent === '' || name.includes('/')) return validateRelPath(p, opts);
  const windows = opts?.windows ?? process.platform === 'win32';
  // Printable ASCII has no control characters or surrogates and is already NFC: most names are.
  const ascii = PRINTABLE_ASCII.test(name);
  const normal = ascii ? name : name.normalize('NFC');
  const problem = (ascii ? undefined : characterProblem(name)) ?? (name.includes('\\') ? BACKSLASH : undefined) ?? segmentProblem(normal, windows);
  if (problem !== undefined) throw new UnsafePathError(p, problem);
  return `${parent}/${normal}`;
}

const BACKSLASH = "contains a backslash (separators must be '/')";

function characterProblem(p: string): string | undefined {
  if (CONTROL_CHARS.test(p)) return p.includes('\0') ? 'contains a NUL byte' : 'contains a control character';
  if (LONE_SURROGATE.test(p)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

function segmentProblem(segment: string, windows: boolean): string | undefined {
  if (segment === '') return "empty segment ('//' or a leading or trailing '/')";
  if (segment === '.' || segment === '..') return `'${segment}' segment`;
  if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) return `segment longer than ${MAX_SEGMENT_BYTES} UTF-8 bytes`;
  return windows ? windowsNameProblem(segment) : undefined;
}

/** Why Windows cannot hold a file or directory with this name, or undefined if it can. */
export function windowsNameProblem(segment: string): string | undefined {
  if (CONTROL_CHARS.test(segment)) return `name ${JSON.stringify(segment)} contains a control character`;
  const bad = WINDOWS_BAD_CHARS.exec(segment);
  if (bad) return `name ${JSON.stringify(segment)} contains '${bad[0]}', which Windows forbids`;
  if (segment.endsWith('.') || segment.endsWith(' ')) {
    return `name ${JSON.stringify(segment)} ends with a dot or space, which Windows strips`;
  }
  // Windows treats "CON.txt" and "con .tar.gz" as the device too: the part before the first
  // dot, with trailing spaces dropped, is what counts.
  const stem = (segment.split('.')[0] ?? '').trimEnd().toUpperCase();
  if (WINDOWS_RESERVED.has(stem)) return `name ${JSON.stringify(segment)} is a reserved Windows device name`;
  return undefined;
}

/**
 * Joins a validated relative path onto the folder root and proves the result stays inside the
 * root, even through symlinks: each existing component is lstat'ed from the root down, and a
 * symlink is only accepted if it resolves to somewhere inside realpath(root). A dangling symlink
 * is refused too, because creating the file would create it wherever the link points.
 * Returns the absolute path under rootAbs (as given, native separators).
 */
export async function resolveInside(rootAbs: string, rel: RelPath): Promise<string> {
  return new InsideRoot(rootAbs).resolve(rel);
}

/**
 * resolveInside for many paths under one root: each directory on the way is proven once and
 * remembered, so a pass over 10,000 files does not realpath the root and lstat every ancestor
 * 10,000 times. The last component is always checked afresh. Make a new one per pass: a folder
 * swapped for a symlink after it was proven is only caught by the next pass.
 */
export class InsideRoot {
  private rootReal: Promise<string> | undefined;
  /** Relative directory → its real path, proven to be a directory inside the root. */
  private readonly provenDirs = new Map<RelPath, string>();

  constructor(readonly rootAbs: string) {}

  async resolve(rel: RelPath): Promise<string> {
    const valid = validateRelPath(rel);
    const rootReal = await (this.rootReal ??= realpath(this.rootAbs));
    const segments = valid.split('/');
    let cur = rootReal;
    let prefix = '';
    for (const [i, segment] of segments.entries()) {
      prefix = prefix === '' ? segment : `${prefix}/${segment}`;
      const isLast = i === segments.length - 1;
      const proven = isLast ? undefined : this.provenDirs.get(prefix);
      if (proven !== undefined) {
        cur = proven;
        continue;
      }
      const next = join(cur, segment);
      const st = lstatOrNull(next);
      // Nothing below here exists yet, so nothing below can be a symlink: the path is safe.
      if (st === null) break;
      if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(next);
        } catch (err) {
          if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP')) throw new UnsafePathError(rel, 'goes through a dangling or looping symlink');
          throw err;
        }
        if (!isInsideOrEqual(rootReal, target)) throw new UnsafePathError(rel, 'escapes through symlink');
        cur = target;
      } else {
        cur = next;
      }
      if (!isLast && st.isDirectory()) this.provenDirs.set(prefix, cur);
    }
    return join(this.rootAbs, ...segments);
  }
}

function isInsideOrEqual(parent: string, child: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(prefix);
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
