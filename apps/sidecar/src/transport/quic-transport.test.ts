import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { after, test } from 'node:test';
import { QuicConnectError, QuicStreamResetError, STREAM_STUCK_CODE, TransportError } from './errors.js';
import { UdpRelay } from '../test-support/udp-relay.js';
import { quiche } from '@matrixai/quic/native/index.js';
import type { QuicConnectionImpl } from './quic-connection.js';
import { STALLED_ANSWER_MS } from './quic-connection.js';
import { fingerprintOf } from './identity.js';
import { connectQuic } from './quic-client.js';
import { INITIAL_MAX_STREAM_DATA } from './quic-config.js';
import { QuicServer } from './quic-server.js';
import { patternBytes, readAll, removeTempDirs, startEchoServer, startStreamCatcher, tempIdentity, writeAll } from './quic-test-helpers.js';
import type { QuicConnection, QuicStream } from './types.js';

after(removeTempDirs);

test('handshake: the client sees the server certificate it must pin', async () => {
  const serverId = await tempIdentity();
  const server = await startEchoServer(serverId);
  try {
    assert.equal(server.address.host, '127.0.0.1');
    assert.ok(server.address.port > 0);
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const cert = conn.peerCertificate();
    assert.ok(cert, 'server certificate visible after handshake');
    assert.equal(fingerprintOf(cert), serverId.fingerprint);
    await conn.close();
  } finally {
    await server.close();
  }
});

test('mutual TLS: the server sees the client fingerprint; a client without a certificate is refused', async () => {
  const serverId = await tempIdentity();
  const clientId = await tempIdentity();
  const seen: Array<Uint8Array | undefined> = [];
  const server = await startEchoServer(serverId, { requestClientCert: true, onConnection: (c) => seen.push(c.peerCertificate()) });
  try {
    const withCert = await connectQuic({ host: 'localhost', port: server.address.port, identity: clientId });
    const s = await withCert.openStream();
    await writeAll(s, Buffer.from('hi'));
    assert.equal((await readAll(s)).toString(), 'hi');
    assert.equal(seen.length, 1);
    const first = seen[0];
    assert.ok(first);
    assert.equal(fingerprintOf(first), clientId.fingerprint);
    assert.equal(fingerprintOf(withCert.peerCertificate() ?? new Uint8Array()), serverId.fingerprint);

    // verify-peer on the server makes a certificate mandatory: an anonymous
    // client is refused and never reaches onConnection.
    const anonymous = await connectQuic({ host: '127.0.0.1', port: server.address.port }).catch((e: unknown) => e as Error);
    if (!(anonymous instanceof Error)) {
      const { error } = await anonymous.closed;
      assert.match(error?.message ?? '', /certificate required/);
    } else {
      assert.match(anonymous.message, /certificate required/);
    }
    assert.equal(seen.length, 1);
    await withCert.close();
  } finally {
    await server.close();
  }
});

test('echo on 50 concurrent streams of varied sizes is byte-exact', { timeout: 60_000 }, async () => {
  const server = await startEchoServer(await tempIdentity());
  try {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const sizes = [0, 1, 1350, 65_537, 5 * 1024 * 1024];
    const jobs = Array.from({ length: 50 }, async (_, i) => {
      const data = patternBytes(sizes[i % sizes.length] as number, i + 1);
      const s = await conn.openStream();
      const [echoed] = await Promise.all([readAll(s), writeAll(s, data, 100_000)]);
      assert.equal(echoed.length, data.length, `stream ${i} length`);
      assert.ok(echoed.equals(data), `stream ${i} bytes`);
    });
    await Promise.all(jobs);
    const st = conn.stats();
    assert.ok(st.sentBytes > 10 * 5 * 1024 * 1024, `sentBytes ${st.sentBytes}`);
    assert.ok(st.recvBytes > 10 * 5 * 1024 * 1024, `recvBytes ${st.recvBytes}`);
    await conn.close();
  } finally {
    await server.close();
  }
});

test('several concurrent clients against one server', async () => {
  const server = await startEchoServer(await tempIdentity());
  try {
    const clients = await Promise.all(Array.from({ length: 6 }, () => connectQuic({ host: '127.0.0.1', port: server.address.port })));
    await Promise.all(
      clients.map(async (conn, i) => {
        const data = patternBytes(1024 * 1024 + i, 100 + i);
        const streams = await Promise.all([conn.openStream(), conn.openStream()]);
        const results = await Promise.all(streams.map(async (s) => (await Promise.all([readAll(s), writeAll(s, data)]))[0]));
        for (const r of results) assert.ok(r.equals(data), `client ${i}`);
      }),
    );
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await server.close();
  }
});

test('a silent port: rejects with "no response from HOST:PORT" at the timeout', async () => {
  // Bound, so no "port unreachable" comes back, and never answering.
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  const port = silent.address().port;
  try {
    const started = Date.now();
    await assert.rejects(connectQuic({ host: '127.0.0.1', port, handshakeTimeoutMs: 1500 }), (e: unknown) => {
      assert.ok(e instanceof QuicConnectError);
      assert.equal(e.code, 'QUIC_NO_RESPONSE');
      assert.ok(e.message.startsWith(`no response from 127.0.0.1:${port}`), e.message);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1400 && elapsed < 3000, `rejected after ${elapsed} ms`);
  } finally {
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

for (const udp of ['batched', 'dgram'] as const) {
  test(`nothing listening (${udp} socket): the host's "port unreachable" ends the handshake long before its timeout`, async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));

    const started = Date.now();
    await assert.rejects(connectQuic({ host: '127.0.0.1', port, handshakeTimeoutMs: 10_000, udp }), (e: unknown) => {
      assert.ok(e instanceof QuicConnectError);
      assert.equal(e.code, 'QUIC_NO_RESPONSE');
      assert.equal(e.message, `nothing is listening at 127.0.0.1:${port}: its host answered "port unreachable" (is leafsync serving there, on that port? a firewall that rejects UDP answers the same)`);
      return true;
    });
    // The first report is not trusted alone; the second answers the first retransmission.
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `rejected after ${elapsed} ms`);
  });
}

test('garbage datagrams do not crash the server; an honest client still connects', async () => {
  const server = await startEchoServer(await tempIdentity());
  const junk = dgram.createSocket('udp4');
  try {
    const port = server.address.port;
    const payloads: Buffer[] = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff])];
    for (let i = 0; i < 200; i++) payloads.push(randomBytes(1 + ((i * 37) % 1400)));
    // Long-header Initial lookalikes, full size, with a plausible version: the accept path must reject them.
    for (let i = 0; i < 50; i++) {
      const b = randomBytes(1250);
      b[0] = 0xc0 | (b[0] as number & 0x0f);
      b.writeUInt32BE(i % 2 === 0 ? 1 : 0x1a2a3a4a, 1);
      b[5] = 8;
      payloads.push(b);
    }
    for (const p of payloads) await new Promise<void>((r) => junk.send(p, port, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 100));

    const conn = await connectQuic({ host: '127.0.0.1', port, handshakeTimeoutMs: 3000 });
    const s = await conn.openStream();
    const data = patternBytes(200_000, 7);
    const [echoed] = await Promise.all([readAll(s), writeAll(s, data)]);
    assert.ok(echoed.equals(data));
    await conn.close();
  } finally {
    junk.close();
    await server.close();
  }
});

test('a stream reset by the peer surfaces as a typed error on read', async () => {
  const { server, firstStream } = await startStreamCatcher(await tempIdentity());
  try {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const s = await conn.openStream();
    await s.write(Buffer.from('partial'));
    const { stream: serverStream } = await firstStream;
    s.reset(42);
    await assert.rejects(readAll(serverStream), (e: unknown) => e instanceof QuicStreamResetError && e.appCode === 42);
    await assert.rejects(s.write(Buffer.from('more')), TransportError);
    await conn.close();
  } finally {
    await server.close();
  }
});

/** A server on 127.0.0.1 that hands every stream a client opens to `onStream`. */
async function streamServer(onStream: (s: QuicStream) => void): Promise<QuicServer> {
  return QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity: await tempIdentity(),
    onConnection: (conn) => {
      void (async () => {
        for await (const s of conn.incomingStreams()) onStream(s);
      })();
    },
  });
}

test('a reader that stops reading applies backpressure instead of buffering everything', async () => {
  let idle: QuicStream | undefined;
  const server = await streamServer((s) => (idle = s)); // accepted, never read
  try {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const s = await conn.openStream();
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 1);
    let accepted = 0;
    const writer = (async () => {
      while (accepted < total) {
        await s.write(piece);
        accepted += piece.length;
      }
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(idle, 'server saw the stream');
    // Stream window (16 MiB) + local buffering (a few MiB) + one cwnd bound what can be in flight.
    assert.ok(accepted < 32 * 1024 * 1024, `writer got ${accepted} bytes ahead of a reader that never reads`);
    assert.ok(accepted > 0);
    await conn.close();
    await writer;
  } finally {
    await server.close();
  }
});

test('a writer held back by a full window sends only probes: within moments, then ever more rarely', { timeout: 30_000 }, async () => {
  // A reader that never reads fills the stream's window: the writer waits with nothing of its own
  // in flight, the state quiche was seen stranding a transfer in under loss (see BLOCKED_PROBE_MS).
  const server = await streamServer(() => {});
  try {
    const conn = (await connectQuic({ host: '127.0.0.1', port: server.address.port })) as QuicConnectionImpl;
    const s = await conn.openStream();
    void s.write(Buffer.alloc(32 * 1024 * 1024, 1)).catch(() => undefined); // more than any window
    const sent = (): number => conn.conn.stats().sent;
    // The window is full once the stream's window has gone out and the writer has sent nothing
    // for 15 ms since (data went out every ms). Quiet alone is not enough: a pause of this
    // process before then was once taken for it, and the rest of the window counted as probes.
    let last = sent();
    let lastChange = Date.now();
    while (conn.conn.stats().sentBytes < INITIAL_MAX_STREAM_DATA || Date.now() - lastChange < 15) {
      await new Promise((r) => setTimeout(r, 2));
      const n = sent();
      if (n !== last) [last, lastChange] = [n, Date.now()];
    }
    const blockedAt = last;
    await new Promise((r) => setTimeout(r, 500 - (Date.now() - lastChange)));
    const early = sent() - blockedAt;
    await new Promise((r) => setTimeout(r, 2500));
    const all = sent() - blockedAt;
    // Probes at ~25, 75, 175 and 375 ms: the once-a-second check alone would send at most one.
    assert.ok(early >= 2, `${early} datagrams in the first 0.5 s of the wait`);
    // Doubling waits: about ten in 3 s (a fixed 25 ms would send over a hundred). Before, every
    // flush wrote again and quiche answered each try with a small ack-eliciting packet: 10,000 to
    // 17,000 datagrams a second each way (two runs).
    assert.ok(all <= 20, `${all} datagrams in 3 s of waiting`);
    await conn.close();
  } finally {
    await server.close();
  }
});

test('after a NAT gives the client a new port, the server names the new one and answers reach it', async () => {
  let serverSide: QuicConnection | undefined;
  const server = await startEchoServer(await tempIdentity(), { onConnection: (c) => (serverSide = c) });
  const relay = await UdpRelay.start({ target: server.address });
  try {
    const conn = await connectQuic({ host: relay.address.host, port: relay.address.port });
    const echo = async (text: string): Promise<string> => {
      const s = await conn.openStream();
      await writeAll(s, Buffer.from(text));
      return (await readAll(s)).toString();
    };
    assert.equal(await echo('before'), 'before');
    const before = { ...serverSide!.remote };
    await relay.rebind();
    assert.equal(await echo('after'), 'after');
    assert.equal(serverSide!.remote.host, before.host);
    assert.notEqual(serverSide!.remote.port, before.port, 'the server still names the port the NAT dropped');
    await conn.close();
  } finally {
    await relay.close();
    await server.close();
  }
});

test('server.close() ends client connections, and pending stream operations fail', async () => {
  const server = await startEchoServer(await tempIdentity());
  const conn: QuicConnection = await connectQuic({ host: '127.0.0.1', port: server.address.port });
  const s = await conn.openStream();
  await s.write(Buffer.from('hello'));
  // Never gets FIN: the server goes away. The assertion is attached now, before the rejection happens.
  const readingFails = assert.rejects(readAll(s), TransportError);
  const started = Date.now();
  await server.close();
  const result = await conn.closed;
  assert.ok(Date.now() - started < 3000, 'client noticed the close promptly');
  assert.equal(result.error, undefined, `clean close, got ${result.error?.message}`);
  await readingFails;
  await assert.rejects(conn.openStream(), TransportError);
});

test('a server that vanishes without closing (killed) is noticed from "port unreachable" in seconds, not at the idle timeout', async () => {
  const server = await startEchoServer(await tempIdentity());
  const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
  try {
    const s = await conn.openStream();
    await s.write(Buffer.from('ping'));
    // As a killed process's: the socket goes, nothing is sent.
    await (server as unknown as { socket: { close(): Promise<void> } }).socket.close();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await s.write(Buffer.from('anyone there?'));
    const { error } = await conn.closed;
    assert.ok(Date.now() - started < 5000, `noticed after ${Date.now() - started} ms`);
    assert.ok(error instanceof TransportError && error.code === 'QUIC_CONNECTION_CLOSED', String(error));
    assert.equal(error.message, `connection to 127.0.0.1:${server.address.port} lost: its host answers "port unreachable" (the server stopped or restarted)`);
  } finally {
    await conn.close();
    await server.close();
  }
});

test('a server restarted on the same port resets the old connection at its next packet, not at the idle timeout', async () => {
  const identity = await tempIdentity();
  const first = await startEchoServer(identity);
  const port = first.address.port;
  const conn = await connectQuic({ host: '127.0.0.1', port });
  let second: QuicServer | undefined;
  try {
    const s = await conn.openStream();
    await writeAll(s, Buffer.from('before'));
    assert.equal((await readAll(s)).toString(), 'before');
    // Killed and started again at once: no close sent, and the port answers again before the
    // client sends anything (so no "port unreachable" can end the connection).
    await (first as unknown as { socket: { close(): Promise<void> } }).socket.close();
    second = await QuicServer.listen({ host: '127.0.0.1', port, identity, onConnection: () => {} });
    const started = Date.now();
    const after = await conn.openStream();
    await after.write(Buffer.from('anyone there?')).catch(() => {});
    const { error } = await conn.closed;
    assert.ok(Date.now() - started < 2000, `noticed after ${Date.now() - started} ms`);
    assert.ok(error instanceof TransportError && error.code === 'QUIC_CONNECTION_CLOSED', String(error));
    assert.equal(error.message, `connection to 127.0.0.1:${port} was reset: the server no longer has it (it restarted, or closed it and its close was lost)`);
    const again = await connectQuic({ host: '127.0.0.1', port });
    await again.close();
    assert.equal((await again.closed).error, undefined, 'the restarted server takes a new connection as usual');
  } finally {
    await conn.close();
    await second?.close();
    await first.close();
  }
});

test('an exception in a connection\'s driver ends that connection with an internal error, not the server', async () => {
  let serverSide: QuicConnectionImpl | undefined;
  const server = await startEchoServer(await tempIdentity(), { onConnection: (c) => (serverSide = c as QuicConnectionImpl) });
  const port = server.address.port;
  const conn = await connectQuic({ host: '127.0.0.1', port });
  try {
    const s = await conn.openStream();
    await writeAll(s, Buffer.from('before'));
    assert.equal((await readAll(s)).toString(), 'before');
    // A quiche call failing as nobody foresaw, in the server's flush (a socket callback's work).
    assert.ok(serverSide);
    Object.assign(serverSide.conn, {
      readable: () => {
        throw new Error('boom');
      },
    });
    const broken = await conn.openStream();
    await broken.write(Buffer.from('trigger')).catch(() => {});
    const [client, onServer] = await Promise.all([conn.closed, serverSide.closed]);
    assert.match(onServer.error?.message ?? '', /^connection to 127\.0\.0\.1:\d+ failed: internal error \(boom\)$/);
    assert.equal(client.error?.message, `peer 127.0.0.1:${port} closed the connection: transport error 1 "internal error"`);
    // The server process and its other connections carry on.
    const again = await connectQuic({ host: '127.0.0.1', port });
    const s2 = await again.openStream();
    await writeAll(s2, Buffer.from('after'));
    assert.equal((await readAll(s2)).toString(), 'after');
    await again.close();
  } finally {
    await conn.close();
    await server.close();
  }
});

test('a datagram for a connection the server does not have draws a stateless reset only if it could be a packet, and one shorter than it', async () => {
  const server = await startEchoServer(await tempIdentity());
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  try {
    const packet = (length: number) => {
      const p = randomBytes(length);
      p[0] = 0x40 | (p[0]! & 0x3f);
      return p;
    };
    sock.send(packet(30), server.address.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(replies.length, 0, 'too short to be a packet: no answer');
    sock.send(packet(40), server.address.port, '127.0.0.1');
    sock.send(packet(1200), server.address.port, '127.0.0.1');
    for (let waited = 0; replies.length < 2 && waited < 2000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(replies.map((r) => r.length).sort((a, b) => a - b), [39, 43]);
    for (const r of replies) assert.equal(r[0]! & 0xc0, 0x40);
  } finally {
    sock.close();
    await server.close();
  }
});

test('"port unreachable" reports end a connection only while the peer stays silent; "host unreachable" ones never', async () => {
  const server = await startEchoServer(await tempIdentity());
  const conn = (await connectQuic({ host: '127.0.0.1', port: server.address.port })) as QuicConnectionImpl;
  try {
    // Forged or stale reports, with the peer answering between them: the connection carries on.
    for (let i = 0; i < 5; i++) {
      conn.peerUnreachable('port');
      const s = await conn.openStream();
      await writeAll(s, Buffer.from(`echo ${i}`));
      assert.equal((await readAll(s)).toString(), `echo ${i}`);
      await new Promise((r) => setTimeout(r, 40));
    }
    // "Host unreachable" in silence: a route that may come back; left to the idle timeout.
    for (let i = 0; i < 4; i++) {
      conn.peerUnreachable('host');
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(conn.isFinished, false);
    // "Port unreachable" in silence: three reports over more than 100 ms end it.
    for (let i = 0; i < 3; i++) {
      conn.peerUnreachable('port');
      await new Promise((r) => setTimeout(r, 60));
    }
    const { error } = await conn.closed;
    assert.equal(error?.message, `connection to 127.0.0.1:${server.address.port} lost: its host answers "port unreachable" (the server stopped or restarted)`);
  } finally {
    await server.close();
  }
});

test('server.close() while the client has finished its handshake and the server has not still reaches the client', async () => {
  const server = await startEchoServer(await tempIdentity());
  // Every datagram takes 300 ms: the client is established when the server's flight arrives, while
  // its own Finished is still on the way, so the server closes in the middle of its handshake.
  const relay = await UdpRelay.start({ target: server.address, delayMs: 300 });
  try {
    const conn = await connectQuic({ host: relay.address.host, port: relay.address.port });
    const started = Date.now();
    await server.close();
    const result = await conn.closed;
    assert.ok(Date.now() - started < 5000, `client noticed the close after ${Date.now() - started} ms, not its idle timeout`);
    assert.equal(result.error, undefined, `clean close, got ${result.error?.message}`);
  } finally {
    await relay.close();
  }
});

test('a close that quiche keeps repeating ends at once, cleanly, after a few datagrams', async () => {
  const server = await startEchoServer(await tempIdentity());
  try {
    const conn = (await connectQuic({ host: '127.0.0.1', port: server.address.port })) as QuicConnectionImpl;
    // What quiche 0.18 was seen doing for a client that closed right after its handshake (about one
    // close in ten under load; not reproducible on demand): the same CONNECTION_CLOSE on every
    // send() call, forever, and no timer that ends the connection.
    const send = conn.conn.send.bind(conn.conn);
    let close: { bytes: Buffer; result: ReturnType<typeof send> } | undefined;
    let sentAfterClose = 0;
    Object.assign(conn.conn, {
      send: (out: Buffer): ReturnType<typeof send> => {
        if (conn.conn.localError() === null) return send(out); // not closing yet: quiche as it is
        const r = send(out);
        if (r !== null) close = { bytes: Buffer.from(out.subarray(0, r[0])), result: r };
        if (close === undefined) return null;
        if (r === null) close.bytes.copy(out); // the same packet again
        sentAfterClose++;
        return close.result;
      },
      onTimeout: () => {},
    });
    const started = Date.now();
    await conn.close();
    const { error } = await conn.closed;
    assert.equal(error, undefined);
    // Before: 4,096 datagrams a flush, at every timer, until a 5 s deadline tore it down as unclean.
    assert.ok(Date.now() - started < 1000, `closed after ${Date.now() - started} ms`);
    assert.ok(sentAfterClose >= 1 && sentAfterClose <= 4, `${sentAfterClose} datagrams sent to close`);
  } finally {
    await server.close();
  }
});

test('closing the client resolves closed on both ends without an error', async () => {
  let serverConn: QuicConnection | undefined;
  const server = await startEchoServer(await tempIdentity(), { onConnection: (c) => (serverConn = c) });
  try {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const s = await conn.openStream();
    await writeAll(s, Buffer.from('ping'));
    assert.equal((await readAll(s)).toString(), 'ping');
    await conn.close(0, 'done');
    assert.deepEqual(await conn.closed, {});
    assert.ok(serverConn);
    assert.deepEqual(await serverConn.closed, {});
  } finally {
    await server.close();
  }
});

/**
 * A server that catches the first stream, a relay in front of it, and a client stream through the
 * relay with a request ('go') written; `use` gets them, and everything is closed after it.
 */
async function withRelayedStream(use: (t: { relay: UdpRelay; conn: QuicConnection; s: QuicStream; serverSide: Promise<{ conn: QuicConnection; stream: QuicStream }> }) => Promise<void>): Promise<void> {
  const { server, firstStream } = await startStreamCatcher(await tempIdentity());
  const relay = await UdpRelay.start({ target: server.address, seed: 7 });
  try {
    const conn = await connectQuic({ host: relay.address.host, port: relay.address.port });
    const s = await conn.openStream();
    await s.write(Buffer.from('go'));
    await use({ relay, conn, s, serverSide: firstStream });
  } finally {
    await relay.close();
    await server.close();
  }
}

test('a reset of a stream whose FIN arrived but whose data has a gap still reaches the reader', { timeout: 60_000 }, async () => {
  await withRelayedStream(async ({ relay, conn, s, serverSide }) => {
    await s.end();
    const { conn: caughtConn, stream: serverStream } = await serverSide;
    const serverConn = caughtConn as QuicConnectionImpl;
    // Full-sized datagrams (the data) are lost; the small one carrying the FIN gets through, so
    // the reader knows the stream's final size but has a gap. quiche then never reports a reset
    // (its notice is an empty buffer at the final size, skipped once the size is known).
    relay.dropToClient = (d) => d.length > 400;
    // Small enough for the initial congestion window, so the FIN is sent right behind the data.
    await serverStream.write(patternBytes(8 * 1024, 1));
    await serverStream.end();
    await new Promise((r) => setTimeout(r, 300));
    // What the stuck-stream check does: our stream API has nothing to reset after its FIN.
    serverConn.conn.streamShutdown(serverStream.id, quiche.Shutdown.Write, STREAM_STUCK_CODE);
    serverConn.scheduleFlush();
    await new Promise((r) => setTimeout(r, 300));
    relay.dropToClient = undefined;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no reset heard within 20 s')), 20_000)));
    await assert.rejects(Promise.race([readAll(s), giveUp]), (e: unknown) => e instanceof QuicStreamResetError && e.stuck);
    clearTimeout(timer);
    await conn.close();
  });
});

test('a receiver whose acknowledgement of a flight was lost acknowledges again before the sender has to probe', { timeout: 60_000 }, async () => {
  await withRelayedStream(async ({ relay, conn, s, serverSide }) => {
    const { stream: serverStream } = await serverSide;
    await new Promise((r) => setTimeout(r, 100)); // the request's own acknowledgements settle
    // One flight from the server; every datagram the client sends within 3 ms of one of its
    // datagrams (the acknowledgements it sends at once) is lost. What reaches the relay next
    // decides: the client acknowledging again, or the server's probe timeout (25 ms or more).
    let lastFromServer = 0;
    let first: 'client' | 'server' | undefined;
    relay.dropToClient = () => {
      const now = performance.now();
      if (first === undefined && lastFromServer > 0 && now - lastFromServer >= 3) first = 'server';
      lastFromServer = now;
      return false;
    };
    relay.dropToServer = () => {
      if (first === undefined && performance.now() - lastFromServer < 3) return true;
      first ??= 'client';
      return false;
    };
    const flight = patternBytes(8 * 1024, 3); // within the initial congestion window
    await serverStream.write(flight);
    // A write's last byte waits for the next write or the FIN (QuicStream.write), so the flight is the rest.
    const got = Buffer.alloc(flight.length - 1);
    for (let n = 0; n < got.length; ) n += await s.read(got.subarray(n));
    assert.ok(got.equals(flight.subarray(0, got.length)));
    // Either comes within a probe timeout or two; seconds of silence are a failure of its own.
    const deadline = performance.now() + 2_000;
    while (first === undefined && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.notEqual(first, undefined, 'nothing reached the relay for 2 s after the flight: no acknowledgement again and no probe');
    assert.equal(first, 'client', 'the sender had to probe: the receiver never acknowledged the flight again');
    relay.dropToClient = relay.dropToServer = undefined;
    await conn.close();
  });
});

test('a steady answer starved while another stream holds unread data is not given up on (a slow reader, not a stall)', { timeout: 60_000 }, async () => {
  const server = await streamServer((s) => {
    // The client's first stream gets 8 MiB it leaves unread; the other never hears back.
    // Chosen by id: two streams opened together can reach this loop in either order.
    if (s.id === 0) void s.write(Buffer.alloc(8 * 1024 * 1024, 7)).catch(() => {});
  });
  try {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const open = async () => {
      const s = await conn.openStream();
      await s.write(Buffer.from('request'));
      s.expectSteadyAnswer();
      return s;
    };
    const unread = await open(); // never read
    assert.equal(unread.id, 0, 'the stream the server answers');
    const starved = await open();
    const outcome = (async () => {
      for await (const piece of starved) void piece;
      return 'ended';
    })().catch((err: unknown) => (err instanceof QuicStreamResetError && err.stuck ? 'given up' : `failed: ${String(err)}`));
    const waited = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('still waiting'), STALLED_ANSWER_MS + 3_000))]);
    assert.equal(waited, 'still waiting');
    await conn.close();
  } finally {
    await server.close();
  }
});

test('a steady answer that starts after a pause shorter than the limit is waited for', async () => {
  const server = await streamServer((s) => {
    void (async () => {
      await new Promise((r) => setTimeout(r, 2_500));
      await s.write(Buffer.from('answer'));
      await s.end();
    })().catch(() => {});
  });
  try {
    const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
    const s = await conn.openStream();
    await s.write(Buffer.from('request'));
    await s.end();
    s.expectSteadyAnswer();
    assert.equal((await readAll(s)).toString(), 'answer');
    await conn.close();
  } finally {
    await server.close();
  }
});
