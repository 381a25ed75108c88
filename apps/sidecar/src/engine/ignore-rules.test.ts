import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IgnoreRulesError } from './errors.js';
import { IGNORE_FILE, ignoreMatcherFromText, loadIgnoreRules } from './ignore-rules.js';

const RULES = [
  '# build output',
  '',
  '*.log',
  '!keep.log',
  'build/',
  '/top.txt',
  'docs/draft/',
  'cache/**/*.tmp',
  '   ',
  '\\#literal-hash',
  '.*',
].join('\n');

describe('ignoreMatcherFromText', () => {
  const ignored = ignoreMatcherFromText(RULES);

  it('*.log excludes logs anywhere, !keep.log brings one back', () => {
    assert.equal(ignored('debug.log', false), true);
    assert.equal(ignored('a/b/trace.log', false), true);
    assert.equal(ignored('keep.log', false), false);
    assert.equal(ignored('sub/keep.log', false), false);
    assert.equal(ignored('log.txt', false), false);
  });

  it('build/ excludes directories only, at any depth, and what is below them', () => {
    assert.equal(ignored('build', true), true);
    assert.equal(ignored('build', false), false, 'a file named build is not a directory');
    assert.equal(ignored('a/build', true), true);
    assert.equal(ignored('a/b/build', true), true);
    assert.equal(ignored('a/build/x.c', false), true);
    assert.equal(ignored('builder', true), false);
  });

  it('a pattern with a slash in the middle is anchored to the root', () => {
    assert.equal(ignored('docs/draft', true), true);
    assert.equal(ignored('docs/draft/a.md', false), true);
    assert.equal(ignored('x/docs/draft', true), false);
  });

  it('/top.txt matches only at the root', () => {
    assert.equal(ignored('top.txt', false), true);
    assert.equal(ignored('sub/top.txt', false), false);
  });

  it('** matches any number of directories', () => {
    assert.equal(ignored('cache/x.tmp', false), true);
    assert.equal(ignored('cache/a/b/c/x.tmp', false), true);
    assert.equal(ignored('other/x.tmp', false), false);
  });

  it('comments and blank lines are not patterns; an escaped # is', () => {
    assert.equal(ignored('# build output', false), false);
    assert.equal(ignored('#literal-hash', false), true);
    assert.equal(ignored('normal.txt', false), false);
  });

  it('a file of only comments and blank lines excludes nothing but internal names', () => {
    for (const text of ['', '\n\n', '# just a note\n   \n#*.txt\r\n']) {
      const rules = ignoreMatcherFromText(text);
      for (const [p, isDir] of [['a.txt', false], ['# just a note', false], ['build', true], [IGNORE_FILE, false]] as const) {
        assert.equal(rules(p, isDir), false, `${JSON.stringify(text)}: ${p}`);
      }
      assert.equal(rules('.git/config', false), true);
      assert.equal(rules('x/y.part', false), true);
    }
  });

  it('matches case-sensitively, so peers on different OSes agree', () => {
    assert.equal(ignored('DEBUG.LOG', false), false);
  });

  it('internal names are always excluded, even with no rules or a negation', () => {
    const none = ignoreMatcherFromText('!.git\n!*.part\n!.leafsync_trash/\n');
    for (const p of ['.git', '.git/config', '.leafsync_tmp/x', '.leafsync_trash', '.leafsync_trash/2026/a.txt', 'a/b.part', '.GIT/HEAD']) {
      assert.equal(none(p, false), true, p);
      assert.equal(none(p, true), true, p);
    }
    assert.equal(none('a.txt', false), false);
  });

  it('.leafsyncignore itself is never excluded, even by .*', () => {
    assert.equal(ignored('.hidden', false), true, '.* is in effect');
    assert.equal(ignored(IGNORE_FILE, false), false);
  });

  it('rules are NFC-normalised to match NFC paths', () => {
    const nfd = ignoreMatcherFromText('re\u0301sume\u0301.txt\n');
    assert.equal(nfd('r\u00e9sum\u00e9.txt', false), true);
  });
});

describe('loadIgnoreRules', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leafsync-ignore-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('reads the rules file from the folder root (CRLF and BOM tolerated)', async () => {
    const root = join(base, 'with-rules');
    await mkdir(root);
    await writeFile(join(root, IGNORE_FILE), '\uFEFF*.log\r\n!keep.log\r\nbuild/\r\n');
    const ignored = await loadIgnoreRules(root);
    assert.equal(ignored('x.log', false), true);
    assert.equal(ignored('keep.log', false), false);
    assert.equal(ignored('build', true), true);
    assert.equal(ignored('build', false), false);
    assert.equal(ignored(IGNORE_FILE, false), false);
  });

  it('a missing file excludes only internal names', async () => {
    const root = join(base, 'no-rules');
    await mkdir(root);
    const ignored = await loadIgnoreRules(root);
    assert.equal(ignored('x.log', false), false);
    assert.equal(ignored('build', true), false);
    assert.equal(ignored('.git', true), true);
    assert.equal(ignored('a.part', false), true);
  });

  it('a rules file that is a directory is a typed error naming the file', async () => {
    const root = join(base, 'dir-rules');
    await mkdir(join(root, IGNORE_FILE), { recursive: true });
    await assert.rejects(loadIgnoreRules(root), (err: unknown) => {
      assert.ok(err instanceof IgnoreRulesError);
      assert.equal(err.code, 'IGNORE_RULES_UNREADABLE');
      assert.match(err.message, /\.leafsyncignore.*not a regular file/);
      return true;
    });
  });

  it('invalid UTF-8 is refused rather than half-applied', async () => {
    const root = join(base, 'bad-utf8');
    await mkdir(root);
    await writeFile(join(root, IGNORE_FILE), Buffer.from([0x2a, 0x2e, 0xff, 0x0a]));
    await assert.rejects(loadIgnoreRules(root), /not valid UTF-8/);
  });

  // Windows needs extra privileges to create symlinks.
  if (process.platform !== 'win32') it('a symlinked rules file is refused (it would never be synced to the peer)', async () => {
    const root = join(base, 'link-rules');
    await mkdir(root);
    await writeFile(join(base, 'elsewhere'), '*.log\n');
    await symlink(join(base, 'elsewhere'), join(root, IGNORE_FILE));
    await assert.rejects(loadIgnoreRules(root), IgnoreRulesError);
  });

  // Root reads any file regardless of mode, so under root (CI) the load runs as `nobody`.
  if (process.platform !== 'win32') it('an unreadable rules file is a typed error', async () => {
    const root = join(base, 'locked-rules');
    await mkdir(root);
    await writeFile(join(root, IGNORE_FILE), '*.log\n');
    await chmod(join(root, IGNORE_FILE), 0o000);
    try {
      const failure = await loadAsUnprivileged(root);
      assert.equal(failure?.code, 'IGNORE_RULES_UNREADABLE');
      assert.match(failure?.message ?? '', /\.leafsyncignore.*(EACCES|permission denied)/i);
    } finally {
      await chmod(join(root, IGNORE_FILE), 0o644);
    }
  });
});

/** Loads the rules and returns the error's code and message (or undefined if it loaded). */
async function loadAsUnprivileged(root: string): Promise<{ code: string; message: string } | undefined> {
  if (process.getuid?.() !== 0) {
    try {
      await loadIgnoreRules(root);
      return undefined;
    } catch (err) {
      if (!(err instanceof IgnoreRulesError)) throw err;
      return { code: err.code, message: err.message };
    }
  }
  for (let dir = root; dir !== tmpdir() && dir.length > 1; dir = join(dir, '..')) await chmod(dir, 0o755);
  const mod = new URL('./ignore-rules.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(mod)}).then((m) => m.loadIgnoreRules(${JSON.stringify(root)})).then(() => process.stdout.write('null'), (e) => process.stdout.write(JSON.stringify({ code: e.code, message: e.message })))`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: new URL('.', import.meta.url).pathname });
  return (JSON.parse(out) as { code: string; message: string } | null) ?? undefined;
}
