/**
 * The state of the file system the bench writes to, as far as it moves the numbers.
 *
 * On ext4 without a journal (this machine's root file system), the kernel will not reuse an
 * inode freed in the last 5 minutes, and checks each such inode one by one while it looks for a
 * free one (`recently_deleted` in fs/ext4/ialloc.c; it showed as a fifth of a profile of file
 * creation here). Creating a file costs ~11 µs on a quiet disk and 70–200 µs after 10,000 files
 * were deleted: W2 creates 10,000, so a run right after a large delete loses a second or more,
 * whichever tool it is. The bench deletes nothing between W2's runs, waits out that window after
 * a previous bench's clean-up, and reports the cost of a create so a slow hour can be told apart.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

/** How long ext4 without a journal avoids reusing a freed inode (RECENTCY_DIRTY, in seconds). */
export const RECENTLY_DELETED_S = 300;

export interface FsState {
  /** The mount's device and type, e.g. "/dev/vda (ext4, no journal)". */
  description: string;
  /** Whether recently deleted inodes slow down creating files here. */
  slowAfterDeletes: boolean;
}

/** Describes the file system holding `path` (Linux: /proc/self/mountinfo and ext4's sysfs). */
export function fsStateOf(path: string): FsState {
  const mount = mountOf(resolve(path));
  if (!mount) return { description: 'unknown file system', slowAfterDeletes: false };
  if (mount.type !== 'ext4') return { description: `${mount.source} (${mount.type})`, slowAfterDeletes: false };
  // ext4 shows "<none>" as its journal thread when it has no journal.
  const task = join('/sys/fs/ext4', basename(mount.source), 'journal_task');
  const journalless = existsSync(task) && readFileSync(task, 'utf8').trim() === '<none>';
  return { description: `${mount.source} (ext4${journalless ? ', no journal' : ''})`, slowAfterDeletes: journalless };
}

function mountOf(path: string): { point: string; type: string; source: string } | undefined {
  if (!existsSync('/proc/self/mountinfo')) return undefined;
  let best: { point: string; type: string; source: string } | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // id parent major:minor root point options [optional…] - type source super-options
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = left.split(' ')[4]?.replace(/\\040/g, ' ');
    const [type, source] = right.split(' ');
    if (!point || !type || !source) continue;
    const inside = point === '/' || path === point || path.startsWith(`${point}/`);
    if (inside && (!best || point.length >= best.point.length)) best = { point, type, source };
  }
  return best;
}

/** Microseconds to create (and close) one empty file, over `count` files in a new folder under `parent`, kept. */
export function createMicros(parent: string, count = 2000): number {
  // A folder of its own each time, so a reused --workdir never finds the files already there.
  const dir = mkdtempSync(join(parent, 'create-probe-'));
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) closeSync(openSync(join(dir, `f${i}`), 'wx'));
  return Number(process.hrtime.bigint() - started) / 1000 / count;
}

/** Where the bench notes when it last deleted its work folder. */
const stampPath = (resultsDir: string): string => join(resultsDir, '.last-cleanup');

export function noteCleanup(resultsDir: string): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(stampPath(resultsDir), String(Date.now()));
}

/** Seconds still to wait before the inodes a previous bench freed stop slowing this one down. */
export function secondsToWaitAfterCleanup(resultsDir: string, state: FsState): number {
  if (!state.slowAfterDeletes || !existsSync(stampPath(resultsDir))) return 0;
  const last = Number(readFileSync(stampPath(resultsDir), 'utf8'));
  if (!Number.isFinite(last)) return 0;
  return Math.max(0, Math.ceil(RECENTLY_DELETED_S - (Date.now() - last) / 1000));
}
