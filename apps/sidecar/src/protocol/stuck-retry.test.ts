import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { QuicRemoteFolder } from './client-session.js';
import { QuicStreamResetError, STREAM_STUCK_CODE } from '../transport/errors.js';
import { connectQuic } from '../transport/quic-client.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { MaliciousServer, ResetStream, STRANDED, UNKNOWN_REQUEST, stuckReply, type Reply } from '../test-support/malicious-server.js';
import type { QuicConnection } from '../transport/types.js';
import { seededBytes, tempDir } from '../test-support/trees.js';
import type { Request } from './messages.js';

const DATA = seededBytes('stuck-retry', 3 * CHUNK_SIZE + 17);

async function serverThatResetsOnce(t: { after(fn: () => Promise<void>): void }, code: number, kind: Request['t']): Promise<MaliciousServer> {
  let resets = 0;
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(await tempDir(t, 'stuck-id')),
    entries: [{ path: 'big.bin', data: DATA }],
    script: (req, honest) => {
      if (req.t !== kind || resets > 0) return undefined;
      resets++;
      // Two frames are written, so the first is whole (a stream holds back the last byte of its
      // latest write until the next write or the FIN); the reader gets time to take it (a reset
      // discards what it has not), then the stream is reset as a stuck sender would.
      return (async function* () {
        yield* (honest.reply(req) as Uint8Array[]).slice(0, 2);
        await new Promise((r) => setTimeout(r, 500));
        throw new ResetStream(code);
      })();
    },
  });
  t.after(() => server.close());
  return server;
}

async function openFolder(
  t: { after(fn: () => Promise<void>): void },
  server: MaliciousServer,
  redial?: () => Promise<QuicConnection>,
): Promise<QuicRemoteFolder> {
  const conn = await connectQuic({ host: server.address.host, port: server.address.port });
  t.after(() => conn.close());
  return QuicRemoteFolder.open(conn, redial ? { redial } : {});
}

/** Opens connections to `server` on demand, each closed when the test ends. */
function dialer(t: { after(fn: () => Promise<void>): void }, server: MaliciousServer): { redial: () => Promise<QuicConnection>; dialed: QuicConnection[] } {
  const dialed: QuicConnection[] = [];
  const redial = async () => {
    const conn = await connectQuic({ host: server.address.host, port: server.address.port });
    t.after(() => conn.close());
    dialed.push(conn);
    return conn;
  };
  return { redial, dialed };
}

/** A request for chunks: of one file, or the first chunks of several (FirstChunkBatcher). */
const asksChunks = (req: Request) => req.t === 'chunks' || req.t === 'first-chunks';

/** A server that answers chunk requests on its first connection (while only one hello has come) with `stuck(req)`. */
async function serverStuckOnFirstConnection(t: { after(fn: () => Promise<void>): void }, stuck: (req: Request) => Reply): Promise<MaliciousServer> {
  let hellos = 0;
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(await tempDir(t, 'first-conn-stuck-id')),
    entries: [{ path: 'big.bin', data: DATA }],
    script: (req) => {
      if (req.t === 'hello') hellos++;
      return asksChunks(req) && hellos === 1 ? stuck(req) : undefined;
    },
  });
  t.after(() => server.close());
  return server;
}

test('a chunk answer reset as stuck is asked again, for the chunks that had not arrived', async (t) => {
  const server = await serverThatResetsOnce(t, STREAM_STUCK_CODE, 'chunks');
  const folder = await openFolder(t, server);
  const got = new Map<number, Uint8Array>();
  await folder.fetchChunks('big.bin', [0, 1, 2, 3], async (i, data) => {
    assert.ok(!got.has(i), `chunk ${i} delivered once`);
    got.set(i, Buffer.from(data)); // data is only ours until this callback settles
  });
  assert.deepEqual([...got.keys()].sort(), [0, 1, 2, 3]);
  for (const [i, data] of got) assert.ok(Buffer.from(data).equals(DATA.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)));
  const asked = server.requests.filter((r) => r.t === 'chunks').map((r) => (r.t === 'chunks' ? r.indices : []));
  assert.deepEqual(asked, [[0, 1, 2, 3], [1, 2, 3]]);
});

test('a summary and a hash list reset as stuck are asked again', async (t) => {
  for (const kind of ['summary', 'hashes'] as const) {
    const server = await serverThatResetsOnce(t, STREAM_STUCK_CODE, kind);
    const folder = await openFolder(t, server);
    const summary = await folder.summary();
    assert.deepEqual(summary.entries.map((e) => e.path), ['big.bin']);
    assert.equal((await folder.chunkHashes('big.bin', 4)).length, 4);
    assert.equal(server.requests.filter((r) => r.t === kind).length, 2, `${kind} was asked twice`);
  }
});

test('an answer reset as stuck every time is given up on after 9 attempts, and the error says so', async (t) => {
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(await tempDir(t, 'always-stuck-id')),
    entries: [{ path: 'big.bin', data: DATA }],
    script: (req) => (asksChunks(req) ? stuckReply() : undefined),
  });
  t.after(() => server.close());
  const folder = await openFolder(t, server);
  await assert.rejects(folder.fetchChunks('big.bin', [0], async () => undefined), (e: unknown) => {
    assert.ok(e instanceof QuicStreamResetError && e.stuck);
    assert.match(e.message, /the last of 9 attempts in a row; gave up for this pass/);
    return true;
  });
  // The first chunk goes in a batch first; once that is stuck, on requests of its own.
  assert.equal(server.requests.filter((r) => r.t === 'first-chunks').length, 1);
  assert.equal(server.requests.filter((r) => r.t === 'chunks').length, 9);
});

test('a connection that strands answer after answer is replaced, and the transfer completes on the new one', async (t) => {
  const server = await serverStuckOnFirstConnection(t, stuckReply);
  const { redial, dialed } = dialer(t, server);
  const folder = await openFolder(t, server, redial);
  const bytesBefore = folder.wireBytes();
  const got = new Map<number, string>();
  await folder.fetchChunks('big.bin', [0, 1, 2, 3], async (i, data) => void got.set(i, Buffer.from(data).toString('hex')));
  for (let i = 0; i < 4; i++) assert.equal(got.get(i), DATA.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE).toString('hex'), `chunk ${i}`);
  assert.equal(dialed.length, 1, 'one new connection');
  assert.deepEqual(server.requests.map((r) => r.t), ['hello', 'chunks', 'chunks', 'hello', 'chunks'], 'two stuck answers, then hello and the request on the new connection');
  // The chunks came over the new connection, and the count still includes the first one's bytes.
  assert.ok(folder.wireBytes() > bytesBefore + DATA.length, `wire bytes ${folder.wireBytes()}`);
});

test('requests cut off by the replacement of their connection are asked again on the new one', async (t) => {
  // Chunk 0's answers are reset as stuck; the others never come, until the connection changes.
  const server = await serverStuckOnFirstConnection(t, (req) =>
    req.t === 'first-chunks' || (req.t === 'chunks' && req.indices.includes(0))
      ? stuckReply()
      : (async function* () {
          yield* [];
          await new Promise(() => {});
        })(),
  );
  const { redial, dialed } = dialer(t, server);
  const folder = await openFolder(t, server, redial);
  const got = new Map<number, string>();
  const keep = async (i: number, data: Uint8Array) => void got.set(i, Buffer.from(data).toString('hex'));
  const started = Date.now();
  await Promise.all([folder.fetchChunks('big.bin', [1], keep), folder.fetchChunks('big.bin', [2, 3], keep), folder.fetchChunks('big.bin', [0], keep)]);
  for (let i = 0; i < 4; i++) assert.equal(got.get(i), DATA.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE).toString('hex'), `chunk ${i}`);
  assert.equal(dialed.length, 1, 'one new connection, however many requests were cut off');
  assert.equal(server.requests.filter((r) => r.t === 'hello').length, 2);
  // Nothing waited for the 5 s stall check: the cut-off requests moved at once.
  assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
});

test('when no new connection can be had, the retries stay on the first one', async (t) => {
  const server = await serverStuckOnFirstConnection(t, stuckReply);
  let attempts = 0;
  const folder = await openFolder(t, server, async () => {
    attempts++;
    throw new Error('no route to the server');
  });
  await assert.rejects(folder.fetchChunks('big.bin', [0], async () => undefined), /the last of 9 attempts in a row/);
  assert.equal(server.requests.filter((r) => r.t === 'first-chunks').length, 1);
  assert.equal(server.requests.filter((r) => r.t === 'chunks').length, 9);
  assert.equal(attempts, 4, 'a new connection was tried after every second stuck answer');
});

test('any other reset is not retried: the caller hears of it', async (t) => {
  const server = await serverThatResetsOnce(t, 7, 'chunks');
  const folder = await openFolder(t, server);
  await assert.rejects(
    folder.fetchChunks('big.bin', [0, 1], async () => undefined),
    (e: unknown) => e instanceof QuicStreamResetError && e.appCode === 7,
  );
  assert.equal(server.requests.filter((r) => r.t === 'chunks').length, 1);
});

test('a request that is never acknowledged (stranded in our QUIC stack) is asked again on a new stream', { timeout: 60_000 }, async (t) => {
  let silenced = 0;
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(await tempDir(t, 'stranded-id')),
    entries: [{ path: 'big.bin', data: DATA }],
    script: (req) => (req.t === 'summary' && silenced++ === 0 ? STRANDED : undefined),
  });
  t.after(() => server.close());
  const folder = await openFolder(t, server);
  const started = Date.now();
  const summary = await folder.summary();
  assert.deepEqual(summary.entries.map((e) => e.path), ['big.bin']);
  assert.equal(server.requests.filter((r) => r.t === 'summary').length, 2, 'the summary was asked twice');
  // Two counted keep-alive checks (5 s apart) at the least; a silent interval is not counted.
  const waited = Date.now() - started;
  assert.ok(waited >= 5_000 && waited < 40_000, `gave up on the unanswered request after ${waited} ms`);
});

test('a chunk answer that stops mid-way on a live connection is given up on, and only the missing chunks are asked again', { timeout: 90_000 }, async (t) => {
  let stalls = 0;
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(await tempDir(t, 'stalled-id')),
    entries: [{ path: 'big.bin', data: DATA }],
    script: (req, honest) => {
      if (req.t !== 'chunks' || stalls++ > 0) return undefined;
      // Two whole frames (see serverThatResetsOnce), then nothing, with the connection left up.
      return (async function* () {
        yield* (honest.reply(req) as Uint8Array[]).slice(0, 3);
        await new Promise(() => {});
      })();
    },
  });
  t.after(() => server.close());
  const folder = await openFolder(t, server);
  const got = new Map<number, string>();
  const started = Date.now();
  await folder.fetchChunks('big.bin', [0, 1, 2, 3], async (i, data) => void got.set(i, Buffer.from(data).toString('hex')));
  const waited = Date.now() - started;
  const asked = server.requests.filter((r) => r.t === 'chunks');
  assert.equal(asked.length, 2, 'asked twice');
  assert.deepEqual(asked[1]!.t === 'chunks' && asked[1]!.indices, [2, 3], 'the second time only for what had not arrived');
  for (let i = 0; i < 4; i++) assert.equal(got.get(i), DATA.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE).toString('hex'), `chunk ${i}`);
  assert.ok(waited >= 4_000 && waited < 30_000, `gave up on the stalled answer after ${waited} ms`);
});

test('a server that does not know batches of first chunks (an older leafsync) is asked file by file', async (t) => {
  const files = ['a.txt', 'b.txt', 'c.txt'];
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(await tempDir(t, 'old-server-id')),
    entries: files.map((path) => ({ path, data: Buffer.from(`content of ${path}`) })),
    script: (req) => (req.t === 'first-chunks' ? UNKNOWN_REQUEST : undefined),
  });
  t.after(() => server.close());
  const folder = await openFolder(t, server);
  const got = new Map<string, string>();
  await Promise.all(files.map((path) => folder.fetchChunks(path, [0], async (_i, data) => void got.set(path, Buffer.from(data).toString()))));
  for (const path of files) assert.equal(got.get(path), `content of ${path}`);
  assert.deepEqual(server.requests.filter((r) => r.t !== 'hello').map((r) => r.t), ['first-chunks', 'chunks', 'chunks', 'chunks']);
});
