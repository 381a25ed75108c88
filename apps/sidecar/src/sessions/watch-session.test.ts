import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WatchCycleSummary } from '@leafsync/shared';
import { CHUNK_SIZE, hashStats } from '../engine/chunking.js';
import { MaliciousServer, stuckReply } from '../test-support/malicious-server.js';
import { seededBytes, tempDirs } from '../test-support/trees.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { TrustStore } from '../transport/trust-store.js';
import type { Request } from '../protocol/messages.js';
import { runWatch } from './watch-session.js';

test('a watch whose connection strands answers moves to a new connection, pushing mode and all, and finishes the cycle', async (t) => {
  const [serverHome, clientHome, folder] = await tempDirs(t, 'sh', 'ch', 'folder');
  const data = seededBytes('watch-redial', 2 * CHUNK_SIZE + 5);
  const hellos: Request[] = [];
  const server = await MaliciousServer.start({
    identity: await loadOrCreateIdentity(serverHome),
    entries: [{ path: 'big.bin', data }],
    script: (req) => {
      if (req.t === 'hello') hellos.push(req);
      if (req.t !== 'chunks' || hellos.length > 1) return undefined;
      return stuckReply();
    },
  });
  t.after(() => server.close());
  const stop = new AbortController();
  const cycles: WatchCycleSummary[] = [];
  const notices: string[] = [];
  const hashedBefore = hashStats.bytesHashed;
  await runWatch(
    {
      target: server.address,
      folder,
      home: clientHome,
      trust: await TrustStore.load(clientHome),
      policy: { acceptFirst: true },
      identity: await loadOrCreateIdentity(clientHome),
      pullIntervalMs: 60_000,
      debounceMs: 100,
    },
    {
      signal: stop.signal,
      onNotice: (line) => notices.push(line),
      onCycle: (cycle) => {
        cycles.push(cycle);
        stop.abort();
      },
    },
  );
  assert.deepEqual(cycles[0]?.failures, []);
  assert.equal(cycles[0]?.filesPulled, 1);
  assert.ok((await readFile(join(folder, 'big.bin'))).equals(data), 'the file arrived whole');
  assert.equal(hashStats.bytesHashed, hashedBefore, 'watch holds its folder: the new file was checked by the hashes it was written with');
  assert.deepEqual(hellos.map((h) => h.t === 'hello' && h.mode), ['push', 'push'], 'the new connection says hello as a pushing client too');
  assert.deepEqual(notices, [`answers from ${server.address.host}:${server.address.port} kept stalling on this connection; continuing on a new one`]);
});
