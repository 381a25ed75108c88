import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore from 'ignore';
import { IgnoreRulesError } from './errors.js';
import { isInternalPath } from './internal-names.js';
import type { RelPath } from './types.js';
import { errCode, errMessage } from '../fs/fs-errors.js';

/** The rules file at the top of a served folder. Only the root one counts; others are ordinary files. */
export const IGNORE_FILE = '.leafsyncignore';

/** True when `rel` is excluded from syncing. `isDir` lets `build/` match the directory but not a file named `build`. */
export type IgnoreMatcher = (rel: RelPath, isDir: boolean) => boolean;

/**
 * Builds a matcher from gitignore-syntax text. Pure, so rules received from a peer can be
 * applied exactly as the local file would be.
 */
export function ignoreMatcherFromText(text: string): IgnoreMatcher {
  // Case-sensitive like git on Linux: both peers must agree on what is excluded, and a
  // per-OS setting would make a macOS peer and a Linux peer disagree about the same file.
  // Rules are NFC-normalised because every RelPath is.
  // Most folders have no rules; asking `ignore` anyway cost a 10k-file scan ~30 ms.
  if (!hasPatterns(text)) return (rel) => isInternalPath(rel);
  const rules = ignore({ ignorecase: false }).add(text.normalize('NFC'));
  return (rel, isDir) => {
    if (isInternalPath(rel)) return true;
    // The rules file is synced so both sides share it, even if a pattern like `.*` matches it.
    if (rel === IGNORE_FILE) return false;
    // `ignore` treats a trailing '/' as "this is a directory"; it also checks parent directories,
    // so `a/build/x` is excluded by `build/` even when a caller did not prune the walk.
    return rules.ignores(isDir ? `${rel}/` : rel);
  };
}

/** Whether any line is a pattern: gitignore skips blank lines and lines starting with '#'. */
function hasPatterns(text: string): boolean {
  return text.split('\n').some((line) => line.trim() !== '' && !line.startsWith('#'));
}

/**
 * Reads `<root>/.leafsyncignore`. A missing file means only internal names are excluded.
 * An unreadable one is an error rather than "no rules": silently dropping the rules could
 * upload secrets they exclude or make mirror trash files the user meant to keep out of sync.
 */
export async function loadIgnoreRules(rootAbs: string): Promise<IgnoreMatcher> {
  const abs = join(rootAbs, IGNORE_FILE);
  let isFile: boolean;
  try {
    isFile = (await lstat(abs)).isFile();
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return ignoreMatcherFromText('');
    throw new IgnoreRulesError(abs, errMessage(err), { cause: err });
  }
  // A symlink or directory here would never be synced, so the peer could not share these rules.
  if (!isFile) throw new IgnoreRulesError(abs, 'it is not a regular file');
  let bytes: Buffer;
  try {
    bytes = await readFile(abs);
  } catch (err) {
    throw new IgnoreRulesError(abs, errMessage(err), { cause: err });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new IgnoreRulesError(abs, 'it is not valid UTF-8 text', { cause: err });
  }
  return ignoreMatcherFromText(text);
}

