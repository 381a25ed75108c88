// Plain TLS over TCP in Node: the ceiling the QUIC transport is compared with.
//   node tls-peer.mjs server FILE KEY CERT   → prints {"port":P}, sends FILE to each connection
//   node tls-peer.mjs client PORT DEST       → writes what arrives to DEST, prints {"bytes","ms"}
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'server') {
  const server = tls.createServer({ key: readFileSync(b), cert: readFileSync(c), minVersion: 'TLSv1.3' }, (socket) => {
    pipeline(createReadStream(a, { highWaterMark: 1 << 20 }), socket).catch((err) => console.error(err.message));
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
} else if (mode === 'client') {
  const started = performance.now();
  const socket = tls.connect({ host: '127.0.0.1', port: Number(a), rejectUnauthorized: false, minVersion: 'TLSv1.3', highWaterMark: 1 << 20 });
  await pipeline(socket, createWriteStream(b, { highWaterMark: 1 << 20 }));
  console.log(JSON.stringify({ bytes: statSync(b).size, ms: performance.now() - started, cipher: socket.getCipher()?.name }));
} else {
  console.error('usage: tls-peer.mjs server FILE KEY CERT | client PORT DEST');
  process.exit(2);
}
