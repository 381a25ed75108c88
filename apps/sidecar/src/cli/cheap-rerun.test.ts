import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { passLines, runCli, startServeProcess } from '../test-support/cli-process.js';
import { tempDirs, writeTree } from '../test-support/trees.js';

test('a new connect --once over an unchanged folder is one small round trip: the pass state survives the process', async (t) => {
  const [served, dest, sh, ch] = await tempDirs(t, 'served', 'dest', 'sh', 'ch');
  const tree: Record<string, string> = {};
  for (let i = 0; i < 1000; i++) tree[`d${i % 10}/f${i}.txt`] = `file ${i}\n`;
  await writeTree(served, tree);
  const server = await startServeProcess(t, sh, served);
  const connect = () => runCli(['connect', server.address, dest, '--accept-first', '--once', '--json'], { home: ch });
  const first = passLines(await connect())[0] as unknown as { filesChanged: number; wireBytes: number };
  assert.equal(first.filesChanged, 1000);
  assert.ok(first.wireBytes > 100_000, `the first pass moved the listing and the files (${first.wireBytes} bytes)`);
  const again = passLines(await connect())[0] as unknown as { files: number; filesChanged: number; wireBytes: number };
  t.diagnostic(`unchanged re-run: ${again.wireBytes} bytes on the wire`);
  assert.equal(again.files, 1000);
  assert.equal(again.filesChanged, 0);
  assert.ok(again.wireBytes <= 2048, `an unchanged re-run moved ${again.wireBytes} bytes`);
  // A change on either side is still seen by the next process.
  await writeFile(join(served, 'd3/f3.txt'), 'changed on the server\n');
  const changed = passLines(await connect())[0] as unknown as { filesChanged: number };
  assert.equal(changed.filesChanged, 1);
  await writeFile(join(dest, 'd4/f4.txt'), 'changed here\n');
  const restored = passLines(await connect())[0] as unknown as { filesChanged: number };
  assert.equal(restored.filesChanged, 1, 'the local edit was noticed and the server version restored');
});
