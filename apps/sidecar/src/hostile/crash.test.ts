import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { isInternalPath } from '../engine/internal-names.js';
import { runCli, startConnectProcess, startServeProcess, type ServeProcess } from '../test-support/cli-process.js';
import { hashTree, seededBytes, tempDirs } from '../test-support/trees.js';
import { mulberry32 } from '../test-support/udp-relay.js';

const ROUNDS = 20;
const SEED = 77;
const BIG = ['big/0.bin', 'big/1.bin', 'big/2.bin', 'big/3.bin'];
const SMALL = Array.from({ length: 10 }, (_, i) => `small/${i}.txt`);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function content(path: string, version: number): Buffer {
  const size = path.startsWith('big/') ? 3 * CHUNK_SIZE + 1234 : 3000;
  return seededBytes(`${path}@${version}`, size);
}

/**
 * Walks the destination over and over while the sync runs and gets killed: every visible file
 * must hash to some version the server really served. A torn or half-written file would hash to
 * something else; a file vanishing mid-read is fine (a rename replaced it).
 */
function startReader(dest: string, allowed: Map<string, Set<string>>) {
  const state = { checks: 0, bad: [] as string[], running: true };
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dest, rel), { withFileTypes: true }).catch(() => []);
    for (const d of entries) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (isInternalPath(r)) continue;
      if (d.isDirectory()) await walk(r);
      else if (d.isFile()) {
        const data = await readFile(join(dest, r)).catch(() => undefined);
        if (data === undefined) continue;
        state.checks++;
        if (!allowed.get(r)?.has(sha(data))) state.bad.push(`${r} (${data.length} bytes, ${sha(data).slice(0, 12)})`);
      }
    }
  };
  const done = (async () => {
    while (state.running) {
      await walk('');
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return { state, stop: async () => ((state.running = false), await done) };
}

test(`crashes: ${ROUNDS} SIGKILLs of client or server mid-sync; no visible file is ever partial, and the trees converge`, { timeout: 240_000 }, async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const random = mulberry32(SEED);
  const allowed = new Map<string, Set<string>>();
  const version = new Map<string, number>();
  /** Writes a new version of `path` on the server side atomically (the server is not under test here). */
  const publish = async (path: string, v: number) => {
    const data = content(path, v);
    const abs = join(served, path);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(`${abs}.new-${v}`, data);
    await rename(`${abs}.new-${v}`, abs);
    version.set(path, v);
    const set = allowed.get(path) ?? new Set<string>();
    set.add(sha(data));
    allowed.set(path, set);
  };
  for (const p of [...BIG, ...SMALL]) await publish(p, 0);

  let server: ServeProcess = await startServeProcess(t, sh, served);
  const port = server.port;
  const reader = startReader(dest, allowed);
  let killedClients = 0;
  let killedServers = 0;
  let midTransfer = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Keep the sync busy: each round the server gets a new version of one big and two small files.
      await publish(BIG[round % BIG.length]!, round + 1);
      await publish(SMALL[round % SMALL.length]!, round + 1);
      await publish(SMALL[(round + 5) % SMALL.length]!, round + 1);
      if (!server.cli.running) server = await startServeProcess(t, sh, served, ['--port', String(port)]);
      const client = startConnectProcess(t, ch, [server.address, dest, '--accept-first', '--once', '--rate-mbps', '16']);
      const delay = 600 + Math.floor(random() * 2000);
      await Promise.race([new Promise((r) => setTimeout(r, delay)), client.exited]);
      if (client.events.some((e) => e.event === 'progress') && !client.events.some((e) => e.event === 'pass')) midTransfer++;
      if (round % 2 === 0) {
        await client.kill('SIGKILL');
        killedClients++;
      } else {
        await server.cli.kill('SIGKILL');
        killedServers++;
        // The client of a vanished server would wait out the idle timeout; it is killed too.
        await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
        await client.kill('SIGKILL');
      }
    }
    if (!server.cli.running) server = await startServeProcess(t, sh, served, ['--port', String(port)]);
    const final = await runCli(['connect', server.address, dest, '--accept-first', '--once'], { home: ch, timeoutMs: 120_000 });
    assert.equal(final.code, 0, final.stderr);
  } finally {
    await reader.stop();
  }
  console.log(`crashes: ${killedClients} clients and ${killedServers} servers killed (${midTransfer} with bytes in flight), ${reader.state.checks} visible-file checks`);
  assert.deepEqual(reader.state.bad, [], 'a visible file was never anything but a version the server served');
  assert.ok(reader.state.checks > 100, `the reader really looked (${reader.state.checks} checks)`);
  assert.ok(midTransfer >= 6, `kills landed mid-transfer (${midTransfer} of ${ROUNDS})`);
  assert.equal(killedClients + killedServers, ROUNDS);
  const expected = await hashTree(served);
  assert.deepEqual(await hashTree(dest), expected, 'the trees converge');
  for (const [path, v] of version) assert.equal(expected.get(path), sha(content(path, v)));
  assert.deepEqual((await readdir(dest)).sort(), ['big', 'small'], 'no staging left after the converging pass');
});
