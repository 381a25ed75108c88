import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectQuic } from '../transport/quic-client.js';
import { MAX_FRAME_BYTES, MAX_REQUEST_BYTES } from '../protocol/messages.js';
import { runCli, startServeProcess } from '../test-support/cli-process.js';
import { rssBytes } from '../test-support/process-memory.js';
import { hello, ask } from '../test-support/raw-client.js';
import { hashTree, tempDirs, writeTree } from '../test-support/trees.js';

const STREAMS = 700;
const SERVER_RSS_LIMIT = 600 * 1024 * 1024;

test(`malicious client: ${STREAMS} streams each holding an unfinished near-limit request keep the server within its memory bound`, { timeout: 120_000 }, async (t) => {
  const [served, sh, dest, ch] = await tempDirs(t, 'served', 'sh', 'dest', 'ch');
  await writeTree(served, { 'a.txt': 'a\n' });
  const server = await startServeProcess(t, sh, served);
  let peak = 0;
  const watchdog = setInterval(() => {
    const rss = server.cli.child.pid === undefined ? undefined : rssBytes(server.cli.child.pid);
    if (rss !== undefined) peak = Math.max(peak, rss);
  }, 100);
  t.after(() => clearInterval(watchdog));
  const conn = await connectQuic({ host: server.host, port: server.port });
  t.after(() => conn.close());
  assert.equal((await ask(conn, [hello()])).messages[0]?.t, 'welcome');
  // A request announced at the chunk-frame limit is refused at its header, not buffered.
  const bigHeader = Buffer.alloc(4);
  bigHeader.writeUInt32BE(MAX_FRAME_BYTES);
  // One byte past the header: a write holds back its last byte until the next one (quic-stream.ts).
  const refusal = await ask(conn, [bigHeader, Buffer.from('ab')], { fin: false });
  assert.equal(refusal.error?.code, 'FRAME_TOO_LARGE', JSON.stringify(refusal.messages));
  // Requests at the request limit, sent all but their last bytes and never finished.
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_REQUEST_BYTES);
  const body = Buffer.alloc(MAX_REQUEST_BYTES - 16, 0x61);
  const streams = [];
  for (let i = 0; i < STREAMS; i++) {
    const s = await conn.openStream();
    streams.push(s);
    await s.write(header);
    await s.write(body);
    if (peak > SERVER_RSS_LIMIT) break;
  }
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`slow requests: ${streams.length} streams open, server RSS peak ${peak >> 20} MiB`);
  assert.ok(peak < SERVER_RSS_LIMIT, `server RSS peaked at ${peak >> 20} MiB with ${streams.length} unfinished requests`);
  assert.ok(server.cli.running);
  for (const s of streams) s.reset();
  const run = await runCli(['connect', server.address, dest, '--accept-first', '--once'], { home: ch });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await hashTree(dest), await hashTree(served));
});
