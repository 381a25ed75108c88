import { LocalFolderSource } from '../engine/folder-source.js';
import { definePullScenarios } from '../test-support/pull-scenarios.js';
import { tempDir } from '../test-support/trees.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { QuicServer } from '../transport/quic-server.js';
import { connectQuic } from '../transport/quic-client.js';
import { QuicRemoteFolder } from './client-session.js';
import { serveConnection } from './server-session.js';

// The same scenarios as the in-memory run, through a real server and client over QUIC on 127.0.0.1.
definePullScenarios('over QUIC', async (t, served, opts) => {
  const home = await tempDir(t, 'home');
  const identity = await loadOrCreateIdentity(home);
  const source = new LocalFolderSource(served, opts?.only === undefined ? {} : { only: opts.only });
  const server = await QuicServer.listen({
    host: '127.0.0.1',
    port: 0,
    identity,
    onConnection: (conn) => void serveConnection(conn, { source, ...(opts?.only !== undefined && { servedFile: opts.only }) }),
  });
  const conn = await connectQuic({ host: '127.0.0.1', port: server.address.port });
  t.after(async () => {
    await conn.close();
    await server.close();
  });
  return QuicRemoteFolder.open(conn, opts?.only === undefined ? {} : { only: opts.only });
});
