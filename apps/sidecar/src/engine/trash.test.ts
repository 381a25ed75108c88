import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InternalPathError, NotFoundError, NotRegularFileError, UnsafePathError } from './errors.js';
import { TRASH_DIR, moveToTrash, removeEmptyDirs, trashStamp } from './trash.js';

const STAMP = '20261125-091503Z';

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every regular file under dir (relative, '/'-separated) with its sha256: proves nothing was lost. */
async function fileHashes(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) {
    const abs = join(dir, String(name));
    const st = await stat(abs);
    if (st.isFile()) out.push(sha256(await readFile(abs)));
  }
  return out.sort();
}

async function exists(abs: string): Promise<boolean> {
  try {
    await stat(abs);
    return true;
  } catch {
    return false;
  }
}

describe('trashStamp', () => {
  it('is UTC, sortable and free of characters Windows forbids', () => {
    assert.equal(trashStamp(new Date('2026-11-25T09:15:03.999Z')), STAMP);
    assert.equal(trashStamp(new Date('2026-11-25T10:15:03.000+01:00')), STAMP);
    const a = trashStamp(new Date('2026-01-02T03:04:05Z'));
    const b = trashStamp(new Date('2026-12-01T00:00:00Z'));
    assert.ok(a < b);
    assert.doesNotMatch(a, /[<>:"|?*\\/ ]/);
  });
});

describe('moveToTrash', () => {
  let base: string;
  let root: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-trash-'));
    root = join(base, 'root');
    await mkdir(root);
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('renames the file to .leafsync_trash/<stamp>/<rel> with its content intact', async () => {
    const data = randomBytes(300_000);
    await mkdir(join(root, 'docs/old'), { recursive: true });
    await writeFile(join(root, 'docs/old/report.txt'), data);
    const { ino } = await stat(join(root, 'docs/old/report.txt'));
    const dest = await moveToTrash(root, 'docs/old/report.txt', STAMP);
    assert.equal(dest, join(root, TRASH_DIR, STAMP, 'docs/old/report.txt'));
    assert.equal(await exists(join(root, 'docs/old/report.txt')), false);
    assert.equal(sha256(await readFile(dest)), sha256(data));
    // Same inode: a rename, not a copy and delete.
    assert.equal((await stat(dest)).ino, ino);
  });

  it('never overwrites an earlier trash entry: later ones get a numbered suffix', async () => {
    const hashes: string[] = [];
    for (const content of ['first', 'second', 'third']) {
      await writeFile(join(root, 'notes.md'), content);
      hashes.push(sha256(Buffer.from(content)));
      await moveToTrash(root, 'notes.md', STAMP);
    }
    await writeFile(join(root, '.env'), 'dotfile');
    await moveToTrash(root, '.env', STAMP);
    await writeFile(join(root, '.env'), 'dotfile again');
    const dotDest = await moveToTrash(root, '.env', STAMP);
    assert.equal(dotDest, join(root, TRASH_DIR, STAMP, '.env (1)'));
    const dir = join(root, TRASH_DIR, STAMP);
    assert.equal(await readFile(join(dir, 'notes.md'), 'utf8'), 'first');
    assert.equal(await readFile(join(dir, 'notes (1).md'), 'utf8'), 'second');
    assert.equal(await readFile(join(dir, 'notes (2).md'), 'utf8'), 'third');
  });

  it('when an earlier trashed file sits where a directory is needed, uses a sibling stamp folder', async () => {
    await writeFile(join(root, 'clash'), 'was a file');
    await moveToTrash(root, 'clash', STAMP);
    await mkdir(join(root, 'clash'));
    await writeFile(join(root, 'clash/inner.txt'), 'now a dir');
    const dest = await moveToTrash(root, 'clash/inner.txt', STAMP);
    assert.equal(dest, join(root, TRASH_DIR, `${STAMP}-1`, 'clash/inner.txt'));
    assert.equal(await readFile(join(root, TRASH_DIR, STAMP, 'clash'), 'utf8'), 'was a file');
  });

  it('refuses paths that escape the folder, internal paths, bad stamps and non-files, moving nothing', async () => {
    await mkdir(join(base, 'outside'), { recursive: true });
    await writeFile(join(base, 'outside/secret'), 'keep me');
    await writeFile(join(root, 'stay.txt'), 'stay');
    await mkdir(join(root, 'a-dir'), { recursive: true });
    const before = await fileHashes(base);
    await assert.rejects(moveToTrash(root, '../outside/secret', STAMP), UnsafePathError);
    await assert.rejects(moveToTrash(root, '/etc/passwd', STAMP), UnsafePathError);
    await assert.rejects(moveToTrash(root, 'a\\..\\..\\x', STAMP), UnsafePathError);
    await assert.rejects(moveToTrash(root, `${TRASH_DIR}/${STAMP}/notes.md`, STAMP), InternalPathError);
    await assert.rejects(moveToTrash(root, '.git/config', STAMP), InternalPathError);
    await assert.rejects(moveToTrash(root, 'stay.txt', '../escape'), UnsafePathError);
    await assert.rejects(moveToTrash(root, 'stay.txt', 'a/b'), UnsafePathError);
    await assert.rejects(moveToTrash(root, 'a-dir', STAMP), NotRegularFileError);
    await assert.rejects(moveToTrash(root, 'missing.txt', STAMP), NotFoundError);
    assert.deepEqual(await fileHashes(base), before);
    assert.equal(await readFile(join(root, 'stay.txt'), 'utf8'), 'stay');
  });

  // Windows needs extra privileges to create symlinks.
  if (process.platform !== 'win32') it('refuses to follow a symlinked source parent or a symlinked trash folder out of the root', async () => {
    const r = join(base, 'linked');
    await mkdir(join(base, 'elsewhere'), { recursive: true });
    await mkdir(r);
    await writeFile(join(base, 'elsewhere/victim.txt'), 'outside');
    await symlink(join(base, 'elsewhere'), join(r, 'out'));
    await assert.rejects(moveToTrash(r, 'out/victim.txt', STAMP), UnsafePathError);
    assert.equal(await readFile(join(base, 'elsewhere/victim.txt'), 'utf8'), 'outside');

    await mkdir(join(base, 'evil-trash'));
    await symlink(join(base, 'evil-trash'), join(r, TRASH_DIR));
    await writeFile(join(r, 'local.txt'), 'local');
    await assert.rejects(moveToTrash(r, 'local.txt', STAMP), UnsafePathError);
    assert.equal(await readFile(join(r, 'local.txt'), 'utf8'), 'local');
    assert.deepEqual(await readdir(join(base, 'evil-trash')), []);
  });
});

describe('removeEmptyDirs', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-rmdirs-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('removes an emptied chain bottom-up but keeps non-empty directories and the root', async () => {
    const root = join(base, 'chain');
    await mkdir(join(root, 'a/b/c'), { recursive: true });
    await mkdir(join(root, 'a/b/d'), { recursive: true });
    await mkdir(join(root, 'x/y'), { recursive: true });
    await writeFile(join(root, 'x/kept.log'), 'ignored file left behind');
    const removed = await removeEmptyDirs(root, ['a/b/c', 'a/b/d', 'x/y']);
    assert.deepEqual(removed, ['a/b/c', 'a/b/d', 'a/b', 'a', 'x/y']);
    assert.deepEqual((await readdir(root)).sort(), ['x']);
    assert.equal(await readFile(join(root, 'x/kept.log'), 'utf8'), 'ignored file left behind');

    // Emptying the whole folder still leaves the folder itself.
    await rm(join(root, 'x/kept.log'));
    assert.deepEqual(await removeEmptyDirs(root, ['x']), ['x']);
    assert.ok((await stat(root)).isDirectory());
  });

  it('never removes internal directories, kept directories or files, and tolerates missing ones', async () => {
    const root = join(base, 'guarded');
    await mkdir(join(root, TRASH_DIR), { recursive: true });
    await mkdir(join(root, '.git/empty'), { recursive: true });
    await mkdir(join(root, 'remote-has/local-only'), { recursive: true });
    await writeFile(join(root, 'plain-file'), '');
    const removed = await removeEmptyDirs(root, [TRASH_DIR, '.git/empty', 'remote-has/local-only', 'plain-file', 'gone/child'], {
      keep: new Set(['remote-has']),
    });
    assert.deepEqual(removed, ['remote-has/local-only']);
    assert.ok((await stat(join(root, TRASH_DIR))).isDirectory());
    assert.ok((await stat(join(root, '.git/empty'))).isDirectory());
    assert.ok((await stat(join(root, 'remote-has'))).isDirectory());
    assert.ok((await stat(join(root, 'plain-file'))).isFile());
  });

  it('refuses paths outside the folder', async () => {
    const root = join(base, 'escape');
    await mkdir(join(base, 'neighbour'), { recursive: true });
    await mkdir(root);
    await assert.rejects(removeEmptyDirs(root, ['../neighbour']), UnsafePathError);
    assert.ok((await stat(join(base, 'neighbour'))).isDirectory());
  });

  if (process.platform !== 'win32') it('does not follow symlinks to empty directories, inside or out', async () => {
    const root = join(base, 'linkdir');
    await mkdir(join(base, 'empty-outside'), { recursive: true });
    await mkdir(join(root, 'empty-inside'), { recursive: true });
    await symlink(join(base, 'empty-outside'), join(root, 'out'));
    await symlink(join(root, 'empty-inside'), join(root, 'in'));
    await assert.rejects(removeEmptyDirs(root, ['out']), UnsafePathError);
    await assert.rejects(removeEmptyDirs(root, ['out/sub']), UnsafePathError);
    assert.deepEqual(await removeEmptyDirs(root, ['in']), []);
    assert.ok((await stat(join(base, 'empty-outside'))).isDirectory());
    assert.ok((await stat(join(root, 'empty-inside'))).isDirectory());
  });
});
