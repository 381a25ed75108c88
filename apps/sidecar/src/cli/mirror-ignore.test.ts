import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, startServeProcess, passLines } from '../test-support/cli-process.js';
import { hashTree, tempDirs, writeTree } from '../test-support/trees.js';

test('--mirror moves local-only files to .leafsync_trash/<UTC stamp>/ with their content, and removes emptied folders', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'keep.txt': 'k', 'docs/empty': null });
  await writeTree(dest, { 'keep.txt': 'old', 'stale/deep/only-here.txt': 'precious', 'loose.txt': 'also precious', 'docs/x.tmp': 'local' });
  const server = await startServeProcess(t, sh, served);
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--mirror', '--json'], { home: ch });
  assert.equal(run.code, 0, run.stderr);
  const pass = passLines(run)[0] as unknown as { filesTrashed: number };
  assert.equal(pass.filesTrashed, 3);
  assert.deepEqual(await hashTree(dest), await hashTree(served), 'the folders are identical');
  const stamps = await readdir(join(dest, '.leafsync_trash'));
  assert.equal(stamps.length, 1);
  assert.match(stamps[0]!, /^\d{8}-\d{6}Z$/);
  const trash = join(dest, '.leafsync_trash', stamps[0]!);
  assert.equal(await readFile(join(trash, 'stale/deep/only-here.txt'), 'utf8'), 'precious');
  assert.equal(await readFile(join(trash, 'loose.txt'), 'utf8'), 'also precious');
  assert.equal(await readFile(join(trash, 'docs/x.tmp'), 'utf8'), 'local');
  assert.deepEqual(await readdir(join(dest, 'docs')), ['empty'], "the server's empty folder stays");
  // The server is never pruned.
  assert.deepEqual([...(await hashTree(served)).keys()], ['docs', 'docs/empty', 'keep.txt']);
});

test('--mirror halts when the server folder is empty while the local one is not, and says why', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'a.txt': 'a' });
  await writeTree(dest, { 'mine.txt': 'mine', 'sub/also.txt': 'also' });
  const server = await startServeProcess(t, sh, served);
  assert.equal((await runCli(['connect', server.address, dest, '--accept-first', '--once'], { home: ch })).code, 0);
  await rm(join(served, 'a.txt'));
  const before = await hashTree(dest);
  const run = await runCli(['connect', server.address, dest, '--once', '--mirror'], { home: ch });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /server's folder is empty or missing/);
  assert.deepEqual(await hashTree(dest), before, 'nothing moved');
  assert.equal((await readdir(dest)).includes('.leafsync_trash'), false);
});

test('.leafsyncignore (*.log, build/, negation) is honoured on both sides, also by mirror', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, {
    '.leafsyncignore': '# logs and build output stay local\n*.log\n!keep.log\nbuild/\n',
    'app.log': 'noise',
    'keep.log': 'wanted',
    'build/out.bin': 'artifact',
    'src/build': 'a file named build is not a build/ folder',
    'src/main.ts': 'code',
  });
  await writeTree(dest, { 'local-debug.log': 'mine', 'build/local.o': 'mine too' });
  const server = await startServeProcess(t, sh, served);
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--mirror'], { home: ch });
  assert.equal(run.code, 0, run.stderr);
  const tree = await hashTree(dest);
  assert.deepEqual([...tree.keys()], ['.leafsyncignore', 'build', 'build/local.o', 'keep.log', 'local-debug.log', 'src', 'src/build', 'src/main.ts']);
  assert.equal(await readFile(join(dest, 'local-debug.log'), 'utf8'), 'mine', 'ignored local files are neither synced nor trashed');
  assert.equal((await readdir(dest)).includes('.leafsync_trash'), false);
  // Ignored files asked for by name are refused by the server.
  const direct = await runCli(['connect', server.address, join(dest, '..', 'single'), '--once', '--file', 'app.log'], { home: ch });
  assert.notEqual(direct.code, 0);
  assert.match(direct.stderr, /excluded by \.leafsyncignore/);
});

test('--streams 1 and --streams 16 produce identical trees', async (t) => {
  const [served, d1, d16, sh, ch] = await tempDirs(t, 'served', 'd1', 'd16', 'sh', 'ch');
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 20; i++) files[`dir${i % 4}/f${i}.bin`] = Buffer.alloc(300_000 + i * 77_777, i);
  files['big.bin'] = Buffer.alloc(9 * 1024 * 1024 + 5, 7);
  await writeTree(served, files);
  await mkdir(d1, { recursive: true });
  const server = await startServeProcess(t, sh, served);
  for (const [dest, streams] of [[d1, '1'], [d16, '16']] as const) {
    const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--streams', streams], { home: ch });
    assert.equal(run.code, 0, run.stderr);
  }
  const expected = await hashTree(served);
  assert.deepEqual(await hashTree(d1), expected);
  assert.deepEqual(await hashTree(d16), expected);
});

test('--rate-mbps holds the measured rate within 10% over a ~20 s transfer', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const mbps = 40; // 5 MB/s: 100 MB takes 20 s
  await writeFile(join(served, 'paced.bin'), Buffer.alloc(100_000_000, 1));
  const server = await startServeProcess(t, sh, served);
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json', '--rate-mbps', String(mbps)], { home: ch, timeoutMs: 90_000 });
  assert.equal(run.code, 0, run.stderr);
  const pass = passLines(run)[0]!;
  const measured = (pass.bytesFetched * 8) / 1e6 / (pass.elapsedMs / 1000);
  console.log(`rate limit ${mbps} Mbit/s: measured ${measured.toFixed(2)} Mbit/s over ${(pass.elapsedMs / 1000).toFixed(1)} s`);
  assert.ok(Math.abs(measured - mbps) / mbps <= 0.1, `measured ${measured.toFixed(2)} Mbit/s`);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});
