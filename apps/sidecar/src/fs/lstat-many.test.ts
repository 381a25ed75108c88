import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { lstatMany, type LstatTable } from './lstat-many.js';
import { loadNativeAddon } from '../util/native-addon.js';

const root = mkdtempSync(join(tmpdir(), 'leafsync-lstat-many-'));
after(() => rmSync(root, { recursive: true, force: true }));

writeFileSync(join(root, 'file'), 'twelve bytes');
utimesSync(join(root, 'file'), 1_700_000_000.123456, 1_700_000_000.987654);
mkdirSync(join(root, 'dir'));
symlinkSync('file', join(root, 'link'));
symlinkSync('nowhere', join(root, 'dangling'));
execFileSync('mkfifo', [join(root, 'fifo')]);
writeFileSync(join(root, 'ünïcode name'), '');
const PATHS = ['file', 'dir', 'link', 'dangling', 'fifo', 'missing', 'file/below', 'ünïcode name'];

function rows(t: LstatTable, n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({ kind: t.kind(i), mode: t.mode(i), size: t.size(i), mtimeMs: t.mtimeMs(i), ctimeMs: t.ctimeMs(i), ino: t.ino(i) }));
}

test('the native addon is built on Linux (npm run build compiles native/fs_stat.c)', { skip: process.platform !== 'linux' }, () => {
  assert.equal(typeof loadNativeAddon<{ lstatMany: unknown }>('fs_stat')?.lstatMany, 'function');
});

test('lstatMany says what lstatSync says of files, folders, symlinks, specials and missing paths, to the last bit', () => {
  const native = rows(lstatMany(join(root, '/'), PATHS, 0, PATHS.length), PATHS.length);
  const fallback = rows(lstatMany(join(root, '/'), PATHS, 0, PATHS.length, { native: false }), PATHS.length);
  assert.deepEqual(native, fallback);
  const file = lstatSync(join(root, 'file'));
  assert.deepEqual(native[0], { kind: 'file', mode: file.mode, size: 12, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, ino: file.ino });
  assert.deepEqual(
    native.map((r) => (r as { kind: string }).kind),
    ['file', 'dir', 'other', 'other', 'other', 'missing', 'missing', 'file'],
  );
  assert.equal((native[2] as { mode: number }).mode, lstatSync(join(root, 'link')).mode, 'a symlink is not followed');
});

test('lstatMany reads only the range asked for, row 0 being its start', () => {
  const t = lstatMany(join(root, '/'), PATHS, 1, 3);
  assert.deepEqual([t.kind(0), t.kind(1)], ['dir', 'other']);
});

test('a failure other than "not there" throws node:fs\'s own error, with or without the addon', () => {
  const tooLong = ['x'.repeat(300)];
  for (const native of [true, false]) {
    assert.throws(() => lstatMany(join(root, '/'), tooLong, 0, 1, { native }), (e: NodeJS.ErrnoException) => e.code === 'ENAMETOOLONG' && e.syscall === 'lstat');
    // A NUL would make C stat a shorter path; node:fs refuses the path instead.
    assert.throws(() => lstatMany(join(root, '/'), ['file\0x'], 0, 1, { native }), (e: NodeJS.ErrnoException) => e.code === 'ERR_INVALID_ARG_VALUE');
  }
});
