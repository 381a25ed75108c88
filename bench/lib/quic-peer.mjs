// leafsync's QUIC transport alone, peer to peer in two processes: what W1 could reach with no
// hashing, no staging file and no fsync. The same shape as tls-peer.mjs:
//   node quic-peer.mjs server FILE HOME  → prints {"port":P}, sends FILE on each stream a client opens
//   node quic-peer.mjs client PORT DEST  → writes what arrives to DEST, prints {"bytes","ms"}
// It runs the sidecar's built transport (apps/sidecar/dist) with its defaults (1350-byte datagrams).
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { loadOrCreateIdentity } from '../../apps/sidecar/dist/transport/identity.js';
import { connectQuic } from '../../apps/sidecar/dist/transport/quic-client.js';
import { QuicServer } from '../../apps/sidecar/dist/transport/quic-server.js';

const PIECE = 1 << 20;
const [mode, a, b] = process.argv.slice(2);

if (mode === 'server') {
  const server = await QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity: await loadOrCreateIdentity(b),
    onConnection: (conn) => {
      void (async () => {
        for await (const stream of conn.incomingStreams()) sendFile(stream, a).catch((err) => console.error(err.message));
      })();
    },
  });
  console.log(JSON.stringify({ port: server.address.port }));
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else if (mode === 'client') {
  const started = performance.now();
  const conn = await connectQuic({ host: '127.0.0.1', port: Number(a) });
  const stream = await conn.openStream();
  await stream.write(Uint8Array.of(1));
  await stream.end();
  const fd = openSync(b, 'w');
  for await (const piece of stream) writeSync(fd, piece);
  closeSync(fd);
  const ms = performance.now() - started;
  await conn.close();
  console.log(JSON.stringify({ bytes: statSync(b).size, ms }));
} else {
  console.error('usage: quic-peer.mjs server FILE HOME | client PORT DEST');
  process.exit(2);
}

/** Waits for the end of the client's one-byte request, then sends the whole file and ends the stream. */
async function sendFile(stream, path) {
  for await (const request of stream) void request;
  const fd = openSync(path, 'r');
  try {
    for (let position = 0; ; position += PIECE) {
      const piece = Buffer.allocUnsafe(PIECE);
      const n = readSync(fd, piece, 0, PIECE, position);
      if (n === 0) break;
      await stream.write(piece.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  await stream.end();
}
