import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE, hashStats } from '../engine/chunking.js';
import { LocalFolderSource } from '../engine/folder-source.js';
import type { FileSummary } from '../engine/types.js';
import { startServe, type ServeOptions } from '../sessions/serve-session.js';
import { hashTree, seededBytes, tempDir, tempDirs, writeTree } from '../test-support/trees.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { connectQuic } from '../transport/quic-client.js';
import { QuicConnectionClosedError } from '../transport/errors.js';
import { TrustStore } from '../transport/trust-store.js';
import { QuicRemoteFolder } from './client-session.js';
import { PeerError } from './messages.js';
import { serveConnection } from './server-session.js';

const NONE = new Uint8Array(0);

/** A real server (startServe) and a client connected with its own identity, serving its folder back for pushes. */
async function pushSetup(t: TestContext, serveOpts: Partial<ServeOptions> & { authoriseClient?: boolean } = {}) {
  const [served, local, serverHome, clientHome] = await tempDirs(t, 'served', 'local', 'server-home', 'client-home');
  const [serverId, clientId] = await Promise.all([loadOrCreateIdentity(serverHome), loadOrCreateIdentity(clientHome)]);
  if (serveOpts.authoriseClient !== false) await (await TrustStore.load(serverHome)).addClient(clientId.fingerprint);
  const server = await startServe({ folder: served, bind: '127.0.0.1', port: 0, identity: serverId, home: serverHome, allowPush: true, ...serveOpts });
  const connect = async (identity = clientId, source = new LocalFolderSource(local)) => {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port, identity });
    t.after(() => conn.close());
    void serveConnection(conn, { source });
    return { conn, source };
  };
  t.after(() => server.close());
  return { served, local, serverHome, clientId, connect };
}

async function entryOf(source: LocalFolderSource, path: string): Promise<FileSummary> {
  const { entry } = await source.locate(path);
  assert.ok(entry, `${path} exists`);
  return entry;
}

test('push: a new file lands on the server verified, with its mtime', async (t) => {
  const s = await pushSetup(t);
  await writeTree(s.local, { 'docs/new.txt': 'hello from the client\n', 'big.bin': seededBytes('b', 3 * CHUNK_SIZE + 9) });
  const { conn, source } = await s.connect();
  const remote = await QuicRemoteFolder.open(conn, { mode: 'push' });
  await remote.push({ path: 'docs', type: 'dir', size: 0, mtimeMs: 0, mode: 0o755, root: NONE }, NONE);
  const small = await remote.push(await entryOf(source, 'docs/new.txt'), NONE);
  const bigEntry = await entryOf(source, 'big.bin');
  const hashedBefore = hashStats.bytesHashed;
  const big = await remote.push(bigEntry, NONE);
  // The server holds the folder's write lock: what it wrote from verified chunks is not read back.
  assert.equal(hashStats.bytesHashed, hashedBefore, 'no file was hashed during the push');
  assert.deepEqual([small.chunks, big.chunks], [1, 4]);
  assert.deepEqual(await hashTree(s.served), await hashTree(s.local));
  assert.deepEqual((await readdir(s.served)).sort(), ['.leafsync_tmp', 'big.bin', 'docs']);
  assert.deepEqual(await readdir(join(s.served, '.leafsync_tmp')), ['writer.lock'], 'no staging left behind, just the running server\'s lock');
});

test('push: changing one chunk of a 64 MiB file sends one chunk, seeded from the server copy', async (t) => {
  const s = await pushSetup(t);
  const data = seededBytes('64m', 64 * CHUNK_SIZE);
  await writeTree(s.served, { 'vm.img': data });
  await writeTree(s.local, { 'vm.img': data });
  const { conn, source } = await s.connect();
  const base = (await entryOf(source, 'vm.img')).root;
  const fh = await open(join(s.local, 'vm.img'), 'r+');
  await fh.write(Buffer.from('edited in the middle'), 0, 20, 40 * CHUNK_SIZE + 12345);
  await fh.close();
  const remote = await QuicRemoteFolder.open(conn, { mode: 'push' });
  const result = await remote.push(await entryOf(source, 'vm.img'), base);
  assert.equal(result.chunks, 1);
  assert.equal(result.bytes, CHUNK_SIZE);
  assert.deepEqual(await hashTree(s.served), await hashTree(s.local));
});

test('push: a server whose file moved on since the base refuses as a conflict and keeps its file', async (t) => {
  const s = await pushSetup(t);
  await writeTree(s.served, { 'f.txt': 'server edit\n' });
  await writeTree(s.local, { 'f.txt': 'client edit\n' });
  const { conn, source } = await s.connect();
  const remote = await QuicRemoteFolder.open(conn, { mode: 'push' });
  const before = await hashTree(s.served);
  await assert.rejects(remote.push(await entryOf(source, 'f.txt'), NONE), (err: unknown) => err instanceof PeerError && err.code === 'CONFLICT' && /f\.txt changed on the server/.test(err.message));
  assert.deepEqual(await hashTree(s.served), before);
});

test('push: a delete moves the server copy to its trash, only if it is still the base version', async (t) => {
  const s = await pushSetup(t);
  await writeTree(s.served, { 'old.txt': 'to delete\n', 'kept.txt': 'server changed this\n' });
  await writeTree(s.local, { 'old.txt': 'to delete\n', 'kept.txt': 'what the client last saw\n' });
  const { conn, source } = await s.connect();
  const remote = await QuicRemoteFolder.open(conn, { mode: 'push' });
  await remote.remove('old.txt', (await entryOf(source, 'old.txt')).root);
  await assert.rejects(remote.remove('kept.txt', (await entryOf(source, 'kept.txt')).root), (err: unknown) => err instanceof PeerError && err.code === 'CONFLICT');
  assert.equal(await readFile(join(s.served, 'kept.txt'), 'utf8'), 'server changed this\n');
  assert.deepEqual(await readdir(s.served).then((n) => n.sort()), ['.leafsync_tmp', '.leafsync_trash', 'kept.txt']);
  const [stamp] = await readdir(join(s.served, '.leafsync_trash'));
  assert.equal(await readFile(join(s.served, '.leafsync_trash', stamp!, 'old.txt'), 'utf8'), 'to delete\n');
});

test('push: an unauthorised client is refused with the command that would authorise it; the folder is untouched', async (t) => {
  const s = await pushSetup(t, { authoriseClient: false });
  await writeTree(s.served, { 'f.txt': 'server\n' });
  const before = await hashTree(s.served);
  const { conn } = await s.connect();
  await assert.rejects(
    QuicRemoteFolder.open(conn, { mode: 'push' }),
    (err: unknown) => err instanceof PeerError && err.code === 'NOT_AUTHORISED' && err.message.includes(`trust add-client ${s.clientId.fingerprint}`),
  );
  // Skipping the hello does not help either.
  const pull = await QuicRemoteFolder.open(conn);
  await assert.rejects(pull.push({ path: 'f.txt', type: 'file', size: 1, mtimeMs: 0, mode: 0o644, root: new Uint8Array(32) }, NONE), (err: unknown) => err instanceof PeerError && err.code === 'NOT_AUTHORISED');
  assert.deepEqual(await hashTree(s.served), before);
});

test('push: a read-only server refuses pushes', async (t) => {
  const s = await pushSetup(t, { allowPush: false });
  const { conn } = await s.connect();
  await assert.rejects(QuicRemoteFolder.open(conn, { mode: 'push' }), (err: unknown) => err instanceof PeerError && err.code === 'READ_ONLY');
});

test('push: --accept-first-client authorises the first pushing client only', async (t) => {
  const s = await pushSetup(t, { authoriseClient: false, acceptFirstClient: true });
  const first = await s.connect();
  await QuicRemoteFolder.open(first.conn, { mode: 'push' });
  assert.deepEqual((await TrustStore.load(s.serverHome)).clients().map((c) => c.fingerprint), [s.clientId.fingerprint]);
  const other = await loadOrCreateIdentity(await tempDir(t, 'other-home'));
  const second = await s.connect(other);
  await assert.rejects(QuicRemoteFolder.open(second.conn, { mode: 'push' }), (err: unknown) => err instanceof PeerError && err.code === 'NOT_AUTHORISED');
});

/** A client folder that never answers a chunk request: to the server, a client killed mid-push. */
class StalledFolder extends LocalFolderSource {
  constructor(
    rootAbs: string,
    private readonly onAsked: () => void,
  ) {
    super(rootAbs);
  }

  override async fetchChunks(): Promise<void> {
    this.onAsked();
    await new Promise<never>(() => undefined);
  }
}

test('push: the same client pushing a file again on a new connection closes its older one, which still held the file', { timeout: 20_000 }, async (t) => {
  const log: string[] = [];
  const s = await pushSetup(t, { log: (line) => log.push(line) });
  await writeTree(s.local, { 'big.bin': seededBytes('again', 3 * CHUNK_SIZE + 5) });
  let asked!: () => void;
  const serverAsked = new Promise<void>((resolve) => (asked = resolve));
  const first = await s.connect(undefined, new StalledFolder(s.local, asked));
  const entry = await entryOf(first.source, 'big.bin');
  // Settled into a value at once: it fails while the second push is still running.
  const stalledPush = QuicRemoteFolder.open(first.conn, { mode: 'push' })
    .then((remote) => remote.push(entry, NONE))
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  await serverAsked; // the server holds big.bin, waiting for chunks that will never come

  const second = await s.connect();
  await (await QuicRemoteFolder.open(second.conn, { mode: 'push' })).push(entry, NONE);
  assert.deepEqual(await hashTree(s.served), await hashTree(s.local));
  assert.ok((await stalledPush) instanceof QuicConnectionClosedError, 'the older connection was closed');
  assert.ok(
    log.some((line) => line.includes('changes big.bin again on a new connection')),
    log.join('\n'),
  );
});
