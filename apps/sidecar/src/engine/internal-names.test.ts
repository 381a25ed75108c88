import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInternalName, isInternalPath } from './internal-names.js';

describe('isInternalPath', () => {
  it('flags internal directories at any depth and everything under them', () => {
    for (const p of [
      '.leafsync_tmp', '.leafsync_tmp/abc.part', '.leafsync_trash/2024/x', '.git', '.git/config',
      'sub/.git/HEAD', 'a/b/.leafsync_trash', '.GIT/config', '.Leafsync_Tmp/x',
    ]) {
      assert.equal(isInternalPath(p), true, p);
    }
  });
  it('flags *.part files by basename', () => {
    assert.equal(isInternalPath('movie.mkv.part'), true);
    assert.equal(isInternalPath('dir/x.PART'), true);
  });
  it('leaves ordinary names alone', () => {
    for (const p of ['.gitignore', '.github/workflows/ci.yml', 'git/x', 'part', 'a.part/file', 'x.partial', '.leafsync_tmpx', 'notes.git']) {
      assert.equal(isInternalPath(p), false, p);
    }
  });
  it('isInternalName judges a last name as isInternalPath judges the path it ends', () => {
    for (const name of ['.git', '.GIT', '.leafsync_tmp', '.Leafsync_Trash', 'x.part', 'x.PART', '.gitignore', 'part', 'a.partial', 'notes.git']) {
      assert.equal(isInternalName(name), isInternalPath(`dir/${name}`), name);
    }
  });
});
