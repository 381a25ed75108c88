import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ignoreMatcherFromText } from './ignore-rules.js';
import { planMirror } from './mirror-plan.js';
import { underUnreadable } from './unreadable.js';
import { scanFolder } from './scanner.js';
import { TRASH_DIR, moveToTrash, removeEmptyDirs, trashStamp } from './trash.js';

type E = { path: string; type: 'file' | 'dir' };
const f = (path: string): E => ({ path, type: 'file' });
const d = (path: string): E => ({ path, type: 'dir' });
const noRules = ignoreMatcherFromText('');
const rules = ignoreMatcherFromText('*.log\n!keep.log\nbuild/\n');

describe('planMirror', () => {
  it('keeps everything under a directory the server could not list, in any letter case', () => {
    const plan = planMirror([d('locked'), f('a.txt')], [d('locked'), f('locked/x'), d('Locked/deep'), f('Locked/deep/y'), f('a.txt'), f('stale.txt')], {
      ignore: noRules,
      unreadable: underUnreadable(['locked']),
    });
    assert.deepEqual(plan, { trash: ['stale.txt'], emptyDirCandidates: [] });
  });

  it('trashes local-only files and keeps files the server has', () => {
    const plan = planMirror([f('a.txt'), d('sub'), f('sub/b.txt')], [f('a.txt'), f('z.txt'), d('sub'), f('sub/b.txt'), f('sub/old.txt')], {
      ignore: noRules,
    });
    assert.deepEqual(plan, { trash: ['sub/old.txt', 'z.txt'], emptyDirCandidates: [] });
  });

  it('keeps local-only files the rules ignore, including everything under an ignored dir', () => {
    const plan = planMirror([f('a.txt')], [f('a.txt'), f('debug.log'), f('keep.log'), d('build'), f('build/out.o'), d('src'), d('src/build'), f('src/build/x'), d('notes'), f('notes/build')], {
      ignore: rules,
    });
    // keep.log is un-ignored by !keep.log, so it is mirrored like any file; a *file* named build is not build/.
    assert.deepEqual(plan.trash, ['keep.log', 'notes/build']);
    assert.deepEqual(plan.emptyDirCandidates, ['notes', 'src']);
    assert.equal(plan.halt, undefined);
  });

  it('never touches internal paths, even if a caller passes them in', () => {
    const plan = planMirror([f('a.txt')], [f('a.txt'), d('.git'), f('.git/config'), d(TRASH_DIR), f(`${TRASH_DIR}/x/y`), f('dl.part'), d('.leafsync_tmp')], {
      ignore: () => false,
    });
    assert.deepEqual(plan, { trash: [], emptyDirCandidates: [] });
  });

  it('halts when the server folder is empty and the local one has files', () => {
    const plan = planMirror([], [d('photos'), f('photos/1.jpg'), f('notes.md')], { ignore: noRules });
    assert.deepEqual(plan.trash, []);
    assert.deepEqual(plan.emptyDirCandidates, []);
    assert.match(plan.halt ?? '', /^the server's folder is empty or missing while the local folder has 2 file\(s\) — not mirroring deletes; nothing was moved to the trash\./);
    assert.match(plan.halt ?? '', /without --mirror/);
  });

  it('does not halt for an empty server when there is nothing local to lose', () => {
    assert.deepEqual(planMirror([], [], { ignore: noRules }), { trash: [], emptyDirCandidates: [] });
    // Only ignored files locally: nothing would be trashed, so nothing to protect.
    assert.deepEqual(planMirror([], [f('x.log'), d('build'), f('build/o')], { ignore: rules }), { trash: [], emptyDirCandidates: [] });
    // Only empty directories: they may go; rmdir refuses any that are not empty.
    assert.deepEqual(planMirror([], [d('a'), d('a/b')], { ignore: noRules }), { trash: [], emptyDirCandidates: ['a/b', 'a'] });
  });

  it('plans nothing in single-file mode, not even a halt', () => {
    assert.deepEqual(planMirror([f('one.txt')], [f('one.txt'), f('other.txt')], { ignore: noRules, only: 'one.txt' }), { trash: [], emptyDirCandidates: [] });
    assert.deepEqual(planMirror([], [f('other.txt')], { ignore: noRules, only: 'one.txt' }), { trash: [], emptyDirCandidates: [] });
  });

  it('leaves type conflicts (and what is under them) to the pull', () => {
    const plan = planMirror(
      [d('was-file'), f('was-dir'), f('keep')],
      [f('was-file'), d('was-dir'), f('was-dir/inner.txt'), d('was-dir/deeper'), f('keep')],
      { ignore: noRules },
    );
    assert.deepEqual(plan, { trash: [], emptyDirCandidates: [] });
  });

  it('keeps a local file the server has in another letter case', () => {
    assert.deepEqual(planMirror([f('README.md')], [f('Readme.md')], { ignore: noRules }).trash, []);
  });

  it('orders directory candidates deepest first', () => {
    const plan = planMirror([f('x')], [d('a'), d('a/b'), d('a/b/c'), d('z'), d('a/b2'), f('x'), d('m'), d('m/n')], { ignore: noRules });
    assert.deepEqual(plan.emptyDirCandidates, ['a/b/c', 'a/b', 'a/b2', 'm/n', 'a', 'm', 'z']);
  });
});

describe('planMirror applied to real folders', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-mirror-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('trashes local-only files, keeps ignored ones, and removes only directories left empty', async () => {
    const server = join(base, 'server');
    const local = join(base, 'local');
    for (const [root, files] of [
      [server, { 'keep.txt': 'k', 'docs/a.md': 'a', '.leafsyncignore': '*.log\n!keep.log\nbuild/\n' }],
      [local, { 'keep.txt': 'k', 'docs/a.md': 'a', 'docs/stale.md': 's', 'old/deep/x.bin': 'x', 'mixed/gone.txt': 'g', 'mixed/run.log': 'l', 'keep.log': 'kl', 'build/out.o': 'o', '.leafsyncignore': '*.log\n!keep.log\nbuild/\n' }],
    ] as const) {
      for (const [rel, content] of Object.entries(files)) {
        await mkdir(join(root, rel, '..'), { recursive: true });
        await writeFile(join(root, rel), content);
      }
    }
    const ignore = ignoreMatcherFromText(await readFile(join(local, '.leafsyncignore'), 'utf8'));
    const plan = planMirror(await scanFolder(server, { ignore }), await scanFolder(local, { ignore }), { ignore });
    assert.deepEqual(plan.trash, ['docs/stale.md', 'keep.log', 'mixed/gone.txt', 'old/deep/x.bin']);
    assert.deepEqual(plan.emptyDirCandidates, ['old/deep', 'mixed', 'old']);

    const stamp = trashStamp(new Date('2026-11-25T09:15:03Z'));
    for (const rel of plan.trash) await moveToTrash(local, rel, stamp);
    const removed = await removeEmptyDirs(local, plan.emptyDirCandidates);
    assert.deepEqual(removed, ['old/deep', 'old']);

    const after = (await scanFolder(local, { ignore })).map((e) => `${e.type}:${e.path}`);
    assert.deepEqual(after, ['file:.leafsyncignore', 'dir:docs', 'file:docs/a.md', 'file:keep.txt', 'dir:mixed']);
    // The ignored files are untouched and every trashed file is intact under the stamp.
    assert.equal(await readFile(join(local, 'mixed/run.log'), 'utf8'), 'l');
    assert.equal(await readFile(join(local, 'build/out.o'), 'utf8'), 'o');
    assert.equal(await readFile(join(local, TRASH_DIR, stamp, 'old/deep/x.bin'), 'utf8'), 'x');
    assert.equal(await readFile(join(local, TRASH_DIR, stamp, 'keep.log'), 'utf8'), 'kl');
    const trashed = (await readdir(join(local, TRASH_DIR, stamp), { recursive: true })).map((p) => String(p).replaceAll('\\', '/')).sort();
    assert.deepEqual(trashed, ['docs', 'docs/stale.md', 'keep.log', 'mixed', 'mixed/gone.txt', 'old', 'old/deep', 'old/deep/x.bin']);
    // The server is never pruned.
    assert.deepEqual((await scanFolder(server)).map((e) => e.path), ['.leafsyncignore', 'docs', 'docs/a.md', 'keep.txt']);
  });
});
