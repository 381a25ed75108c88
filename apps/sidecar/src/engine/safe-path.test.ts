import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UnsafePathError, resolveInside, validateChildPath, validateRelPath, windowsNameProblem } from './safe-path.js';

function refused(p: string, windows: boolean, reason: RegExp): void {
  assert.throws(
    () => validateRelPath(p, { windows }),
    (err: unknown) => {
      assert.ok(err instanceof UnsafePathError, `expected UnsafePathError for ${JSON.stringify(p)}`);
      assert.equal(err.code, 'UNSAFE_PATH');
      assert.equal(err.path, p);
      assert.match(err.reason, reason);
      assert.ok(err.message.includes(err.reason));
      return true;
    },
    `${JSON.stringify(p)} (windows=${windows}) must be refused`,
  );
}

describe('validateRelPath', () => {
  const everywhere: Array<[string, RegExp]> = [
    ['', /empty path/],
    ['/etc/passwd', /absolute/],
    ['/', /absolute/],
    ['a\\b', /backslash/],
    ['\\x', /backslash/],
    ['C:x', /drive letter/],
    ['c:/x', /drive letter/],
    ['Z:', /drive letter/],
    ['//server/share/x', /UNC/],
    ['\\\\server\\share', /UNC/],
    ['a\0b', /NUL/],
    ['a\nb', /control/],
    ['tab\there', /control/],
    ['\x1f', /control/],
    ['.', /'\.' segment/],
    ['..', /'\.\.' segment/],
    ['../x', /'\.\.' segment/],
    ['a/../b', /'\.\.' segment/],
    ['a/./b', /'\.' segment/],
    ['a/..', /'\.\.' segment/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['x'.repeat(256), /longer than 255/],
    ['d/' + 'é'.repeat(128), /longer than 255/], // 256 UTF-8 bytes in 128 characters
    ['bad\ud800name', /surrogate/],
  ];
  for (const [p, reason] of everywhere) {
    it(`refuses ${JSON.stringify(p).slice(0, 40)} on every platform`, () => {
      refused(p, false, reason);
      refused(p, true, reason);
    });
  }

  const windowsOnly: Array<[string, RegExp]> = [
    ['CON', /reserved/],
    ['con', /reserved/],
    ['dir/Con.txt', /reserved/],
    ['nul.tar.gz', /reserved/],
    ['PRN', /reserved/],
    ['aux', /reserved/],
    ['COM1', /reserved/],
    ['com9.log', /reserved/],
    ['LPT1', /reserved/],
    ['lpt9', /reserved/],
    ['CON .txt', /reserved/],
    ['trailing.', /dot or space/],
    ['trailing ', /dot or space/],
    ['dir./x', /dot or space/],
    ['a<b', /'<'/],
    ['a>b', /'>'/],
    ['ab:c', /':'/],
    ['a"b', /'"'/],
    ['a|b', /'\|'/],
    ['a?b', /'\?'/],
    ['a*b', /'\*'/],
  ];
  for (const [p, reason] of windowsOnly) {
    it(`refuses ${JSON.stringify(p)} only for Windows`, () => {
      refused(p, true, reason);
      assert.equal(validateRelPath(p, { windows: false }), p);
    });
  }

  it('accepts names that merely look like device names', () => {
    for (const p of ['CONSOLE', 'com10', 'LPT', 'xcon', 'a/nul-not', '.hidden', 'a..b', '...x']) {
      assert.equal(validateRelPath(p, { windows: true }), p);
    }
  });

  it('accepts Unicode names and returns them NFC-normalised', () => {
    const nfd = 'cafe\u0301/re\u0301sume\u0301.txt';
    const nfc = 'caf\u00e9/r\u00e9sum\u00e9.txt';
    assert.notEqual(nfd, nfc);
    assert.equal(validateRelPath(nfd, { windows: false }), nfc);
    assert.equal(validateRelPath(nfd, { windows: true }), nfc);
    for (const p of ['日本語/ファイル.txt', 'emoji 😀.md', 'Ωmega/ß']) {
      assert.equal(validateRelPath(p, { windows: true }), p.normalize('NFC'));
    }
    // 255 bytes exactly is allowed.
    assert.equal(validateRelPath('x'.repeat(255), { windows: false }), 'x'.repeat(255));
  });

  it('windowsNameProblem reports a reason only when Windows cannot hold the name', () => {
    assert.equal(windowsNameProblem('report.txt'), undefined);
    assert.match(windowsNameProblem('AUX.c') ?? '', /reserved/);
    assert.match(windowsNameProblem('x?') ?? '', /forbids/);
  });
});

describe('validateChildPath', () => {
  it('gives what validateRelPath gives for the joined path, reasons included', () => {
    const outcome = (check: () => string): string => {
      try {
        return check();
      } catch (err) {
        assert.ok(err instanceof UnsafePathError);
        return `refused ${JSON.stringify(err.path)}: ${err.reason}`;
      }
    };
    const names = [
      'ok.txt', 'cafe\u0301', 'x'.repeat(255), 'x'.repeat(256), '\u00e9'.repeat(128), 'a\\b', '\\\\unc', 'a\0b', 'tab\t',
      'bad\ud800', '.', '..', '', 'CON', 'nul.tar.gz', 'trailing.', 'a?b', 'C:x', 'K\u212a', 'a/b', '/abs',
    ];
    let refusals = 0;
    for (const parent of ['', 'dir', 'caf\u00e9/sub']) {
      for (const name of names) {
        for (const windows of [false, true]) {
          const joined = parent === '' ? name : `${parent}/${name}`;
          const child = outcome(() => validateChildPath(parent, name, { windows }));
          assert.equal(child, outcome(() => validateRelPath(joined, { windows })), `${JSON.stringify(joined)} (windows=${windows})`);
          if (child.startsWith('refused')) refusals++;
        }
      }
    }
    assert.ok(refusals > 40, `only ${refusals} refusals: the names above must exercise the refusing paths`);
  });
});

describe('resolveInside', () => {
  let base: string;
  let root: string;
  let outside: string;
  before(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'leafsync-safepath-')));
    root = join(base, 'root');
    outside = join(base, 'outside');
    await mkdir(join(root, 'sub'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'secret');
    await symlink(outside, join(root, 'evil'));
    await symlink(join(root, 'sub'), join(root, 'good'));
    await symlink(join(base, 'does-not-exist'), join(root, 'dangling'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('returns the joined absolute path for ordinary and not-yet-existing paths', async () => {
    assert.equal(await resolveInside(root, 'sub/file.txt'), join(root, 'sub', 'file.txt'));
    assert.equal(await resolveInside(root, 'new/deep/file'), join(root, 'new', 'deep', 'file'));
  });

  it('refuses a symlinked directory that points outside the root', async () => {
    await assert.rejects(resolveInside(root, 'evil/secret'), (err: unknown) => {
      assert.ok(err instanceof UnsafePathError);
      assert.match(err.reason, /escapes through symlink/);
      return true;
    });
    await assert.rejects(resolveInside(root, 'evil/new-file'), UnsafePathError);
    await assert.rejects(resolveInside(root, 'evil'), UnsafePathError);
  });

  it('refuses a dangling symlink (writing through it would land outside)', async () => {
    await assert.rejects(resolveInside(root, 'dangling/x'), /dangling/);
  });

  it('allows a symlink that stays inside the root', async () => {
    assert.equal(await resolveInside(root, 'good/x'), join(root, 'good', 'x'));
  });

  it('validates the path first', async () => {
    await assert.rejects(resolveInside(root, '../outside/secret'), UnsafePathError);
    await assert.rejects(resolveInside(root, '/etc/passwd'), UnsafePathError);
  });

  it('works when the root itself is reached through a symlink', async () => {
    const alias = join(base, 'alias');
    await symlink(root, alias);
    assert.equal(await resolveInside(alias, 'sub/f'), join(alias, 'sub', 'f'));
    await assert.rejects(resolveInside(alias, 'evil/secret'), UnsafePathError);
  });
});
