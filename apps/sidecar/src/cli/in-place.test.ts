import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { undoJournalPathFor } from '../engine/in-place-patch.js';
import { STAGING_DIR } from '../engine/staging-file.js';
import { writeUndoJournal } from '../engine/undo-journal.js';
import { passLines, runCli, startServeProcess } from '../test-support/cli-process.js';
import { hashTree, overwriteAt, seededBytes, tempDirs, writeTree } from '../test-support/trees.js';

test('connect --in-place fetches one changed chunk into the same file, and first undoes an update a killed process left half done', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'disk.img': seededBytes('disk', 24 * CHUNK_SIZE) });
  const server = await startServeProcess(t, sh, served);
  const connect = async () => {
    const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json', '--in-place'], { home: ch });
    assert.equal(run.code, 0, run.stderr);
    return passLines(run)[0] as unknown as { filesChanged: number; chunksFetched: number };
  };
  await connect();
  const ino = (await stat(join(dest, 'disk.img'))).ino;

  await overwriteAt(join(served, 'disk.img'), 7 * CHUNK_SIZE, seededBytes('edit-1', CHUNK_SIZE));
  assert.equal((await connect()).chunksFetched, 1);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  assert.equal((await stat(join(dest, 'disk.img'))).ino, ino, 'updated in place');

  // What a process killed mid-update leaves: a journal of chunks 3 and 11, those chunks half rewritten.
  const local = join(dest, 'disk.img');
  const st = await stat(local);
  await mkdir(join(dest, STAGING_DIR), { recursive: true });
  const fh = await open(local, 'r+');
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
  await writeUndoJournal(undoJournalPathFor(dest, 'disk.img'), { path: 'disk.img', dev: st.dev, ino: st.ino, pid: deadPid, oldSize: st.size, oldMtimeMs: st.mtimeMs, oldMode: st.mode & 0o7777, chunks: [3, 11] }, fh);
  await fh.write(seededBytes('torn-3', CHUNK_SIZE / 2), 0, CHUNK_SIZE / 2, 3 * CHUNK_SIZE);
  await fh.write(seededBytes('torn-11', CHUNK_SIZE), 0, CHUNK_SIZE, 11 * CHUNK_SIZE);
  await fh.close();

  await overwriteAt(join(served, 'disk.img'), 20 * CHUNK_SIZE, seededBytes('edit-2', CHUNK_SIZE));
  // Restored first, the file differs from the server in the one edited chunk only.
  assert.equal((await connect()).chunksFetched, 1, 'the torn chunks were restored from the journal, not fetched');
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  assert.equal((await stat(local)).ino, ino);
  assert.deepEqual(await readdir(dest), ['disk.img'], 'journal and staging are gone');
});
