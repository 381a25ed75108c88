import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { BitmapFile } from '../engine/bitmap-file.js';
import { STAGING_DIR } from '../engine/staging-file.js';
import { runCli, startServeProcess, startConnectProcess, passLines, type CliChild } from '../test-support/cli-process.js';
import { hashTree, seededBytes, tempDirs } from '../test-support/trees.js';

const MiB = CHUNK_SIZE;

/** The largest progress a connect reported so far: a lower bound of what its staging holds. */
function progressSoFar(cli: CliChild): number {
  return Math.max(0, ...cli.events.filter((e) => e.event === 'progress').map((e) => e.bytesFetched as number));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test('SIGKILL of the client mid-transfer: the restart fetches only what is missing (+2 MiB at most)', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const size = 200 * MiB;
  await writeFile(join(served, 'big.bin'), seededBytes('resume', size));
  const server = await startServeProcess(t, sh, served);
  // Slowed down so the kill lands mid-file on any machine, fast or slow.
  const first = startConnectProcess(t, ch, [server.address, dest, '--accept-first', '--once', '--rate-mbps', '400']);
  await first.waitFor((e) => e.event === 'progress' && (e.bytesFetched as number) >= 60 * MiB, '60 MiB of progress');
  await first.kill('SIGKILL');
  const before = progressSoFar(first);
  assert.ok(before < size, 'killed before the end');
  assert.equal(await exists(join(dest, 'big.bin')), false, 'no partial file is ever visible');

  const second = await runCli(['connect', server.address, dest, '--once', '--json'], { home: ch });
  assert.equal(second.code, 0, second.stderr);
  const pass = passLines(second)[0]!;
  assert.ok(pass.bytesFetched <= size - before + 2 * MiB, `second session fetched ${pass.bytesFetched} bytes; at most ${size - before + 2 * MiB} were missing`);
  assert.ok(pass.bytesFetched > 0);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  assert.deepEqual(await readdir(dest), ['big.bin'], 'staging cleaned up after completion');
});

test('a staged chunk corrupted between sessions is detected and refetched', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const size = 48 * MiB + 123;
  await writeFile(join(served, 'file.bin'), seededBytes('corrupt', size));
  const server = await startServeProcess(t, sh, served);
  const first = startConnectProcess(t, ch, [server.address, dest, '--accept-first', '--once', '--rate-mbps', '200']);
  await first.waitFor((e) => e.event === 'progress' && (e.bytesFetched as number) >= 12 * MiB, '12 MiB of progress');
  await first.kill('SIGKILL');

  const staging = join(dest, STAGING_DIR);
  const names = await readdir(staging);
  const part = names.find((n) => n.endsWith('.part'))!;
  const record = await BitmapFile.load(join(staging, part.replace(/\.part$/, '.bitmap')));
  assert.ok(record, 'a bitmap sits beside the staging file');
  const victim = record.bitmap.present()[0]!;
  assert.notEqual(victim, undefined, 'some chunk was recorded as good');
  const fh = await open(join(staging, part), 'r+');
  await fh.write(Buffer.alloc(4096, 0xee), 0, 4096, victim * MiB + 1000);
  await fh.close();

  const second = await runCli(['connect', server.address, dest, '--once', '--json'], { home: ch });
  assert.equal(second.code, 0, second.stderr);
  assert.ok(passLines(second)[0]!.bytesFetched >= MiB, 'at least the corrupted chunk travelled again');
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});

test('Ctrl-C stops cleanly: exit 0, nothing partial visible, staging kept with its bitmap', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeFile(join(served, 'f.bin'), seededBytes('sigint', 64 * MiB));
  const server = await startServeProcess(t, sh, served);
  const run = startConnectProcess(t, ch, [server.address, dest, '--accept-first', '--rate-mbps', '200']);
  await run.waitFor((e) => e.event === 'progress' && (e.bytesFetched as number) >= 8 * MiB, '8 MiB of progress');
  const exit = await run.kill('SIGINT');
  assert.equal(exit.code, 0, run.stderr);
  assert.equal(await exists(join(dest, 'f.bin')), false);
  const kept = (await readdir(join(dest, STAGING_DIR))).sort();
  assert.equal(kept.length, 2);
  assert.match(kept[0]!, /\.bitmap$/);
  assert.match(kept[1]!, /\.part$/);
});

test('the server killed mid-transfer and restarted: the running client recovers by itself', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeFile(join(served, 'big.bin'), seededBytes('server-kill', 96 * MiB));
  const first = await startServeProcess(t, sh, served);
  const client = startConnectProcess(t, ch, [first.address, dest, '--accept-first', '--rate-mbps', '200', '--interval', '1']);
  await client.waitFor((e) => e.event === 'progress' && (e.bytesFetched as number) >= 16 * MiB, '16 MiB of progress');
  await first.cli.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 2000));
  await startServeProcess(t, sh, served, ['--port', String(first.port)]);
  const pass = await client.waitFor((e) => e.event === 'pass' && (e.failures as unknown[]).length === 0 && (e.filesChanged as number) === 1, 'a complete pass after the restart', 120_000);
  assert.ok((pass.bytesFetched as number) < 96 * MiB, 'the pass after reconnecting resumed instead of starting over');
  assert.deepEqual(await hashTree(dest), await hashTree(served));
  assert.match(client.stderr, /reconnecting|retrying/);
  const exit = await client.kill('SIGINT');
  assert.equal(exit.code, 0, client.stderr);
});

test('the server file changes mid-transfer: no mix is ever finalized, good chunks are kept, the next pass gets the new version', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const size = 40 * MiB;
  await writeFile(join(served, 'moving.bin'), seededBytes('v1', size));
  const server = await startServeProcess(t, sh, served);
  const client = startConnectProcess(t, ch, [server.address, dest, '--accept-first', '--rate-mbps', '120', '--interval', '1', '--streams', '1']);
  await client.waitFor((e) => e.event === 'progress' && (e.bytesFetched as number) >= 8 * MiB, '8 MiB of progress');
  // Rewrite the last 16 MiB in place: the head already fetched stays valid.
  const fh = await open(join(served, 'moving.bin'), 'r+');
  await fh.write(seededBytes('v2', 16 * MiB), 0, 16 * MiB, size - 16 * MiB);
  await fh.close();
  const done = await client.waitFor((e) => e.event === 'pass' && (e.failures as unknown[]).length === 0 && (e.filesChanged as number) === 1, 'a pass that lands the new version', 120_000);
  const failed = client.events.filter((e) => e.event === 'pass' && (e.failures as unknown[]).length > 0);
  assert.ok(failed.length >= 1, 'the pass that saw the change reported it instead of finalizing');
  assert.match(JSON.stringify(failed[0]), /CHUNK_HASH_MISMATCH|REMOTE_CHANGED/);
  assert.ok((done.bytesFetched as number) < size, `the landing pass reused good chunks (fetched ${done.bytesFetched} of ${size})`);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});
