import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliChild, runCli, startServeProcess, type RunAs } from '../test-support/cli-process.js';
import { hashTree, tempDirs, writeTree } from '../test-support/trees.js';

const NOBODY: RunAs = { uid: 65534, gid: 65534 };

/**
 * A server whose folder holds a directory it cannot read. As root (CI) the server runs as nobody,
 * since root reads any directory; otherwise as this user, who cannot read a mode-000 directory
 * (nor remove it: the caller gives it its mode back before the temp folders go).
 */
async function serverWithLockedDir(t: Parameters<typeof startServeProcess>[0], served: string, home: string) {
  const as = await handToUnprivileged(served, home);
  await chmod(join(served, 'locked'), 0o000);
  await chmod(join(served, 'secret.txt'), 0o000);
  return startServeProcess(t, home, served, [], as);
}

/** As root: lets nobody reach and own `dirs` (and all in them) and returns nobody to run as. Otherwise nothing. */
async function handToUnprivileged(...dirs: string[]): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  for (const dir of dirs) {
    for (let d = dirname(dir); d !== tmpdir() && d.length > 1; d = dirname(d)) await chmod(d, 0o755);
    await chmod(dir, 0o755);
    await chownTree(dir);
  }
  return NOBODY;
}

async function chownTree(path: string): Promise<void> {
  await chown(path, NOBODY.uid, NOBODY.gid);
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) await (e.isDirectory() ? chownTree(join(path, e.name)) : chown(join(path, e.name), NOBODY.uid, NOBODY.gid));
}

test('a folder or file the server cannot read is reported, and --mirror leaves the local copies alone', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'open.txt': 'new', 'locked/inside.txt': 'server copy', 'secret.txt': 'server secret' });
  await writeTree(dest, { 'open.txt': 'old', 'locked/inside.txt': 'my copy', 'locked/deeper/mine.txt': 'mine', 'secret.txt': 'my secret', 'gone.txt': 'only here' });
  const server = await serverWithLockedDir(t, served, sh);
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--mirror', '--json'], { home: ch }).finally(() => chmod(join(served, 'locked'), 0o755));
  const pass = JSON.parse(run.stdout.split('\n').find((l) => l.includes('"event":"pass"')) ?? '{}') as { filesTrashed?: number; failures?: Array<{ path: string; message: string }> };
  assert.equal(run.code, 1, 'the folders cannot be said to match');
  assert.equal(await readFile(join(dest, 'open.txt'), 'utf8'), 'new', 'what the server could list is synced');
  assert.equal(await readFile(join(dest, 'locked/inside.txt'), 'utf8'), 'my copy');
  assert.equal(await readFile(join(dest, 'locked/deeper/mine.txt'), 'utf8'), 'mine');
  assert.equal(await readFile(join(dest, 'secret.txt'), 'utf8'), 'my secret');
  assert.equal(pass.filesTrashed, 1, 'only gone.txt, which the server does not have');
  const trashed = await readdir(join(dest, '.leafsync_trash'));
  assert.deepEqual([...(await hashTree(join(dest, '.leafsync_trash', trashed[0]!))).keys()], ['gone.txt']);
  assert.deepEqual(pass.failures?.map((f) => f.path).sort(), ['locked', 'secret.txt']);
  for (const f of pass.failures ?? []) assert.match(f.message, /the server could not read it/);
  assert.match(run.stderr, /locked: the server could not read it/);
  assert.match(server.cli.stderr, /Skipped unreadable directory locked/, 'the server says so too');
  assert.match(server.cli.stderr, /Skipped unreadable file secret\.txt/);
});

test('connect does not write over a local file it cannot read, and syncs the rest', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'open.txt': 'new', 'theirs.txt': 'the server version' });
  await writeTree(dest, { 'open.txt': 'old', 'theirs.txt': 'a version this side cannot read' });
  const as = await handToUnprivileged(dest, ch);
  // As root the file stays root's (mode 000); otherwise mode 000 alone keeps this user out.
  if (as) await chown(join(dest, 'theirs.txt'), 0, 0);
  await chmod(join(dest, 'theirs.txt'), 0o000);
  const server = await startServeProcess(t, sh, served);
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: ch, ...(as && { as }) }).finally(() => chmod(join(dest, 'theirs.txt'), 0o644));
  assert.equal(run.code, 1, run.stderr);
  assert.equal(await readFile(join(dest, 'open.txt'), 'utf8'), 'new');
  assert.equal(await readFile(join(dest, 'theirs.txt'), 'utf8'), 'a version this side cannot read');
  assert.match(run.stderr, /Skipped unreadable file theirs\.txt/);
  assert.match(run.stderr, /theirs\.txt: this side could not read it/);
  const pass = JSON.parse(run.stdout.split('\n').find((l) => l.includes('"event":"pass"')) ?? '{}') as { failures?: Array<{ path: string; code: string }> };
  assert.deepEqual(pass.failures?.map((f) => [f.path, f.code]), [['theirs.txt', 'UNREADABLE']], 'reported once, and not tried');
});

test('watch --mirror: a local folder that becomes unreadable is not taken for deleted, and says so', async (t) => {
  const [served, local, sh, ch] = await tempDirs(t, 'served', 'local', 'sh', 'ch');
  await writeTree(served, { 'locked/a.txt': 'precious on the server', 'open.txt': 'x' });
  const as = await handToUnprivileged(local, ch);
  const server = await startServeProcess(t, sh, served, ['--allow-push', '--accept-first-client']);
  const watch = new CliChild(ch, ['watch', server.address, local, '--accept-first', '--json', '--mirror', '--pull-interval', '600', '--debounce-ms', '300'], as);
  t.after(async () => {
    await watch.kill('SIGKILL');
  });
  await watch.waitFor((e) => e.event === 'cycle' && e.trigger === 'start', 'the first cycle', 30_000);
  assert.equal(await readFile(join(local, 'locked/a.txt'), 'utf8'), 'precious on the server');
  await chmod(join(local, 'locked'), 0o000);
  try {
    await writeFile(join(local, 'trigger.txt'), 'a local change, so a cycle runs');
    const cycle = (await watch.waitFor((e) => e.event === 'cycle' && (e.filesPushed as number) > 0, 'the cycle that pushes trigger.txt', 20_000)) as { failures: Array<{ path: string; code: string; message: string }> };
    assert.deepEqual(cycle.failures.map((f) => [f.path, f.code]), [['locked', 'UNREADABLE']]);
    assert.match(cycle.failures[0]!.message, /this side could not read it/);
    assert.match(watch.stderr, /Skipped unreadable directory locked/);
  } finally {
    await chmod(join(local, 'locked'), 0o755);
  }
  assert.equal(await readFile(join(served, 'locked/a.txt'), 'utf8'), 'precious on the server', 'the server kept its copy');
  assert.equal(await readFile(join(served, 'trigger.txt'), 'utf8'), 'a local change, so a cycle runs');
  assert.equal((await readdir(served)).includes('.leafsync_trash'), false, 'nothing went to the server trash');
});

test('a folder this side may not write into: a pass with nothing to change succeeds, one with changes fails per file and touches nothing', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'same.txt': 'same on both sides' });
  await writeTree(dest, { 'same.txt': 'same on both sides' });
  const as = await handToUnprivileged(dest, ch);
  // As root the folder goes back to root (mode 555 keeps nobody out); otherwise mode 555 alone keeps this user out.
  if (as) await chown(dest, 0, 0);
  const server = await startServeProcess(t, sh, served);
  const connect = () => runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: ch, ...(as && { as }) });
  await chmod(dest, 0o555);
  try {
    const inSync = await connect();
    assert.equal(inSync.code, 0, inSync.stderr);
    assert.deepEqual(await readdir(dest), ['same.txt'], 'not even a staging folder was made');

    await writeTree(served, { 'same.txt': 'changed on the server', 'new.txt': 'new on the server' });
    const changed = await connect();
    assert.equal(changed.code, 1, changed.stderr);
    const pass = JSON.parse(changed.stdout.split('\n').find((l) => l.includes('"event":"pass"')) ?? '{}') as { failures?: Array<{ path: string; message: string }> };
    assert.deepEqual(pass.failures?.map((f) => f.path).sort(), ['new.txt', 'same.txt']);
    for (const f of pass.failures ?? []) assert.match(f.message, /permission denied/);
    assert.deepEqual(await readdir(dest), ['same.txt']);
    assert.equal(await readFile(join(dest, 'same.txt'), 'utf8'), 'same on both sides');
  } finally {
    await chmod(dest, 0o755);
  }
});

test('a staging folder this side may not write into stops the session at the start, in words, and touches nothing', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  await writeTree(served, { 'a.txt': 'new on the server' });
  await writeTree(dest, { 'a.txt': 'mine' });
  const as = await handToUnprivileged(dest, ch);
  const staging = join(dest, '.leafsync_tmp');
  await mkdir(staging);
  // As root the staging folder stays root's (mode 555 keeps nobody out); otherwise mode 555 alone keeps this user out.
  await chmod(staging, 0o555);
  const server = await startServeProcess(t, sh, served);
  try {
    const run = await runCli(['connect', server.address, dest, '--accept-first', '--once'], { home: ch, ...(as && { as }) });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(
      run.stderr.trim().split('\n').at(-1),
      `leafsync: error: cannot write into ${staging} (EACCES); leafsync stages every file there before putting it in place (and keeps the undo journals of in-place updates there): give this user write access to it`,
    );
    assert.equal(await readFile(join(dest, 'a.txt'), 'utf8'), 'mine');
  } finally {
    await chmod(staging, 0o755);
  }
});
