/**
 * Shared fixtures for the QUIC tests: temp identities, an echo server, and
 * helpers to drain streams. Not imported by production code.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentity } from './identity.js';
import { QuicServer } from './quic-server.js';
import type { Identity, QuicConnection, QuicStream } from './types.js';

const tempRoots: string[] = [];

export async function tempIdentity(): Promise<Identity> {
  const root = await mkdtemp(join(tmpdir(), 'leafsync-quic-'));
  tempRoots.push(root);
  return loadOrCreateIdentity(root);
}

export async function removeTempDirs(): Promise<void> {
  for (const r of tempRoots.splice(0)) await rm(r, { recursive: true, force: true });
}

/** Read a stream to its FIN. */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

export async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const p of stream) {
    h.update(p);
    bytes += p.length;
  }
  return { hash: h.digest('hex'), bytes };
}

/** Write `data` in pieces of `piece` bytes, then FIN. */
export async function writeAll(stream: QuicStream, data: Uint8Array, piece = 256 * 1024): Promise<void> {
  for (let i = 0; i < data.length; i += piece) await stream.write(data.subarray(i, Math.min(i + piece, data.length)));
  await stream.end();
}

/** Echo every byte of every incoming stream back on the same stream. */
export function echoStreams(conn: QuicConnection): void {
  void (async () => {
    for await (const s of conn.incomingStreams()) {
      void (async () => {
        for await (const piece of s) await s.write(piece);
        await s.end();
      })().catch(() => {}); // the test on the other side asserts the outcome
    }
  })();
}

/** A server that hands the test the first stream a client opens, with its connection. */
export async function startStreamCatcher(identity: Identity): Promise<{ server: QuicServer; firstStream: Promise<{ conn: QuicConnection; stream: QuicStream }> }> {
  let caught!: (c: { conn: QuicConnection; stream: QuicStream }) => void;
  const firstStream = new Promise<{ conn: QuicConnection; stream: QuicStream }>((r) => (caught = r));
  const server = await QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity,
    onConnection: (conn) => {
      void (async () => {
        for await (const stream of conn.incomingStreams()) caught({ conn, stream });
      })();
    },
  });
  return { server, firstStream };
}

export async function startEchoServer(identity: Identity, extra: { requestClientCert?: boolean; onConnection?: (c: QuicConnection) => void } = {}): Promise<QuicServer> {
  return QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity,
    requestClientCert: extra.requestClientCert ?? false,
    onConnection: (conn) => {
      extra.onConnection?.(conn);
      echoStreams(conn);
    },
  });
}

/** Deterministic pseudo-random bytes (fast, so big payloads are cheap to build). */
export function patternBytes(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = seed * 2654435761 + 1;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  for (; i < length; i++) b[i] = (seed + i) & 0xff;
  return b;
}
