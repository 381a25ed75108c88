import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FolderBusyError, folderLocksAvailable, holdsWriteLock, lockFolderForWriting } from './folder-lock.js';

async function tempFolder(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'leafsync-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('on Linux folder locks are available (npm run build compiles native/fs_lock.c)', { skip: process.platform !== 'linux' }, () => {
  assert.equal(folderLocksAvailable(), true);
});

test('a folder has one writer at a time in this process; release lets the next in and leaves nothing behind', { skip: !folderLocksAvailable() }, async (t) => {
  const folder = await tempFolder(t);
  const first = await lockFolderForWriting(folder);
  assert.equal(holdsWriteLock(folder), true);
  await assert.rejects(lockFolderForWriting(folder), (err: unknown) => {
    assert.ok(err instanceof FolderBusyError);
    assert.equal(err.code, 'FOLDER_BUSY');
    assert.match(err.message, new RegExp(`already writing into ${folder.replace(/[/\\]/g, '.')}`));
    return true;
  });
  const other = await tempFolder(t);
  const elsewhere = await lockFolderForWriting(other);
  assert.equal(holdsWriteLock(other), true, 'another folder is not affected');
  await elsewhere.release();
  await first.release();
  assert.equal(holdsWriteLock(folder), false);
  assert.deepEqual(await readdir(folder), [], 'the lock and its staging folder are gone');
  const second = await lockFolderForWriting(folder);
  assert.equal(holdsWriteLock(folder), true);
  await second.release();
});

test('a lock held by another process keeps us out until that process is killed, then not a moment longer', { skip: !folderLocksAvailable() }, async (t) => {
  const folder = await tempFolder(t);
  const holder = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', `const m = await import(${JSON.stringify(new URL('./folder-lock.ts', import.meta.url).href)}); await m.lockFolderForWriting(process.argv[1]); console.log('locked'); setInterval(() => {}, 1000);`, folder],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => void holder.kill('SIGKILL'));
  const [line] = (await once(holder.stdout, 'data')) as [Buffer];
  assert.equal(line.toString().trim(), 'locked');
  await assert.rejects(lockFolderForWriting(folder), FolderBusyError);
  holder.kill('SIGKILL');
  await once(holder, 'exit');
  // No stale lock to wait out: the kernel dropped it with the process.
  const mine = await lockFolderForWriting(folder);
  assert.equal(holdsWriteLock(folder), true);
  await mine.release();
});
