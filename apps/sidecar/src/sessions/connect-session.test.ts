import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { QuicServer } from '../transport/quic-server.js';
import { TrustStore } from '../transport/trust-store.js';
import { tempDirs } from '../test-support/trees.js';
import { runConnect } from './connect-session.js';

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
    {
      target: server.address,
      folder: dest,
      home: clientHome,
      trust: await TrustStore.load(clientHome),
      policy: { acceptFirst: true },
      identity: await loadOrCreateIdentity(clientHome),
    },
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
