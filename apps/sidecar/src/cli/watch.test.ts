import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WatchCycleSummary } from '@leafsync/shared';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { CliChild, runCli, startServeProcess } from '../test-support/cli-process.js';
import { hashTree, seededBytes, tempDirs, writeTree } from '../test-support/trees.js';

type Cycle = WatchCycleSummary & { event: 'cycle' };

interface WatchPair {
  served: string;
  local: string;
  watch: CliChild;
  cycles(): Cycle[];
}

/** A server that allows pushes and a `watch` on another folder, after its first cycle. */
async function watchPair(t: TestContext, opts: { pullInterval: number; debounceMs: number; served?: Record<string, string | Buffer>; local?: Record<string, string | Buffer>; extra?: string[] }): Promise<WatchPair> {
  const [served, local, sh, ch] = await tempDirs(t, 'served', 'local', 'sh', 'ch');
  await writeTree(served, opts.served ?? {});
  await writeTree(local, opts.local ?? {});
  const server = await startServeProcess(t, sh, served, ['--allow-push', '--accept-first-client']);
  const watch = new CliChild(ch, ['watch', server.address, local, '--accept-first', '--json', '--pull-interval', String(opts.pullInterval), '--debounce-ms', String(opts.debounceMs), ...(opts.extra ?? [])]);
  t.after(async () => {
    await watch.kill('SIGKILL');
  });
  await watch.waitFor((e) => e.event === 'cycle' && e.trigger === 'start', 'the first cycle', 30_000);
  return { served, local, watch, cycles: () => watch.events.filter((e) => e.event === 'cycle') as unknown as Cycle[] };
}

/** Polls until `check` holds; returns how long that took. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
  return performance.now() - started;
}

const sameTrees = (a: string, b: string) => async () => {
  const [x, y] = await Promise.all([hashTree(a), hashTree(b)]);
  return JSON.stringify([...x]) === JSON.stringify([...y]);
};

test('watch: a local edit reaches the server within debounce + 2 s, sending only the changed chunk', async (t) => {
  const big = seededBytes('w-big', 8 * CHUNK_SIZE);
  const p = await watchPair(t, { pullInterval: 600, debounceMs: 300, served: { 'big.bin': big } });
  assert.deepEqual(await hashTree(p.local), await hashTree(p.served), 'the first cycle pulled the server folder');
  const fh = await open(join(p.local, 'big.bin'), 'r+');
  await fh.write(Buffer.from('a local edit'), 0, 12, 5 * CHUNK_SIZE + 99);
  await fh.close();
  const ms = await until(sameTrees(p.local, p.served), 'the edit on the server', 10_000);
  t.diagnostic(`local edit on the server after ${Math.round(ms)} ms (debounce 300 ms)`);
  assert.ok(ms <= 300 + 2000, `arrived after ${Math.round(ms)} ms`);
  // The file lands on the server a moment before the cycle that pushed it reports.
  await p.watch.waitFor((e) => e.event === 'cycle' && (e as unknown as Cycle).filesPushed > 0, 'the pushing cycle', 10_000);
  const pushing = p.cycles().filter((c) => c.filesPushed > 0);
  assert.equal(pushing.length, 1);
  assert.equal(pushing[0]!.trigger, 'local');
  assert.equal(pushing[0]!.chunksPushed, 1);
  assert.equal(pushing[0]!.bytesPushed, CHUNK_SIZE);
});

test('watch: an edit on the server reaches the watcher within one pull interval', async (t) => {
  const p = await watchPair(t, { pullInterval: 2, debounceMs: 300, served: { 'notes.txt': 'v1\n' } });
  await writeFile(join(p.served, 'notes.txt'), 'v2 written on the server\n');
  await mkdir(join(p.served, 'new-folder'));
  await writeFile(join(p.served, 'new-folder/new.txt'), 'new on the server\n');
  const ms = await until(sameTrees(p.local, p.served), 'the server edit here', 10_000);
  t.diagnostic(`server edit here after ${Math.round(ms)} ms (pull interval 2 s)`);
  assert.ok(ms <= 2000 + 1000, `arrived after ${Math.round(ms)} ms`);
  assert.equal(await readFile(join(p.local, 'notes.txt'), 'utf8'), 'v2 written on the server\n');
});

test('watch: a client that is not authorised cannot push; it is told how to get authorised and the server folder is untouched', async (t) => {
  const [served, local, sh, ch] = await tempDirs(t, 'served', 'local', 'sh', 'ch');
  await writeTree(served, { 'theirs.txt': 'server copy\n' });
  await writeTree(local, { 'theirs.txt': 'client copy\n', 'mine.txt': 'only here\n' });
  const before = await hashTree(served);
  const server = await startServeProcess(t, sh, served, ['--allow-push']);
  const run = await runCli(['watch', server.address, local, '--accept-first'], { home: ch, timeoutMs: 30_000 });
  assert.equal(run.code, 1);
  const id = (await runCli(['id'], { home: ch })).stdout.trim();
  assert.match(run.stderr, new RegExp(`does not accept pushes from client ${id}.*trust add-client ${id}`));
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(await hashTree(served), before);
  // Once authorised on the server, the same client syncs.
  assert.equal((await runCli(['trust', 'add-client', id], { home: sh })).code, 0);
  const watch = new CliChild(ch, ['watch', server.address, local, '--json']);
  t.after(async () => {
    await watch.kill('SIGKILL');
  });
  const first = (await watch.waitFor((e) => e.event === 'cycle', 'the first cycle', 30_000)) as unknown as Cycle;
  assert.equal(first.conflicts.length, 1, 'the two first versions of theirs.txt are both kept');
  assert.deepEqual(await hashTree(served), await hashTree(local));
});

test('watch: the same file edited on both sides ends with both versions on both sides', async (t) => {
  const p = await watchPair(t, { pullInterval: 600, debounceMs: 800, served: { 'doc.txt': 'original\n' } });
  await writeFile(join(p.served, 'doc.txt'), 'edited on the server\n');
  await writeFile(join(p.local, 'doc.txt'), 'edited here\n');
  const cycle = (await p.watch.waitFor((e) => e.event === 'cycle' && (e as unknown as Cycle).conflicts.length > 0, 'a conflict', 15_000)) as unknown as Cycle;
  const copy = cycle.conflicts[0]!.copy;
  assert.match(copy, /^doc\.sync-conflict-\d{8}-\d{6}-[0-9a-f]{8}\.txt$/);
  for (const side of [p.local, p.served]) {
    assert.equal(await readFile(join(side, 'doc.txt'), 'utf8'), 'edited on the server\n');
    assert.equal(await readFile(join(side, copy), 'utf8'), 'edited here\n');
  }
  assert.deepEqual(cycle.failures, []);
});

/**
 * A version of doc.txt made on `origin` is edited on the other side the moment it lands there,
 * before that cycle's closing scan. The next cycle must carry the edit back as a plain transfer:
 * until 2026-11-27 it took the version it had just moved for an edit and made a conflict copy.
 */
async function editTheMomentItLands(t: TestContext, origin: 'local' | 'served'): Promise<void> {
  const p = await watchPair(t, { pullInterval: 1, debounceMs: 200, served: { 'doc.txt': 'v1\n' } });
  const [from, to] = origin === 'local' ? [p.local, p.served] : [p.served, p.local];
  const arriving = `v2 made on the ${origin} side\n`;
  const edit = 'v3 made on arrival\n';
  const onArrival = watch(to, () => {
    void readFile(join(to, 'doc.txt'), 'utf8')
      .then((text) => (text === arriving ? writeFile(join(to, 'doc.txt'), edit) : undefined))
      .catch(() => {});
  });
  t.after(() => onArrival.close());
  await writeFile(join(from, 'doc.txt'), arriving);
  const conflicts = () => p.cycles().flatMap((c) => c.conflicts);
  await until(async () => conflicts().length > 0 || (await readFile(join(from, 'doc.txt'), 'utf8')) === edit, 'the edit made on arrival, back where the version came from', 15_000);
  assert.deepEqual(conflicts(), [], 'the version the cycle had just moved was taken for an edit');
  assert.equal(await readFile(join(from, 'doc.txt'), 'utf8'), edit);
  assert.deepEqual([...(await hashTree(from)).keys()], ['doc.txt']);
}

test('watch: the server editing a file the moment our push of it lands is a plain pull next, not a conflict', (t) => editTheMomentItLands(t, 'local'));

test('watch: editing a file here the moment a pull of it lands is a plain push next, not a conflict', (t) => editTheMomentItLands(t, 'served'));

test('watch --mirror: an edit beats a delete on either side; plain deletes go to the other side\'s trash', async (t) => {
  const files = { 'edited-here.txt': 'v1\n', 'edited-there.txt': 'v1\n', 'deleted-here.txt': 'keep me in the trash\n' };
  const p = await watchPair(t, { pullInterval: 600, debounceMs: 800, served: files, extra: ['--mirror'] });
  await writeFile(join(p.served, 'edited-there.txt'), 'v2 from the server\n');
  await rm(join(p.local, 'edited-there.txt'));
  await rm(join(p.served, 'edited-here.txt'));
  await writeFile(join(p.local, 'edited-here.txt'), 'v2 from here\n');
  await rm(join(p.local, 'deleted-here.txt'));
  await until(sameTrees(p.local, p.served), 'both sides to agree', 15_000);
  for (const side of [p.local, p.served]) {
    assert.equal(await readFile(join(side, 'edited-there.txt'), 'utf8'), 'v2 from the server\n');
    assert.equal(await readFile(join(side, 'edited-here.txt'), 'utf8'), 'v2 from here\n');
  }
  const [stamp] = await readdir(join(p.served, '.leafsync_trash'));
  assert.equal(await readFile(join(p.served, '.leafsync_trash', stamp!, 'deleted-here.txt'), 'utf8'), 'keep me in the trash\n');
  assert.ok(p.cycles().every((c) => c.failures.length === 0), JSON.stringify(p.cycles().flatMap((c) => c.failures)));
});

test('watch: 1,000 files created at once go out in one debounced push cycle', async (t) => {
  const p = await watchPair(t, { pullInterval: 600, debounceMs: 500 });
  for (let d = 0; d < 10; d++) {
    await mkdir(join(p.local, `batch/d${d}`), { recursive: true });
    await Promise.all(Array.from({ length: 100 }, (_, i) => writeFile(join(p.local, `batch/d${d}/f${i}.txt`), `file ${d}/${i}\n`)));
  }
  const ms = await until(sameTrees(p.local, p.served), 'all 1,000 files on the server', 60_000);
  t.diagnostic(`1,000 files on the server after ${Math.round(ms)} ms`);
  await p.watch.waitFor((e) => e.event === 'cycle' && (e as unknown as Cycle).filesPushed > 0, 'the pushing cycle', 10_000);
  const pushing = p.cycles().filter((c) => c.filesPushed > 0);
  assert.equal(pushing.length, 1, JSON.stringify(pushing.map((c) => c.filesPushed)));
  assert.equal(pushing[0]!.filesPushed, 1000);
  assert.deepEqual(pushing[0]!.failures, []);
});

test('watch --file syncs just that file, both ways', async (t) => {
  const p = await watchPair(t, { pullInterval: 1, debounceMs: 200, served: { 'docs/a.txt': 'a v1\n', 'b.txt': 'not mine\n' }, extra: ['--file', 'docs/a.txt'] });
  assert.deepEqual([...(await hashTree(p.local)).keys()], ['docs', 'docs/a.txt']);
  await writeFile(join(p.local, 'docs/a.txt'), 'a v2 from here\n');
  await writeFile(join(p.local, 'c.txt'), 'local only, not watched\n');
  await until(async () => (await readFile(join(p.served, 'docs/a.txt'), 'utf8')) === 'a v2 from here\n', 'the pushed edit', 10_000);
  await writeFile(join(p.served, 'docs/a.txt'), 'a v3 from the server\n');
  await until(async () => (await readFile(join(p.local, 'docs/a.txt'), 'utf8')) === 'a v3 from the server\n', 'the pulled edit', 10_000);
  assert.deepEqual([...(await hashTree(p.served)).keys()], ['b.txt', 'docs', 'docs/a.txt'], 'nothing else reached the server');
  assert.deepEqual([...(await hashTree(p.local)).keys()], ['c.txt', 'docs', 'docs/a.txt'], 'nothing else was pulled');
});
