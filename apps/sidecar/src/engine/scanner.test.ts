import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { IgnoredPathError, InternalPathError, NotFoundError, NotRegularFileError, UnsafePathError } from './errors.js';
import { ignoreMatcherFromText, type IgnoreMatcher } from './ignore-rules.js';
import { scanFolder, scanFolderOnDisk, scanFolderWithWarnings, type ScanWarning } from './scanner.js';
import type { ScannedEntry } from './types.js';

/**
 * Root reads every directory, and CI runs as root: there the scan runs in a child process as
 * `nobody`, so the permission error is real either way.
 */
async function scanAsUnprivileged(root: string): Promise<{ entries: ScannedEntry[]; warnings: ScanWarning[] }> {
  if (process.getuid?.() !== 0) return scanFolderWithWarnings(root);
  for (let dir = root; dir !== tmpdir() && dir.length > 1; dir = join(dir, '..')) await chmod(dir, 0o755);
  const scanner = new URL('./scanner.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(scanner)}).then(async (m) => process.stdout.write(JSON.stringify(await m.scanFolderWithWarnings(${JSON.stringify(root)}))))`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: new URL('.', import.meta.url).pathname });
  return JSON.parse(out) as { entries: ScannedEntry[]; warnings: ScanWarning[] };
}

describe('scanFolder', () => {
  let base: string;
  let root: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-scan-'));
    root = join(base, 'root');
    await mkdir(join(root, 'a/b/c'), { recursive: true });
    await mkdir(join(root, 'empty-dir'));
    await writeFile(join(root, 'a/b/c/deep.txt'), 'deep');
    await writeFile(join(root, 'a/top.txt'), 'hello');
    await writeFile(join(root, 'empty.bin'), '');
    await writeFile(join(root, 'caf\u00e9.txt'), 'nfc');
    await writeFile(join(root, '日本.md'), 'ja');
    await chmod(join(root, 'a/top.txt'), 0o640);
    // Mid-millisecond, so float seconds cannot round it down a whole millisecond.
    await utimes(join(root, 'a/top.txt'), 1_600_000_000.1235, 1_600_000_000.1235);
    // Internal names: never scanned.
    await mkdir(join(root, '.git'));
    await writeFile(join(root, '.git/config'), 'x');
    await mkdir(join(root, '.leafsync_tmp'));
    await writeFile(join(root, '.leafsync_tmp/abc.part'), 'x');
    await mkdir(join(root, '.leafsync_trash/2024/a'), { recursive: true });
    await writeFile(join(root, 'a/download.part'), 'x');
    // Symlinks: never followed, never listed.
    await mkdir(join(base, 'outside'));
    await writeFile(join(base, 'outside/secret'), 'x');
    await symlink(join(base, 'outside'), join(root, 'link-dir'));
    await symlink(join(root, 'a/top.txt'), join(root, 'link-file'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('lists nested dirs, empty dir, empty file and Unicode names, sorted by UTF-8 bytes', async () => {
    const entries = await scanFolder(root);
    assert.deepEqual(
      entries.map((e) => `${e.type}:${e.path}`),
      [
        'dir:a', 'dir:a/b', 'dir:a/b/c', 'file:a/b/c/deep.txt', 'file:a/top.txt',
        'file:caf\u00e9.txt', 'dir:empty-dir', 'file:empty.bin', 'file:日本.md',
      ],
    );
    const top = entries.find((e) => e.path === 'a/top.txt');
    const st = await stat(join(root, 'a/top.txt'));
    assert.deepEqual(top, { path: 'a/top.txt', type: 'file', size: 5, mtimeMs: 1_600_000_000_123, mode: 0o640, ino: st.ino, diskPath: 'a/top.txt', ctimeMs: st.ctimeMs });
    assert.equal(entries.find((e) => e.path === 'empty.bin')?.size, 0);
    const dir = entries.find((e) => e.path === 'empty-dir');
    assert.equal(dir?.size, 0);
    assert.ok(entries.every((e) => Number.isInteger(e.mtimeMs)));
  });

  it('skips internal names and symlinks', async () => {
    const paths = (await scanFolder(root)).map((e) => e.path);
    for (const p of paths) {
      assert.ok(!/(^|\/)(\.git|\.leafsync_tmp|\.leafsync_trash)(\/|$)|\.part$|^link-/.test(p), `unexpected ${p}`);
    }
  });

  it('reports NFD names on disk as NFC but remembers the on-disk spelling', async (t) => {
    const nfdRoot = join(base, 'nfd');
    await mkdir(nfdRoot);
    const nfd = 're\u0301sume\u0301.txt';
    await writeFile(join(nfdRoot, nfd), 'x');
    const [entry] = await scanFolderOnDisk(nfdRoot);
    assert.equal(entry?.path, 'r\u00e9sum\u00e9.txt');
    // On normalisation-insensitive filesystems (macOS) readdir may already return NFC.
    if (entry?.diskPath === entry?.path) t.diagnostic('filesystem normalised the name itself');
    else assert.equal(entry?.diskPath, nfd);
  });


  it('keeps one of two names that are the same after NFC normalisation, and warns of the other', async (t) => {
    const twins = join(base, 'twins');
    await mkdir(join(twins, 'caf\u00e9'), { recursive: true });
    await writeFile(join(twins, 'caf\u00e9/a.txt'), 'x');
    await writeFile(join(twins, 'plain.txt'), 'x');
    // A normalisation-insensitive filesystem (macOS) holds one name for both spellings.
    const oneName = await mkdir(join(twins, 'cafe\u0301')).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'EEXIST');
    if (oneName) {
      t.diagnostic('this filesystem treats the two spellings as one name');
      const { entries, warnings } = await scanFolderWithWarnings(twins);
      assert.deepEqual([entries.map((e) => e.path), warnings], [['caf\u00e9', 'caf\u00e9/a.txt', 'plain.txt'], []]);
      return;
    }
    await writeFile(join(twins, 'cafe\u0301/b.txt'), 'x');
    const { entries, warnings } = await scanFolderWithWarnings(twins);
    // Which spelling wins depends on readdir's order; there is one directory and only its file.
    const paths = entries.map((e) => e.path);
    assert.equal(paths.length, 3, paths.join(', '));
    assert.equal(paths[0], 'caf\u00e9');
    assert.match(paths[1] ?? '', /^caf\u00e9\/[ab]\.txt$/);
    assert.equal(paths[2], 'plain.txt');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? '', /same after Unicode normalisation/);
  });
  it('skips an unreadable subdirectory with a warning', async () => {
    const r = join(base, 'perm');
    await mkdir(join(r, 'locked'), { recursive: true });
    await writeFile(join(r, 'locked/x'), 'x');
    await writeFile(join(r, 'ok.txt'), 'x');
    await chmod(join(r, 'locked'), 0o000);
    try {
      const { entries, warnings } = await scanAsUnprivileged(r);
      assert.deepEqual(entries.map((e) => e.path), ['locked', 'ok.txt']);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.path, 'locked');
      assert.match(warnings[0]?.message ?? '', /unreadable directory locked/);
      assert.equal(warnings[0]?.unreadable, true, 'what is under it is unknown, not absent');
    } finally {
      await chmod(join(r, 'locked'), 0o755);
    }
  });

  // Windows cannot create such names, so there is nothing to test there.
  if (process.platform !== 'win32') it('skips names that cannot be wire paths (backslash) with a warning', async () => {
    const r = join(base, 'odd');
    await mkdir(r);
    await writeFile(join(r, 'back\\slash'), 'x');
    await writeFile(join(r, 'fine'), 'x');
    const { entries, warnings } = await scanFolderWithWarnings(r);
    assert.deepEqual(entries.map((e) => e.path), ['fine']);
    assert.match(warnings[0]?.message ?? '', /backslash/);
  });

  if (process.platform !== 'win32') it('skips FIFOs and other special files', async () => {
    const r = join(base, 'fifo');
    await mkdir(r);
    execFileSync('mkfifo', [join(r, 'pipe')]);
    assert.deepEqual(await scanFolder(r), []);
  });

  it('only: returns just that file, and typed errors otherwise', async () => {
    const [entry, ...rest] = await scanFolder(root, { only: 'a/top.txt' });
    assert.equal(rest.length, 0);
    assert.equal(entry?.path, 'a/top.txt');
    assert.equal(entry?.size, 5);
    await assert.rejects(scanFolder(root, { only: 'a/missing.txt' }), NotFoundError);
    await assert.rejects(scanFolder(root, { only: 'a' }), NotRegularFileError);
    await assert.rejects(scanFolder(root, { only: 'link-file' }), NotRegularFileError);
    await assert.rejects(scanFolder(root, { only: '.git/config' }), InternalPathError);
    await assert.rejects(scanFolder(root, { only: '../outside/secret' }), UnsafePathError);
    await assert.rejects(scanFolder(root, { only: 'link-dir/secret' }), UnsafePathError);
  });

  it('signal: a scan nothing waits for any more stops at its next pause, with the signal\'s reason', async (t) => {
    const big = join(base, 'big');
    await mkdir(big);
    t.after(() => rm(big, { recursive: true, force: true }));
    await Promise.all(Array.from({ length: 600 }, (_, i) => writeFile(join(big, `f${i}`), '')));
    assert.equal((await scanFolderOnDisk(big)).length, 600);
    const stop = new AbortController();
    const scanning = scanFolderOnDisk(big, { signal: stop.signal });
    stop.abort(new Error('nobody waits'));
    await assert.rejects(scanning, /nobody waits/);
  });

  it('a missing root is a typed NotFoundError', async () => {
    await assert.rejects(scanFolder(join(base, 'nope')), NotFoundError);
  });

  it('ignore: skips excluded entries and never descends into excluded directories', async () => {
    const r = join(base, 'ign');
    await mkdir(join(r, 'build/sub'), { recursive: true });
    await mkdir(join(r, 'src/build'), { recursive: true });
    await writeFile(join(r, 'build/sub/out.o'), 'x');
    await writeFile(join(r, 'src/build/gen.c'), 'x');
    await writeFile(join(r, 'src/main.c'), 'x');
    await writeFile(join(r, 'src/debug.log'), 'x');
    await writeFile(join(r, 'keep.log'), 'x');
    await writeFile(join(r, '.leafsyncignore'), '*.log\n!keep.log\nbuild/\n');
    const rules = ignoreMatcherFromText('*.log\n!keep.log\nbuild/\n');
    const asked: string[] = [];
    const ignore: IgnoreMatcher = (rel, isDir) => {
      asked.push(rel);
      return rules(rel, isDir);
    };
    const { entries, warnings } = await scanFolderWithWarnings(r, { ignore });
    assert.deepEqual(entries.map((e) => `${e.type}:${e.path}`), ['file:.leafsyncignore', 'file:keep.log', 'dir:src', 'file:src/main.c']);
    assert.deepEqual(warnings, []);
    // Pruned, not filtered: nothing below an excluded directory was even looked at.
    assert.ok(!asked.some((p) => p.startsWith('build/') || p.startsWith('src/build/')), asked.join(', '));
    assert.deepEqual((await scanFolderOnDisk(r, { ignore })).map((e) => e.path), entries.map((e) => e.path));
  });

  it('ignore with only: an excluded file is refused by name with a typed error', async () => {
    const ignore = ignoreMatcherFromText('*.txt\n');
    await assert.rejects(scanFolder(root, { only: 'a/top.txt', ignore }), IgnoredPathError);
    assert.equal((await scanFolder(root, { only: 'empty.bin', ignore }))[0]?.path, 'empty.bin');
  });
});
