import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { QuicServer } from '../transport/quic-server.js';
import { TrustStore } from '../transport/trust-store.js';
import { tempDirs } from '../test-support/trees.js';
import { withReconnects } from './reconnecting.js';

test('a new connection to the same peer is opened and told of; one that cannot be opened is told of too', async (t) => {
  const [serverHome, clientHome] = await tempDirs(t, 'sh', 'ch');
  const server = await QuicServer.listen({ host: '127.0.0.1', port: 0, identity: await loadOrCreateIdentity(serverHome), onConnection: () => undefined });
  t.after(() => server.close());
  const where = `${server.address.host}:${server.address.port}`;
  const notices: string[] = [];
  const peer = { target: server.address, trust: await TrustStore.load(clientHome), policy: { acceptFirst: true }, identity: await loadOrCreateIdentity(clientHome), handshakeTimeoutMs: 500 };
  await withReconnects(peer, { once: true, onNotice: (line) => notices.push(line) }, async (link) => {
    const again = await link.redial();
    assert.notEqual(again, link.conn);
    await server.close();
    await assert.rejects(link.redial());
  });
  assert.equal(notices.length, 2, notices.join('\n'));
  assert.equal(notices[0], `answers from ${where} kept stalling on this connection; continuing on a new one`);
  assert.match(notices[1]!, new RegExp(`^answers from ${where} kept stalling on this connection, and a new one could not be opened \\(.+\\); staying on it$`));
});
