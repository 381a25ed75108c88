import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE, hashChunk } from './chunking.js';
import { LocalFolderSource } from './folder-source.js';
import { applyInPlace, chunksToJournal, inPlaceChunks, recoverInterruptedPatches, StagedChunkError, undoJournalPathFor } from './in-place-patch.js';
import { STAGING_DIR, StagingFile } from './staging-file.js';
import { writeUndoJournal, type UndoHeader } from './undo-journal.js';
import { seededBytes, tempDir } from '../test-support/trees.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const OLD = seededBytes('old', 8 * CHUNK_SIZE + 300);

/** A pid that certainly belongs to no running process: one of a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

/** A folder with `f.bin` = OLD, and an undo journal for chunks `chunks` written as process `pid` would. */
async function journaled(t: TestContext, chunks: number[], pid: number) {
  const root = await tempDir(t, 'in-place');
  const abs = join(root, 'f.bin');
  await writeFile(abs, OLD);
  const before = await stat(abs);
  await mkdir(join(root, STAGING_DIR));
  const journalPath = undoJournalPathFor(root, 'f.bin');
  const head: UndoHeader = { path: 'f.bin', dev: before.dev, ino: before.ino, pid, oldSize: before.size, oldMtimeMs: before.mtimeMs, oldMode: before.mode & 0o7777, chunks };
  const fh = await open(abs, 'r');
  await writeUndoJournal(journalPath, head, fh);
  await fh.close();
  return { root, abs, journalPath, mtimeMs: Math.floor(before.mtimeMs) };
}

/** What a killed update leaves: some journaled chunks rewritten, one half-written, the file grown. */
async function scribble(abs: string): Promise<void> {
  const fh = await open(abs, 'r+');
  await fh.write(seededBytes('new-2', CHUNK_SIZE), 0, CHUNK_SIZE, 2 * CHUNK_SIZE);
  await fh.write(seededBytes('new-5', CHUNK_SIZE / 2), 0, CHUNK_SIZE / 2, 5 * CHUNK_SIZE);
  await fh.write(seededBytes('grown', 3000), 0, 3000, 9 * CHUNK_SIZE);
  await fh.close();
}

test('inPlaceChunks: the changed chunks while at most half the file changes and the journal holds at most half the old one', () => {
  const h = (s: string) => hashChunk(Buffer.from(s));
  const local = ['a', 'b', 'c', 'd'].map(h);
  assert.deepEqual(inPlaceChunks(['a', 'x', 'c', 'd'].map(h), local), [1]);
  assert.deepEqual(inPlaceChunks(['x', 'y', 'c', 'd'].map(h), local), [0, 1]);
  assert.equal(inPlaceChunks(['x', 'y', 'z', 'd'].map(h), local), undefined);
  assert.deepEqual(inPlaceChunks(['a', 'b', 'c', 'd', 'e'].map(h), local), [4], 'growth writes the new chunk and journals nothing');
  assert.deepEqual(inPlaceChunks(['a', 'b'].map(h), local), [], 'a shrink by half writes nothing and journals the half cut off');
  assert.equal(inPlaceChunks(['a'].map(h), local), undefined, 'a one-chunk file is always replaced');
  assert.equal(inPlaceChunks(['a', 'x'].map(h), local), undefined, 'cutting two chunks and rewriting one journals three of four');
});

test('chunksToJournal: the chunks written that existed, and every chunk a shrink cuts off', () => {
  assert.deepEqual(chunksToJournal([1, 5], 8 * CHUNK_SIZE, 8 * CHUNK_SIZE), [1, 5]);
  assert.deepEqual(chunksToJournal([1, 8, 9], 8 * CHUNK_SIZE + 10, 10 * CHUNK_SIZE), [1, 8], 'chunks past the old end hold nothing old');
  assert.deepEqual(chunksToJournal([5], 8 * CHUNK_SIZE + 10, 5 * CHUNK_SIZE + 3), [5, 6, 7, 8], 'the chunks cut off are journalled');
});

test('a killed in-place update is undone by the next scan: old bytes, size and mtime back, journal gone', async (t) => {
  const { root, abs, journalPath, mtimeMs } = await journaled(t, [2, 5, 8], deadPid());
  await scribble(abs);
  const source = new LocalFolderSource(root);
  const scan = await source.scan();
  assert.equal(sha(await readFile(abs)), sha(OLD));
  assert.equal(Math.floor((await stat(abs)).mtimeMs), mtimeMs);
  assert.deepEqual(await readdir(join(root, STAGING_DIR)), [], 'journal removed');
  assert.deepEqual(scan.warnings.map((w) => w.path), ['f.bin'], 'the restore is reported');
  assert.deepEqual(scan.entries.map((e) => e.path), ['f.bin'], 'the journal is never listed');
  assert.equal(journalPath.startsWith(join(root, STAGING_DIR)), true);
});

test('a shrink killed after its truncate is undone too: the chunks cut off come back from the journal', async (t) => {
  const newSize = 5 * CHUNK_SIZE + 3;
  const { root, abs } = await journaled(t, chunksToJournal([5], OLD.length, newSize), deadPid());
  const fh = await open(abs, 'r+');
  await fh.write(Buffer.from('new'), 0, 3, 5 * CHUNK_SIZE);
  await fh.truncate(newSize);
  await fh.close();
  assert.deepEqual(await recoverInterruptedPatches(root), ['f.bin']);
  assert.equal(sha(await readFile(abs)), sha(OLD));
});

test('a torn journal is dropped and its file left alone: its update never began', async (t) => {
  const { root, abs, journalPath } = await journaled(t, [2, 5], deadPid());
  const edited = Buffer.concat([OLD.subarray(0, 100), Buffer.from('user edit'), OLD.subarray(109)]);
  await writeFile(abs, edited);
  await truncate(journalPath, (await stat(journalPath)).size - 1);
  assert.deepEqual(await recoverInterruptedPatches(root), []);
  assert.equal(sha(await readFile(abs)), sha(edited));
  assert.deepEqual(await readdir(join(root, STAGING_DIR)), []);
});

test("a journal whose process still runs is left alone; one whose file was replaced is dropped without touching it", async (t) => {
  const live = await journaled(t, [2], process.ppid);
  await scribble(live.abs);
  assert.deepEqual(await recoverInterruptedPatches(live.root), []);
  assert.notEqual(sha(await readFile(live.abs)), sha(OLD), 'the running update is not undone under it');
  assert.deepEqual(await readdir(join(live.root, STAGING_DIR)), [live.journalPath.split('/').pop()]);

  const replaced = await journaled(t, [2], deadPid());
  const other = seededBytes('replacement', 3 * CHUNK_SIZE);
  await writeFile(join(replaced.root, 'new.tmp'), other);
  await rename(join(replaced.root, 'new.tmp'), replaced.abs);
  assert.deepEqual(await recoverInterruptedPatches(replaced.root), []);
  assert.equal(sha(await readFile(replaced.abs)), sha(other));
  assert.deepEqual(await readdir(join(replaced.root, STAGING_DIR)), []);
});

test('an in-place update that fails after writing some chunks puts the old version back at once', async (t) => {
  const root = await tempDir(t, 'in-place');
  const abs = join(root, 'f.bin');
  await writeFile(abs, OLD);
  const before = await stat(abs);
  const newChunk = seededBytes('new', CHUNK_SIZE);
  const staging = await StagingFile.open(root, 'f.bin', { size: OLD.length });
  await staging.writeChunk(1, newChunk);
  await staging.writeChunk(6, seededBytes('not what was announced', CHUNK_SIZE));
  const hashes = Array.from({ length: 9 }, (_, i) => hashChunk(i === 6 ? seededBytes('announced', CHUNK_SIZE) : i === 1 ? newChunk : OLD.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)));
  await assert.rejects(
    applyInPlace(
      { rel: 'f.bin', destAbs: abs, journalPath: undoJournalPathFor(root, 'f.bin'), destBefore: { size: before.size, mtimeMs: Math.floor(before.mtimeMs) }, chunks: [1, 6], size: OLD.length, mtimeMs: 1_600_000_000_000, mode: 0o644, hashes },
      staging,
    ),
    StagedChunkError,
  );
  await staging.discard();
  assert.equal(sha(await readFile(abs)), sha(OLD), 'chunk 1 was written, then undone');
  assert.equal(Math.floor((await stat(abs)).mtimeMs), Math.floor(before.mtimeMs));
  assert.deepEqual(await readdir(join(root, STAGING_DIR)), [], 'no journal left');
});
