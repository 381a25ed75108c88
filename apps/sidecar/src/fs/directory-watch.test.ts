import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DirectoryWatch } from './directory-watch.js';

/** What a scan does to the watch: begin, list each directory, end. */
function scanWith(watch: DirectoryWatch, dirs: readonly string[]): void {
  watch.scanStarted();
  for (const dir of dirs) watch.beforeListing(dir);
  watch.scanFinished();
}

describe('DirectoryWatch', () => {
  let root: string;
  let sub: string;
  let watch: DirectoryWatch;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'leafsync-watch-'));
    sub = join(root, 'a');
    await mkdir(sub);
    await writeFile(join(sub, 'f'), 'one');
  });
  afterEach(async () => {
    watch.close();
    await rm(root, { recursive: true, force: true });
  });

  it('is unchanged after a scan until a file in any listed folder is written, created, renamed or deleted', async () => {
    watch = new DirectoryWatch();
    assert.equal(watch.unchanged, false, 'nothing is known before the first scan');
    const edits: Array<() => Promise<void>> = [
      () => writeFile(join(sub, 'f'), 'two'),
      () => writeFile(join(root, 'new'), 'x'),
      () => rm(join(root, 'new')),
      () => mkdir(join(sub, 'inner')),
    ];
    for (const edit of edits) {
      scanWith(watch, [root, sub]);
      await turn();
      assert.equal(watch.unchanged, true);
      await edit();
      // The kernel queues the event when the call returns; one turn of the loop delivers it.
      await turn();
      assert.equal(watch.unchanged, false, String(edit));
    }
  });

  it('a change during a scan makes that scan untrusted, and the next clean scan is trusted again', async () => {
    watch = new DirectoryWatch();
    scanWith(watch, [root, sub]);
    watch.scanStarted();
    watch.beforeListing(root);
    watch.beforeListing(sub);
    await writeFile(join(sub, 'f'), 'during');
    await turn();
    watch.scanFinished();
    assert.equal(watch.unchanged, false);
    scanWith(watch, [root, sub]);
    await turn();
    assert.equal(watch.unchanged, true);
  });

  it('stops watching a folder the last scan did not list', async () => {
    watch = new DirectoryWatch();
    scanWith(watch, [root, sub]);
    scanWith(watch, [root]);
    await writeFile(join(sub, 'f'), 'unwatched now');
    await turn();
    assert.equal(watch.unchanged, true);
  });

  it('a folder that cannot be watched (gone) leaves that scan untrusted', async () => {
    watch = new DirectoryWatch();
    scanWith(watch, [root, join(root, 'missing')]);
    assert.equal(watch.unchanged, false);
    scanWith(watch, [root]);
    assert.equal(watch.unchanged, true);
  });

  it('changes to names it is told to ignore do not count', async () => {
    watch = new DirectoryWatch({ ignoreName: (name) => name === '.leafsync_tmp' });
    scanWith(watch, [root]);
    await mkdir(join(root, '.leafsync_tmp'));
    await turn();
    assert.equal(watch.unchanged, true);
    await writeFile(join(root, 'other'), 'x');
    await turn();
    assert.equal(watch.unchanged, false);
  });

  it('gives up for good, once and saying so, past its folder limit', async () => {
    const told: string[] = [];
    watch = new DirectoryWatch({ maxDirectories: 1, onGiveUp: (m) => told.push(m) });
    scanWith(watch, [root, sub]);
    scanWith(watch, [root]);
    assert.equal(watch.unchanged, false);
    assert.equal(told.length, 1);
    assert.match(told[0]!, /more than 1 folders.*walks it again/);
  });
});
