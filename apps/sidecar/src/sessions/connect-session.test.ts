import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PassSummary } from '@leafsync/shared';
import { LocalFolderSource } from '../engine/folder-source.js';
import { serveConnection } from '../protocol/server-session.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { QuicServer } from '../transport/quic-server.js';
import { TrustStore } from '../transport/trust-store.js';
import { seededBytes, tempDirs } from '../test-support/trees.js';
import { MaliciousServer, stuckReply } from '../test-support/malicious-server.js';
import { CHUNK_SIZE, hashStats } from '../engine/chunking.js';
import { FolderBusyError } from '../engine/folder-lock.js';
import { runConnect, type ConnectOptions } from './connect-session.js';
import type { HostPort } from '../transport/types.js';

/** What `connect --accept-first` would pass for pulling from `target` into `folder`. */
async function connectOptions(target: HostPort, folder: string, home: string): Promise<ConnectOptions> {
  return { target, folder, home, trust: await TrustStore.load(home), policy: { acceptFirst: true }, identity: await loadOrCreateIdentity(home) };
}

test('a server that accepts handshakes but drops every session at once is not hammered with reconnects', async (t) => {
  const [serverHome, clientHome, dest] = await tempDirs(t, 'sh', 'ch', 'dest');
  let handshakes = 0;
  const server = await QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity: await loadOrCreateIdentity(serverHome),
    onConnection: (conn) => {
      handshakes++;
      void conn.close(1, 'going away');
    },
  });
  t.after(() => server.close());
  const stop = new AbortController();
  const notices: string[] = [];
  const running = runConnect(
    await connectOptions(server.address, dest, clientHome),
    { signal: stop.signal, onNotice: (line) => notices.push(line) },
  );
  await new Promise((r) => setTimeout(r, 4000));
  stop.abort();
  await running;
  // Backoff of 1 s, 2 s, 4 s…: in 4 s at most 3 attempts (a storm would make hundreds).
  assert.ok(handshakes >= 2, `it did retry (${handshakes} handshakes)`);
  assert.ok(handshakes <= 3, `${handshakes} handshakes in 4 s`);
  assert.ok(notices.every((n) => /retrying in \d+ s/.test(n)), notices.join('\n'));
});

test('the first pass after a failed connection attempt scans afresh: a local edit made meanwhile is still undone', async (t) => {
  const [serverHome, clientHome, served, dest] = await tempDirs(t, 'sh', 'ch', 'served', 'dest');
  await writeFile(join(served, 'a.txt'), 'the server version\n');
  const identity = await loadOrCreateIdentity(serverHome);
  const source = new LocalFolderSource(served);
  const serve = (port: number) => QuicServer.listen({ host: '127.0.0.1', port, identity, onConnection: (c) => void serveConnection(c, { source }) });
  const first = await serve(0);
  const port = first.address.port;
  const peer = { ...(await connectOptions({ host: '127.0.0.1', port }, dest, clientHome)), handshakeTimeoutMs: 300 };
  // One pass while the server is up: the client's index and saved state now know a.txt.
  assert.equal((await runConnect(peer, { once: true }))?.filesChanged, 1);
  await first.close();

  // Now the server is down, so the first attempt fails and connect backs off for 1 s.
  const stop = new AbortController();
  const passes: PassSummary[] = [];
  let backingOff!: () => void;
  const failedOnce = new Promise<void>((resolve) => (backingOff = resolve));
  const running = runConnect(peer, {
    signal: stop.signal,
    onNotice: (line) => {
      if (/retrying in/.test(line)) backingOff();
    },
    onPass: (r) => {
      passes.push(r);
      stop.abort();
    },
  });
  await failedOnce;
  // The scan started with that first attempt saw a.txt as synced; now it changes here.
  await writeFile(join(dest, 'a.txt'), 'edited here while connect waited\n');
  const again = await serve(port);
  t.after(() => again.close());
  await running;
  assert.equal(passes.length, 1);
  assert.deepEqual(passes[0]!.failures, []);
  assert.equal(passes[0]!.filesChanged, 1, 'the edit was seen and the server version restored');
  assert.equal(await readFile(join(dest, 'a.txt'), 'utf8'), 'the server version\n');
});

test('a running connect notices every local change between passes (its folder is watched, not re-walked while unchanged)', async (t) => {
  const [serverHome, clientHome, served, dest] = await tempDirs(t, 'sh', 'ch', 'served', 'dest');
  await mkdir(join(served, 'deep/er'), { recursive: true });
  await writeFile(join(served, 'deep/er/a.txt'), 'server a\n');
  await writeFile(join(served, 'b.txt'), 'server b\n');
  const source = new LocalFolderSource(served);
  const server = await QuicServer.listen({ host: '127.0.0.1', port: 0, identity: await loadOrCreateIdentity(serverHome), onConnection: (c) => void serveConnection(c, { source }) });
  t.after(() => server.close());
  const stop = new AbortController();
  const passes: PassSummary[] = [];
  const waiters: Array<() => void> = [];
  const nextPass = () => new Promise<PassSummary>((resolve) => waiters.push(() => resolve(passes.at(-1)!)));
  const running = runConnect(
    await connectOptions(server.address, dest, clientHome),
    {
      signal: stop.signal,
      intervalMs: 200,
      onPass: (r) => {
        passes.push(r);
        waiters.splice(0).forEach((w) => w());
      },
    },
  );
  t.after(() => stop.abort());
  assert.equal((await nextPass()).filesChanged, 2);
  assert.equal((await nextPass()).filesChanged, 0, 'an idle pass changes nothing');
  const edits: Array<[string, () => Promise<unknown>]> = [
    ['a deep file edited', () => writeFile(join(dest, 'deep/er/a.txt'), 'edited here\n')],
    ['a file deleted', () => rm(join(dest, 'b.txt'))],
    ['a folder deleted', () => rm(join(dest, 'deep'), { recursive: true })],
  ];
  for (const [what, edit] of edits) {
    // Made right after a pass, while connect waits for the next one.
    const after = nextPass();
    await edit();
    const pass = await after;
    assert.deepEqual(pass.failures, [], what);
    assert.ok(pass.filesChanged >= 1, what);
    assert.equal(await readFile(join(dest, 'deep/er/a.txt'), 'utf8'), 'server a\n', what);
    assert.equal(await readFile(join(dest, 'b.txt'), 'utf8'), 'server b\n', what);
  }
  stop.abort();
  await running;
});

test('a connect whose connection strands answers moves to a new connection to the same server and finishes the pass', async (t) => {
  const [serverHome, clientHome, dest] = await tempDirs(t, 'sh', 'ch', 'dest');
  const data = seededBytes('redial', 2 * CHUNK_SIZE + 5);
  let hellos = 0;
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(serverHome),
    entries: [{ path: 'big.bin', data }],
    script: (req) => {
      if (req.t === 'hello') hellos++;
      if (req.t !== 'chunks' || hellos > 1) return undefined;
      return stuckReply();
    },
  });
  t.after(() => server.close());
  const notices: string[] = [];
  const pass = await runConnect(await connectOptions(server.address, dest, clientHome), { once: true, onNotice: (line) => notices.push(line) });
  assert.deepEqual(pass?.failures, []);
  assert.equal(pass?.filesChanged, 1);
  assert.ok((await readFile(join(dest, 'big.bin'))).equals(data), 'the file arrived whole');
  assert.equal(hellos, 2, 'one new connection');
  assert.deepEqual(notices, [`answers from ${server.address.host}:${server.address.port} kept stalling on this connection; continuing on a new one`]);
  assert.ok((pass?.wireBytes ?? 0) > data.length, `the pass counts the bytes of both connections (${pass?.wireBytes})`);
});

test('connect holds its folder for the session: a second one is refused, and the files it pulls new are not read back', async (t) => {
  const [serverHome, clientHome, served, dest] = await tempDirs(t, 'sh', 'ch', 'served', 'dest');
  await writeFile(join(served, 'big.bin'), seededBytes('held', 3 * CHUNK_SIZE + 5));
  await writeFile(join(served, 'small.txt'), 'small\n');
  const source = new LocalFolderSource(served);
  await source.summary(); // the server's own hashing, done before we count
  const server = await QuicServer.listen({ host: '127.0.0.1', port: 0, identity: await loadOrCreateIdentity(serverHome), onConnection: (c) => void serveConnection(c, { source }) });
  t.after(() => server.close());
  const stop = new AbortController();
  t.after(() => stop.abort());
  let firstPass!: () => void;
  const passed = new Promise<void>((resolve) => (firstPass = resolve));
  const hashedBefore = hashStats.bytesHashed;
  const running = runConnect(await connectOptions(server.address, dest, clientHome), { signal: stop.signal, intervalMs: 200, onPass: () => firstPass() });
  await passed;
  assert.equal(hashStats.bytesHashed, hashedBefore, 'the new files were checked by the hashes they were written with');
  assert.equal(await readFile(join(dest, 'small.txt'), 'utf8'), 'small\n');
  assert.ok((await readFile(join(dest, 'big.bin'))).equals(seededBytes('held', 3 * CHUNK_SIZE + 5)));
  await assert.rejects(runConnect(await connectOptions(server.address, dest, clientHome), { once: true }), FolderBusyError);
  stop.abort();
  await running;
  const again = await runConnect(await connectOptions(server.address, dest, clientHome), { once: true });
  assert.deepEqual(again?.failures, [], 'the folder is free once the first session ended');
});
