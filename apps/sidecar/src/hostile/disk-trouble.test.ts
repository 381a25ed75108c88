import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { runCli, passLines, startServeProcess } from '../test-support/cli-process.js';
import { hashTree, seededBytes, tempDirs, writeTree } from '../test-support/trees.js';

/*
 * These tests need root (mount, chattr), which the dev containers and CI both run as. Root
 * ignores permission bits, so "permission denied" is made with the immutable attribute, which
 * binds root too.
 */

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** For after-hooks: a failing hook would skip the ones after it (which stop the server processes). */
function cleanup(cmd: string, args: string[]): void {
  try {
    run(cmd, args);
  } catch {
    // Already undone, or never done because the test failed first.
  }
}

/** A tmpfs of `mib` MiB, unmounted (and its mount point removed) when the test ends. */
async function smallDisk(t: TestContext, mib: number): Promise<string> {
  const mountPoint = await mkdtemp(join(tmpdir(), 'leafsync-smalldisk-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', mountPoint]);
  } catch (err) {
    await rm(mountPoint, { recursive: true, force: true });
    throw new Error(`cannot mount a ${mib} MiB tmpfs (these tests need root): ${(err as Error).message}`);
  }
  t.after(async () => {
    cleanup('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  return mountPoint;
}

test('a destination that runs out of space fails clearly, keeps the old file, and completes once space is freed', { timeout: 90_000 }, async (t) => {
  const [served, sh, ch] = await tempDirs(t, 'served', 'sh', 'ch');
  const disk = await smallDisk(t, 16);
  const dest = join(disk, 'dest');
  const oldBig = seededBytes('disk-old', 2 * CHUNK_SIZE);
  await writeTree(dest, { 'big.bin': oldBig, 'keep.txt': 'kept\n' });
  // Leaves about 4.5 MiB free: counting the old copy's 2 MiB, the 6 MiB new version passes the
  // free-space pre-check, but staging it beside the old one really runs out of space.
  const filler = join(disk, 'filler.bin');
  await writeFile(filler, Buffer.alloc(9.5 * CHUNK_SIZE, 1));
  await writeTree(served, { 'big.bin': seededBytes('disk-new', 6 * CHUNK_SIZE + 99), 'keep.txt': 'kept\n', 'small/a.txt': 'a\n', 'small/b.txt': 'b\n' });
  const server = await startServeProcess(t, sh, served);

  const full = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: ch });
  assert.equal(full.code, 1, full.stderr);
  assert.match(full.stderr, /could not be synced.*no space left on device/i);
  assert.doesNotMatch(full.stderr, /\n\s+at /);
  const pass = passLines(full)[0] as unknown as { failures: Array<{ path: string; code: string; message: string }> };
  assert.deepEqual(pass.failures.map((f) => [f.path, f.code]), [['big.bin', 'ENOSPC']]);
  assert.match(pass.failures[0]!.message, /^ENOSPC: no space left on device/, 'a write that really ran out of space, not the pre-check');
  assert.equal(sha(await readFile(join(dest, 'big.bin'))), sha(oldBig), 'the old file is intact');
  const tree = await hashTree(dest);
  assert.equal(tree.get('small/a.txt'), sha('a\n'), 'files that fit still arrived');

  await rm(filler);
  const freed = await runCli(['connect', server.address, dest, '--once', '--json'], { home: ch });
  assert.equal(freed.code, 0, freed.stderr);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});

test('a destination file and folder that cannot be written (immutable, which binds root) fail alone; the rest syncs', { timeout: 90_000 }, async (t) => {
  const [served, sh, ch] = await tempDirs(t, 'served', 'sh', 'ch');
  // Not a tempDir: the attribute must come off before anything can delete the folder.
  const base = await mkdtemp(join(tmpdir(), 'leafsync-immutable-'));
  const dest = join(base, 'dest');
  await writeTree(dest, { 'locked.txt': 'old locked\n', 'frozen/x.txt': 'old x\n', 'free.txt': 'old free\n' });
  await writeTree(served, {
    'locked.txt': 'new locked\n',
    'frozen/x.txt': 'new x\n',
    'frozen/new.txt': 'new in frozen\n',
    'free.txt': 'new free\n',
    'other/y.bin': seededBytes('perm-y', CHUNK_SIZE + 5),
  });
  const locked = [join(dest, 'locked.txt'), join(dest, 'frozen')];
  t.after(async () => {
    for (const path of locked) cleanup('chattr', ['-i', path]);
    await rm(base, { recursive: true, force: true });
  });
  run('chattr', ['+i', ...locked]);
  const server = await startServeProcess(t, sh, served);

  const blocked = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: ch });
  assert.equal(blocked.code, 1, blocked.stderr);
  assert.match(blocked.stderr, /3 file\(s\) could not be synced.*operation not permitted/i);
  const pass = passLines(blocked)[0] as unknown as { failures: Array<{ path: string; code: string }> };
  assert.deepEqual(pass.failures.map((f) => [f.path, f.code]).sort(), [['frozen/new.txt', 'EPERM'], ['frozen/x.txt', 'EPERM'], ['locked.txt', 'EPERM']]);
  assert.equal(await readFile(join(dest, 'locked.txt'), 'utf8'), 'old locked\n');
  assert.equal(await readFile(join(dest, 'frozen/x.txt'), 'utf8'), 'old x\n');
  const want = await hashTree(served);
  const got = await hashTree(dest);
  for (const path of ['free.txt', 'other/y.bin']) assert.equal(got.get(path), want.get(path), `${path} synced despite the locked files`);

  run('chattr', ['-i', ...locked]);
  await mkdir(join(dest, 'frozen'), { recursive: true });
  const unlocked = await runCli(['connect', server.address, dest, '--once'], { home: ch });
  assert.equal(unlocked.code, 0, unlocked.stderr);
  assert.deepEqual(await hashTree(dest), want);
});
