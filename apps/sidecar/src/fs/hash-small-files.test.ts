import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { smallFileHasher } from './hash-small-files.js';

const root = mkdtempSync(join(tmpdir(), 'leafsync-hash-small-'));
after(() => rmSync(root, { recursive: true, force: true }));

const LIMIT = 4096;
const contents = new Map<string, Buffer>([
  ['one byte', Buffer.from('x')],
  ['empty', Buffer.alloc(0)],
  ['at the limit', Buffer.alloc(LIMIT, 7)],
  ['ünïcode name', Buffer.from('bytes under a name that is not ASCII')],
]);
for (const [name, data] of contents) writeFileSync(join(root, name), data);
writeFileSync(join(root, 'one past the limit'), Buffer.alloc(LIMIT + 1, 1));
mkdirSync(join(root, 'dir'));
symlinkSync('one byte', join(root, 'link'));
execFileSync('mkfifo', [join(root, 'fifo')]);

const hasher = smallFileHasher();

test('the native addon is built on Linux (npm run build compiles native/fs_hash.c)', { skip: process.platform !== 'linux' }, () => {
  assert.equal(typeof hasher, 'function');
});

test('each regular file is hashed whole, as node:crypto hashes it, with the lstat taken after the read', { skip: hasher === undefined }, async () => {
  const names = [...contents.keys()];
  const results = await hasher!(
    names.map((n) => join(root, n)),
    LIMIT,
  );
  names.forEach((name, i) => {
    const data = contents.get(name)!;
    const st = lstatSync(join(root, name));
    assert.deepEqual(results[i], {
      size: data.length,
      digest: data.length === 0 ? undefined : new Uint8Array(createHash('sha256').update(data).digest()),
      after: { isFile: true, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino },
    }, name);
  });
});

test('whatever is not a regular file within the limit, read without error, is left to the caller', { skip: hasher === undefined }, async () => {
  const names = ['one past the limit', 'dir', 'link', 'fifo', 'missing', 'one byte/below'];
  const results = await hasher!(
    names.map((n) => join(root, n)),
    LIMIT,
  );
  assert.deepEqual(results, names.map(() => undefined));
});

test('a path holding a NUL is refused, not cut short', { skip: hasher === undefined }, async () => {
  await assert.rejects(hasher!([join(root, 'one byte\0x')], LIMIT), TypeError);
});

test('an empty batch resolves with no results', { skip: hasher === undefined }, async () => {
  assert.deepEqual(await hasher!([], LIMIT), []);
});
