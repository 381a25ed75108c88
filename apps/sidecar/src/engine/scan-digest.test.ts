import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalFolderSource } from './folder-source.js';
import { isInternalName } from './internal-names.js';
import { quickScanDigest } from './scan-digest.js';
import { DirectoryWatch } from '../fs/directory-watch.js';
import { tempDir, writeTree, type TreeSpec } from '../test-support/trees.js';

/** Names whose byte order differs from a depth-first walk's ('-', ' ' and '.' sort before '/'). */
const TREE: TreeSpec = {
  a: 'a file',
  'a b': 'space',
  'a-b/x': 'dash folder',
  'a.txt': 'dot',
  'dir/a': 'nested',
  'dir/sub/deeper/file.bin': Buffer.alloc(70_000, 7),
  'dir/empty': null,
  'Upper/lower': 'case',
  '_/~': 'punctuation',
  '.hidden': 'synced like any other',
  'sub/.leafsyncignore': 'only the root one holds rules',
  // Internal names, in any case and at any depth: never listed by either.
  '.git/config': 'internal',
  'dir/.GIT/HEAD': 'internal',
  'dir/file.part': 'internal',
  'DIR2/FILE.PART': 'internal',
  '.leafsync_trash/old': 'internal',
  '.leafsync_tmp/staged.part': 'a staging file, no journal',
};

async function plainFolder(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t, 'quick-digest');
  await writeTree(root, TREE);
  await chmod(join(root, 'a'), 0o600);
  await chmod(join(root, 'dir/sub'), 0o700);
  await utimes(join(root, 'a.txt'), 1_700_000_000.123456, 1_600_000_000.987654);
  await symlink('a', join(root, 'link-to-file'));
  await symlink('dir', join(root, 'link-to-dir'));
  execFileSync('mkfifo', [join(root, 'dir/fifo')]);
  return root;
}

const scanned = async (root: string) => (await new LocalFolderSource(root, { readIgnoreFile: true }).scan()).digest;

test('the quick digest is the scan digest, to the bit: same entries, order, times, modes and inodes', async (t) => {
  const root = await plainFolder(t);
  const quick = await quickScanDigest(root);
  assert.ok(quick !== undefined, 'a plain folder is walked on the thread pool');
  assert.deepEqual(quick, await scanned(root));
  assert.deepEqual(await new LocalFolderSource(root, { readIgnoreFile: true }).quickDigest(), quick);
});

test('the quick digest changes as the scan digest does: content, times, modes, names, a new folder', async (t) => {
  const root = await plainFolder(t);
  const edits: Array<[string, () => Promise<void>]> = [
    ['rewrite', () => writeFile(join(root, 'dir/a'), 'other')],
    ['mtime', () => utimes(join(root, 'a b'), 1_600_000_000, 1_600_000_000.5)],
    ['mode', () => chmod(join(root, 'a'), 0o644)],
    ['new folder', () => mkdir(join(root, 'dir/new'))],
    ['deletion', () => rm(join(root, 'a-b'), { recursive: true })],
  ];
  let before = await quickScanDigest(root);
  for (const [what, edit] of edits) {
    await edit();
    const quick = await quickScanDigest(root);
    assert.notDeepEqual(quick, before, what);
    assert.deepEqual(quick, await scanned(root), what);
    before = quick;
  }
});

test('the quick digest gives up wherever a scan would judge something, and on a missing folder', async (t) => {
  const cases: Array<[string, TreeSpec]> = [
    ['a name that is not ASCII', { 'dir/ünïcode': '' }],
    ['a backslash', { 'dir/back\\slash': '' }],
    ['a control character', { 'dir/line\nbreak': '' }],
    ['a first name like a drive letter', { 'c:x': '' }],
    ['the rules file', { '.leafsyncignore': '*.tmp\n' }],
    ['an interrupted in-place update', { '.leafsync_tmp/abc.undo': 'journal' }],
  ];
  for (const [what, extra] of cases) {
    const root = await plainFolder(t);
    await writeTree(root, extra);
    assert.equal(await quickScanDigest(root), undefined, what);
  }
  assert.equal(await quickScanDigest(join(await tempDir(t, 'quick-digest'), 'missing')), undefined);
});

test('a source with a watch, a single file or rules of its own leaves the digest to its scan', async (t) => {
  const root = await plainFolder(t);
  const watch = new DirectoryWatch({ ignoreName: isInternalName });
  t.after(() => watch.close());
  assert.equal(await new LocalFolderSource(root, { watch }).quickDigest(), undefined);
  assert.equal(await new LocalFolderSource(root, { only: 'a' }).quickDigest(), undefined);
  assert.equal(await new LocalFolderSource(root, { ignore: () => false }).quickDigest(), undefined);
});
