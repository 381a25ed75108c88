import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { SessionEvent, SessionState } from '@leafsync/shared';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { TrustStore } from '../transport/trust-store.js';
import { seededBytes, tempDirs, writeTree, hashTree } from '../test-support/trees.js';
import { describeError, EventLog, SessionManager, type LoggedEvent } from './session-manager.js';

async function manager(t: TestContext, opts: { logSize?: number } = {}): Promise<SessionManager> {
  const [home] = await tempDirs(t, 'home');
  const m = new SessionManager({ home, identity: await loadOrCreateIdentity(home), trust: await TrustStore.load(home), ...opts });
  t.after(() => m.close());
  return m;
}

/** Takes events from a subscription until `until` holds, then stops it. */
async function take(m: SessionManager, opts: { lastEventId?: string; sessionId?: string }, until: (got: LoggedEvent[]) => boolean): Promise<LoggedEvent[]> {
  const ac = new AbortController();
  const got: LoggedEvent[] = [];
  for await (const e of m.events({ ...opts, signal: ac.signal })) {
    got.push(e);
    if (until(got)) ac.abort();
  }
  return got;
}

const notice = (i: number): SessionEvent => ({ type: 'notice', sessionId: 'x', message: `n${i}` });
const seq = (id: string) => Number(id.split('-')[1]);

test('EventLog keeps the last N events with increasing ids', () => {
  const log = new EventLog(3);
  const ids = [0, 1, 2, 3, 4].map((i) => log.append(notice(i)).id);
  assert.deepEqual(ids.map(seq), [1, 2, 3, 4, 5]);
  assert.equal(log.oldestSeq, 3);
  assert.equal(log.at(2), undefined);
  assert.equal(log.at(3)?.id, ids[2]);
  assert.equal(log.seqOf(ids[4]!), 5);
  assert.equal(log.seqOf('zzz-1'), undefined, 'an id from another run is foreign');
  assert.equal(log.seqOf(`${log.boot}-99`), undefined, 'an id from the future is foreign');
});

test('events replays after lastEventId, then follows live events', async (t) => {
  const m = await manager(t);
  const first = [0, 1, 2, 3].map((i) => m.log.append(notice(i)));
  const pending = take(m, { lastEventId: first[1]!.id }, (got) => got.length === 4);
  setTimeout(() => {
    m.log.append(notice(4));
    m.log.append(notice(5));
  }, 50);
  const got = await pending;
  assert.deepEqual(got.map((e) => seq(e.id)), [3, 4, 5, 6]);
});

test('a lastEventId the log has dropped (or from another run) starts from a snapshot at the newest id', async (t) => {
  const m = await manager(t, { logSize: 4 });
  const [home] = await tempDirs(t, 'shared');
  const s = await m.startServe({ folder: home, port: 0, bind: '127.0.0.1' });
  const early = m.log.append(notice(0));
  for (let i = 1; i < 10; i++) m.log.append(notice(i));
  for (const lastEventId of [early.id, 'otherrun-3']) {
    const got = await take(m, { lastEventId }, () => true);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.id, m.log.idOf(m.log.headSeq));
    assert.deepEqual(got[0]!.event, { type: 'session', session: m.get(s.id) });
  }
});

test('describeError puts typed and system errors in plain words', () => {
  const eacces = Object.assign(new Error("EACCES: permission denied, mkdir '/root/x'"), { code: 'EACCES', path: '/root/x', syscall: 'mkdir' });
  assert.equal(describeError(eacces), 'permission denied: /root/x (leafsync may not read or write there)');
  const full = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC', path: '/data/a.bin' });
  assert.equal(describeError(full), 'the disk is full (/data/a.bin)');
  const bind = Object.assign(new Error('cannot listen on UDP 0.0.0.0:4455: bind EADDRINUSE 0.0.0.0:4455'), { cause: { code: 'EADDRINUSE' } });
  assert.match(describeError(bind), /^cannot listen on UDP 0\.0\.0\.0:4455: the port is already in use/);
  assert.equal(describeError(new Error('no response from 10.0.0.9:4455 (hint)')), 'no response from 10.0.0.9:4455 (hint)');
});

test('serve on a missing folder ends in error with the reason; a busy port too', async (t) => {
  const m = await manager(t);
  const [dir] = await tempDirs(t, 'dir');
  const missing = await m.startServe({ folder: `${dir}/nope`, port: 0, bind: '127.0.0.1' });
  assert.equal(missing.state, 'error');
  assert.match(missing.error ?? '', /folder not found: .*nope/);
  const ok = await m.startServe({ folder: dir, port: 0, bind: '127.0.0.1' });
  const port = Number(ok.address.split(':')[1]);
  const busy = await m.startServe({ folder: dir, port, bind: '127.0.0.1' });
  assert.equal(busy.state, 'error');
  assert.match(busy.error ?? '', /already in use/);
});

test('a continuous connect cycles scanning → transferring → idle, throttles progress, and stop() ends it stopped', async (t) => {
  const m = await manager(t);
  const [served, copy] = await tempDirs(t, 'served', 'copy');
  // ~12 MiB at 40 Mbit/s: about 2.5 s of transfer, long enough to watch progress.
  await writeTree(served, { 'a.bin': seededBytes('a', 6 * 1024 * 1024), 'b.bin': seededBytes('b', 6 * 1024 * 1024), 'c.txt': 'small' });
  const serve = await m.startServe({ folder: served, port: 0, bind: '127.0.0.1' });
  const ac = new AbortController();
  const events: LoggedEvent[] = [];
  const following = (async () => {
    for await (const e of m.events({ signal: ac.signal })) events.push(e);
  })();
  const session = await m.startConnect({
    address: serve.address,
    folder: copy,
    acceptFirst: true,
    mirror: false,
    streams: 4,
    rateMbps: 40,
    intervalSeconds: 0.2,
    once: false,
    inPlace: false,
  });
  const started = performance.now();
  const stateOf = (): SessionState => m.get(session.id).state;
  // Wait for the first pass, then one more (cheap) pass.
  while (!(m.get(session.id).lastPass && stateOf() === 'idle')) await new Promise((r) => setTimeout(r, 25));
  const transferMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 600));
  await m.stop(session.id);
  assert.equal(stateOf(), 'stopped');
  ac.abort();
  await following;

  assert.deepEqual(await hashTree(copy), await hashTree(served));
  const mine = events.filter((e) => (e.event.type === 'session' ? e.event.session.id : e.event.sessionId) === session.id);
  const states = mine.flatMap((e) => (e.event.type === 'session' ? [e.event.session.state] : []));
  assert.deepEqual(states.slice(0, 6), ['starting', 'connecting', 'scanning', 'transferring', 'idle', 'scanning']);
  assert.equal(states.at(-1), 'stopped');
  assert.ok(states.filter((s) => s === 'idle').length >= 2, `passes repeat: ${states.join(',')}`);

  const progress = mine.flatMap((e) => (e.event.type === 'progress' ? [e.event.progress] : []));
  const perSecond = progress.length / (transferMs / 1000);
  assert.ok(perSecond <= 6, `progress is throttled (${progress.length} events in ${Math.round(transferMs)} ms)`);
  assert.ok(progress.length >= 3, `progress is reported while transferring (${progress.length})`);
  const moving = progress.filter((p) => p.bytesPerSecond > 0);
  assert.ok(moving.length > 0);
  // 40 Mbit/s is 5 MB/s; the moving average lands near it.
  const rate = moving.at(-1)!.bytesPerSecond;
  assert.ok(rate > 2_000_000 && rate < 8_000_000, `bytesPerSecond ${rate}`);
  assert.ok(moving.some((p) => p.etaSeconds !== undefined && p.etaSeconds > 0));
  assert.ok(moving.some((p) => p.files.length > 0 && p.files.every((f) => f.bytesDone <= f.bytesTotal)));
  for (let i = 1; i < progress.length; i++) {
    if (progress[i]!.bytesTotal === progress[i - 1]!.bytesTotal) assert.ok(progress[i]!.bytesDone >= progress[i - 1]!.bytesDone, 'bytesDone never goes back within a pass');
  }
  assert.equal(m.get(session.id).lastPass?.filesChanged, 0, 'the later pass found nothing to do');
});

test('remove stops a running session, forgets it, and emits removed', async (t) => {
  const m = await manager(t);
  const [dir] = await tempDirs(t, 'dir');
  const s = await m.startServe({ folder: dir, port: 0, bind: '127.0.0.1' });
  const before = m.log.headSeq;
  await m.remove(s.id);
  assert.deepEqual(m.list(), []);
  const tail = [before + 1, before + 2].map((n) => m.log.at(n)?.event);
  assert.equal(tail[0]?.type === 'session' && tail[0].session.state, 'stopped');
  assert.deepEqual(tail[1], { type: 'removed', sessionId: s.id });
  assert.throws(() => m.get(s.id), /no session with id/);
});

/** Polls until `check` holds (or fails the test after `ms`). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a watch session goes connecting → scanning → idle per cycle, pushes a new file to a serve that allows pushes, and stops', async (t) => {
  const m = await manager(t);
  const [served, mine, scratch] = await tempDirs(t, 'served', 'mine', 'scratch');
  await writeTree(served, { 'from-server.txt': 'hello from the server' });
  const serve = await m.startServe({ folder: served, port: 0, bind: '127.0.0.1', allowPush: true, acceptFirstClient: true });
  assert.equal(serve.state, 'listening');
  assert.equal(serve.allowPush, true);
  const events: LoggedEvent[] = [];
  const ac = new AbortController();
  const following = (async () => {
    for await (const e of m.events({ signal: ac.signal })) events.push(e);
  })();
  const session = await m.startWatch({ address: serve.address, folder: mine, acceptFirst: true, mirror: false, streams: 4, pullIntervalSeconds: 60, debounceMs: 100 });
  assert.equal(session.kind, 'watch');
  await until(() => m.get(session.id).lastCycle?.trigger === 'start' && m.get(session.id).state === 'idle', 'the first cycle');
  assert.equal(m.get(session.id).lastCycle?.filesPulled, 1);

  // Written elsewhere and moved in, so no cycle can catch it half-written.
  await writeTree(scratch, { 'from-watch.bin': seededBytes('w', 300_000) });
  await rename(join(scratch, 'from-watch.bin'), join(mine, 'from-watch.bin'));
  await until(async () => (await hashTree(served)).get('from-watch.bin') === (await hashTree(mine)).get('from-watch.bin'), 'the push');
  await until(() => (m.get(session.id).lastCycle?.filesPushed ?? 0) === 1, 'the cycle that pushed');
  const cycle = m.get(session.id).lastCycle!;
  assert.equal(cycle.trigger, 'local');
  assert.equal(cycle.bytesPushed, 300_000);
  assert.deepEqual(await hashTree(served), await hashTree(mine));

  await m.stop(session.id);
  assert.equal(m.get(session.id).state, 'stopped');
  ac.abort();
  await following;
  const mineOnly = events.filter((e) => (e.event.type === 'session' ? e.event.session.id : e.event.sessionId) === session.id);
  const states = mineOnly.flatMap((e) => (e.event.type === 'session' ? [e.event.session.state] : []));
  assert.deepEqual(states.slice(0, 3), ['starting', 'connecting', 'scanning']);
  assert.ok(states.includes('idle'), states.join(','));
  assert.equal(states.at(-1), 'stopped');
  const cycles = mineOnly.flatMap((e) => (e.event.type === 'cycle' ? [e.event.cycle] : []));
  assert.ok(cycles.some((c) => c.filesPushed === 1), 'a cycle event carries the push');
});

test('a watch against a read-only serve ends in error, saying how to allow pushes', async (t) => {
  const m = await manager(t);
  const [served, mine] = await tempDirs(t, 'served', 'mine');
  const serve = await m.startServe({ folder: served, port: 0, bind: '127.0.0.1' });
  assert.equal(serve.allowPush, undefined);
  const session = await m.startWatch({ address: serve.address, folder: mine, acceptFirst: true, mirror: false, streams: 8, pullIntervalSeconds: 10, debounceMs: 500 });
  await until(() => m.get(session.id).state === 'error', 'the refusal');
  assert.match(m.get(session.id).error ?? '', /read-only.*Accept pushes/);
});
