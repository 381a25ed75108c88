import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseUserDirs, quickLinks } from './quick-links.js';
import { tempDir } from '../test-support/trees.js';

test('user-dirs.dirs: $HOME-relative, absolute and escaped values; comments and junk ignored', () => {
  const dirs = parseUserDirs(
    '# written by xdg-user-dirs-update\nXDG_DOWNLOAD_DIR="$HOME/Téléchargements"\nXDG_MUSIC_DIR="/srv/music"\nXDG_VIDEOS_DIR="$HOME/My \\"Films\\""\nXDG_BOGUS=nope\nXDG_DESKTOP_DIR="relative/ignored"\n',
    '/home/ana',
  );
  assert.equal(dirs.get('XDG_DOWNLOAD_DIR'), '/home/ana/Téléchargements');
  assert.equal(dirs.get('XDG_MUSIC_DIR'), '/srv/music');
  assert.equal(dirs.get('XDG_VIDEOS_DIR'), '/home/ana/My "Films"');
  assert.equal(dirs.has('XDG_DESKTOP_DIR'), false);
  assert.equal(dirs.size, 3);
});

if (process.platform === 'linux') {
  test('quick links: Home first, only folders that exist, localized XDG names honoured', async (t) => {
    const home = await tempDir(t, 'home');
    await mkdir(join(home, 'Téléchargements'));
    await mkdir(join(home, 'Documents'));
    await mkdir(join(home, '.config'));
    await writeFile(join(home, '.config', 'user-dirs.dirs'), 'XDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n');
    const saved = process.env.XDG_CONFIG_HOME;
    delete process.env.XDG_CONFIG_HOME;
    t.after(() => {
      if (saved !== undefined) process.env.XDG_CONFIG_HOME = saved;
    });
    const links = await quickLinks(home);
    assert.deepEqual(links.slice(0, 3), [
      { label: 'Home', path: home },
      { label: 'Downloads', path: join(home, 'Téléchargements') },
      { label: 'Documents', path: join(home, 'Documents') },
    ]);
    assert.equal(links.some((l) => l.label === 'Pictures'), false, 'missing folders are not offered');
    assert.deepEqual(links.at(-1), { label: 'Computer (/)', path: '/' });
  });
}
