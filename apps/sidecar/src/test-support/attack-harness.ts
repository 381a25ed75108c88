/**
 * The frame around every malicious-server scenario: a destination that already holds files (one
 * of which an attack targets), a sibling folder beside it and a symlink from the destination into
 * that sibling. The client syncs from a lying server and must refuse with a clear error, write
 * nothing outside, publish no bad file and stay within a memory bound; then a pass against a
 * real, honest server must bring the destination to the honest tree.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { STAGING_DIR } from '../engine/staging-file.js';
import { runConnect } from '../sessions/connect-session.js';
import { startServe } from '../sessions/serve-session.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { TrustStore } from '../transport/trust-store.js';
import { startConnectProcess } from './cli-process.js';
import { MaliciousServer, type FakeEntry, type Script } from './malicious-server.js';
import { rssBytes } from './process-memory.js';
import { snapshotTree } from './tree-snapshot.js';
import { hashTree, seededBytes, tempDir, writeTree } from './trees.js';

export const OLD = { 'keep.txt': 'old keep\n', 'target.bin': seededBytes('old-target', 2 * CHUNK_SIZE + 5) };
export const HONEST = {
  'keep.txt': Buffer.from('new keep\n'),
  'target.bin': seededBytes('new-target', 3 * CHUNK_SIZE + 77),
  'good/one.txt': Buffer.from('one\n'),
};
/** A healthy client syncing this tree stays well under this; a client that buffers a flood does not. */
const RSS_LIMIT = 400 * 1024 * 1024;
/**
 * A listing flood is stopped by the listing budget (MAX_LISTING_BYTES, sized for a folder of ~2
 * million files), not sooner: about 1 GiB of RSS when it is hit, under 4 GiB (the heap limit).
 */
export const LISTING_FLOOD_RSS_LIMIT = 1536 * 1024 * 1024;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface Expect {
  /** What the client must say (its error, or a failed file's message). */
  error: RegExp;
  /** Failure codes the pass line must list, when the pass got that far. */
  failureCodes?: string[];
}

export interface Fixture {
  base: string;
  dest: string;
  outside: string;
  home: string;
}

async function fixture(t: TestContext): Promise<Fixture> {
  const base = await tempDir(t, 'evil-server');
  const dest = join(base, 'dest');
  const outside = join(base, 'outside');
  const home = join(base, 'home');
  await writeTree(dest, OLD);
  await writeTree(outside, { 'victim.txt': 'must not change\n', 'nested/also.txt': 'nor this\n' });
  await symlink(outside, join(dest, 'link'));
  await mkdir(home);
  return { base, dest, outside, home };
}

interface SyncOutcome {
  /** Everything the client said went wrong: the thrown error and each file failure. */
  errorText: string;
  ok: boolean;
  failureCodes: string[];
  /** Peak RSS of the client process (CLI runs only). */
  peak: number;
  overLimit: boolean;
}

/** One `--once` pass in this process through runConnect, the code the CLI and the API both drive. */
async function syncInProcess(f: Fixture, address: string): Promise<SyncOutcome> {
  const [identity, trust] = await Promise.all([loadOrCreateIdentity(f.home), TrustStore.load(f.home)]);
  const [host, port] = address.split(':');
  const outcome: SyncOutcome = { errorText: '', ok: false, failureCodes: [], peak: 0, overLimit: false };
  try {
    const pass = await runConnect(
      { target: { host: host!, port: Number(port) }, folder: f.dest, home: f.home, trust, identity, policy: { acceptFirst: true }, handshakeTimeoutMs: 5_000 },
      { once: true },
    );
    outcome.failureCodes = [...new Set((pass?.failures ?? []).map((x) => x.code))].sort();
    outcome.errorText = (pass?.failures ?? []).map((x) => x.message).join('\n');
    outcome.ok = pass !== undefined && pass.failures.length === 0;
  } catch (err) {
    outcome.errorText = (err as Error).message;
  }
  return outcome;
}

/** `connect --once` as a real process, with an RSS watchdog that kills it past RSS_LIMIT. */
async function syncInChild(t: TestContext, f: Fixture, address: string, rssLimit = RSS_LIMIT): Promise<SyncOutcome> {
  const cli = startConnectProcess(t, f.home, [address, f.dest, '--accept-first', '--once']);
  const outcome: SyncOutcome = { errorText: '', ok: false, failureCodes: [], peak: 0, overLimit: false };
  const watchdog = setInterval(() => {
    const pid = cli.child.pid;
    const rss = pid === undefined || !cli.running ? undefined : rssBytes(pid);
    if (rss === undefined) return;
    outcome.peak = Math.max(outcome.peak, rss);
    if (rss > rssLimit) {
      outcome.overLimit = true;
      cli.child.kill('SIGKILL');
    }
  }, 50);
  const deadline = setTimeout(() => cli.child.kill('SIGKILL'), 60_000);
  const exit = await cli.exited;
  clearInterval(watchdog);
  clearTimeout(deadline);
  const pass = cli.events.find((e) => e.event === 'pass') as { failures: Array<{ code: string }> } | undefined;
  assert.equal(exit.signal === null || outcome.overLimit, true, `client died of ${exit.signal}; stderr:\n${cli.stderr}`);
  assert.doesNotMatch(cli.stderr, /\n\s+at /, 'an error line, not a stack trace');
  outcome.ok = exit.code === 0;
  outcome.errorText = cli.stderr;
  outcome.failureCodes = [...new Set((pass?.failures ?? []).map((x) => x.code))].sort();
  return outcome;
}

async function honestServer(t: TestContext): Promise<{ address: string; tree: Map<string, string> }> {
  const served = await tempDir(t, 'honest');
  const home = await tempDir(t, 'honest-home');
  await writeTree(served, HONEST);
  const running = await startServe({ folder: served, bind: '127.0.0.1', port: 0, identity: await loadOrCreateIdentity(home), home });
  t.after(() => running.close());
  return { address: `${running.address.host}:${running.address.port}`, tree: await hashTree(served) };
}

export async function attack(
  t: TestContext,
  opts: { entries: FakeEntry[]; script?: Script; expect: Expect; setup?: (f: Fixture) => Promise<void>; inChild?: boolean; rssLimit?: number },
): Promise<MaliciousServer> {
  const f = await fixture(t);
  await opts.setup?.(f);
  const outsideBefore = await snapshotTree(f.outside);
  const baseBefore = (await readdir(f.base)).sort();
  const destBefore = await hashTree(f.dest);

  const evil = await MaliciousServer.start({ identity: await loadOrCreateIdentity(await tempDir(t, 'evil-id')), entries: opts.entries, ...(opts.script && { script: opts.script }) });
  t.after(() => evil.close());
  const address = `${evil.address.host}:${evil.address.port}`;
  const rssLimit = opts.rssLimit ?? RSS_LIMIT;
  const run = opts.inChild ? await syncInChild(t, f, address, rssLimit) : await syncInProcess(f, address);

  assert.equal(run.overLimit, false, `client RSS exceeded ${rssLimit >> 20} MiB (peak ${run.peak >> 20} MiB)`);
  assert.equal(run.ok, false, 'the pass is reported as failed');
  assert.match(run.errorText, opts.expect.error);
  if (opts.expect.failureCodes) assert.deepEqual(run.failureCodes, [...opts.expect.failureCodes].sort());

  // Nothing written outside the destination, through any route.
  assert.deepEqual(await snapshotTree(f.outside), outsideBefore, 'the sibling folder (and the symlink target) is unchanged');
  assert.deepEqual((await readdir(f.base)).sort(), baseBefore, 'nothing new beside the destination');
  // Nothing bad published: every visible file is its old self or the honest version.
  const honestHashes = new Map(Object.entries(HONEST).map(([k, v]) => [k, sha(v)]));
  for (const [path, hash] of await hashTree(f.dest)) {
    if (hash === 'dir') continue;
    assert.ok(destBefore.get(path) === hash || honestHashes.get(path) === hash, `visible file ${path} is neither its old nor an honest version`);
  }
  // Leftovers only where staging belongs.
  const visible = await hashTree(f.dest);
  for (const path of (await snapshotTree(f.dest)).keys()) {
    if (visible.has(path) || path === 'link') continue;
    assert.ok(path === STAGING_DIR || path.startsWith(`${STAGING_DIR}/`), `unexpected leftover ${path}`);
  }

  // The same client, right after, syncs from an honest server.
  const honest = await honestServer(t);
  const next = opts.inChild ? await syncInChild(t, f, honest.address) : await syncInProcess(f, honest.address);
  assert.equal(next.ok, true, `honest pass: ${next.errorText}`);
  assert.deepEqual(await hashTree(f.dest), honest.tree);
  assert.deepEqual(await snapshotTree(f.outside), outsideBefore);
  return evil;
}

export const good: FakeEntry = { path: 'good/one.txt', data: HONEST['good/one.txt'] };
export const goodDir: FakeEntry = { path: 'good', type: 'dir' };

/** The honest entries plus a file under a hostile name. */
export function withHostileName(path: string): FakeEntry[] {
  return [goodDir, good, { path, data: Buffer.from('pwned\n') }];
}

/** Frames forever (until the client hangs up), built lazily so the server itself stays small. */
export async function* forever(make: (n: number) => Uint8Array, head?: Uint8Array): AsyncGenerator<Uint8Array> {
  if (head) yield head;
  for (let n = 0; ; n++) yield make(n);
}

