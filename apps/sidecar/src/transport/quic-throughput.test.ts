import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { connectQuic } from './quic-client.js';
import { QuicServer } from './quic-server.js';
import { patternBytes, removeTempDirs, sha256Of, tempIdentity } from './quic-test-helpers.js';
import type { QuicStream } from './types.js';

after(removeTempDirs);

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;

/** Server that hashes every incoming stream and answers with "<bytes> <sha256>". */
async function hashingServer(): Promise<QuicServer> {
  return QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity: await tempIdentity(),
    onConnection: (conn) => {
      void (async () => {
        for await (const s of conn.incomingStreams()) {
          void (async () => {
            const { hash, bytes } = await sha256Of(s);
            await s.write(Buffer.from(`${bytes} ${hash}`));
            await s.end();
          })();
        }
      })();
    },
  });
}

async function sendAndVerify(s: QuicStream, size: number, seed: number): Promise<void> {
  const piece = 1 * MiB;
  const expected = createHash('sha256');
  for (let off = 0; off < size; off += piece) {
    const chunk = patternBytes(Math.min(piece, size - off), seed + off);
    expected.update(chunk);
    await s.write(chunk);
  }
  await s.end();
  const parts: Uint8Array[] = [];
  for await (const p of s) parts.push(p);
  assert.equal(Buffer.concat(parts).toString(), `${size} ${expected.digest('hex')}`);
}

for (const streams of [1, 8]) {
  test(`throughput: 64 MiB over ${streams} stream(s), 1350-byte datagrams, byte-exact`, { timeout: 120_000 }, async () => {
    const server = await hashingServer();
    try {
      const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
      const opened = await Promise.all(Array.from({ length: streams }, () => conn.openStream()));
      const started = performance.now();
      await Promise.all(opened.map((s, i) => sendAndVerify(s, TOTAL / streams, i * 7919)));
      const seconds = (performance.now() - started) / 1000;
      console.log(`QUIC ${streams} stream(s): ${(TOTAL / 1e6 / seconds).toFixed(1)} MB/s (64 MiB in ${seconds.toFixed(2)} s, lost packets ${conn.stats().lostPackets})`);
      await conn.close();
    } finally {
      await server.close();
    }
  });
}
