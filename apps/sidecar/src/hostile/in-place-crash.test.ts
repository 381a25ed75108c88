import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { recoverInterruptedPatches } from '../engine/in-place-patch.js';
import { STAGING_DIR } from '../engine/staging-file.js';
import { UNDO_SUFFIX } from '../engine/undo-journal.js';
import { runCli, startConnectProcess, startServeProcess } from '../test-support/cli-process.js';
import { seededBytes, tempDirs, writeTree } from '../test-support/trees.js';
import { mulberry32 } from '../test-support/udp-relay.js';

const ROUNDS = 8;
const CHUNKS = 48;
const CHANGED = 20;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Polls the local file until its first write lands (its mtime moves): the journal is on disk by then. */
async function untilWriting(local: string, mtimeMs: number, gone: Promise<unknown>): Promise<boolean> {
  let exited = false;
  void gone.then(() => (exited = true));
  while (!exited) {
    if ((await stat(local)).mtimeMs !== mtimeMs) return true;
    await new Promise((r) => setImmediate(r));
  }
  return false;
}

test(`in-place crashes: ${ROUNDS} connect --in-place processes SIGKILLed as they start writing chunks over the file; the file is old or new, never mixed, once the journal is played back`, { timeout: 240_000 }, async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const random = mulberry32(11);
  await writeTree(served, { 'vm.img': seededBytes('vm-0', CHUNKS * CHUNK_SIZE) });
  const server = await startServeProcess(t, sh, served);
  const args = [server.address, dest, '--accept-first', '--in-place'];
  assert.equal((await runCli(['connect', ...args, '--once'], { home: ch })).code, 0);
  const local = join(dest, 'vm.img');
  const ino = (await stat(local)).ino;
  let killedMidWrite = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const before = sha(await readFile(local));
    // A new version on the server: CHANGED distinct chunks rewritten (under half, so in place).
    const fh = await open(join(served, 'vm.img'), 'r+');
    const order = Array.from({ length: CHUNKS }, (_, i) => i).sort(() => random() - 0.5);
    for (const i of order.slice(0, CHANGED)) await fh.write(seededBytes(`vm-${round}-${i}`, CHUNK_SIZE), 0, CHUNK_SIZE, i * CHUNK_SIZE);
    await fh.close();
    const after = sha(await readFile(join(served, 'vm.img')));

    const mtimeMs = (await stat(local)).mtimeMs;
    const client = startConnectProcess(t, ch, args);
    const caught = await untilWriting(local, mtimeMs, client.exited);
    await client.kill('SIGKILL');
    assert.ok(caught, `round ${round}: the client started writing before it ended (stderr: ${client.stderr.slice(-500)})`);
    const seen = sha(await readFile(local));
    if (seen !== before && seen !== after) killedMidWrite++;
    // What the next leafsync process does first.
    const restored = await recoverInterruptedPatches(dest);
    const now = sha(await readFile(local));
    assert.ok(now === before || now === after, `round ${round}: after the journal the file is the old or the new version (restored ${restored.join(', ') || 'nothing'})`);
    assert.equal((await stat(local)).ino, ino, 'always the same file');
    assert.deepEqual((await readdir(join(dest, STAGING_DIR)).catch(() => [])).filter((n) => n.endsWith(UNDO_SUFFIX)), [], 'no journal left');
    // Then a whole pass brings it to the new version.
    assert.equal((await runCli(['connect', ...args, '--once'], { home: ch })).code, 0);
    assert.equal(sha(await readFile(local)), after, `round ${round}: converged`);
  }
  console.log(`in-place crashes: ${killedMidWrite} of ${ROUNDS} kills left the file mixed until its journal was played back`);
  assert.ok(killedMidWrite >= 1, 'some kills landed while chunks were being written (else this test proves nothing about the journal)');
  assert.deepEqual(await readdir(dest), ['vm.img'], 'nothing of ours left behind');
});
