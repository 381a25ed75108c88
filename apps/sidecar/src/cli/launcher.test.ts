import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../test-support/cli-process.js';
import { tempDir } from '../test-support/trees.js';

const PACKAGE = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the launcher under `sh -x`, whose trace shows the command line it handed to Node. */
function launch(launcher: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('sh', ['-x', launcher, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', LEAFSYNC_DEBUG: '', ...env } });
  const node = r.stderr.split('\n').filter((l) => l.startsWith('+ exec ')).at(-1);
  assert.ok(node, `the launcher ran Node:\n${r.stderr}`);
  return { code: r.status, stdout: r.stdout, fromSnapshot: node.includes(' --snapshot-blob '), node };
}

const version = async (pkg: string) => (JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { version: string }).version;

// If the build could not make the snapshot, every other CLI test would still pass on the slower
// path: this one says so.
test('the launcher starts Node from the start-up snapshot the build made, with the flags it was made with', async () => {
  const run = launch(CLI, ['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), await version(PACKAGE));
  assert.ok(run.fromSnapshot, `started without the snapshot: ${run.node}`);
  assert.match(run.node, / --max-semi-space-size=2 /);
});

test('NODE_OPTIONS, which may carry V8 flags a snapshot cannot load under, makes the launcher run the bundle itself', async () => {
  const run = launch(CLI, ['--version'], { NODE_OPTIONS: '--max-old-space-size=300' });
  assert.equal(run.code, 0, 'a snapshot under other V8 flags would have failed to load');
  assert.equal(run.stdout.trim(), await version(PACKAGE));
  assert.equal(run.fromSnapshot, false);
});

test('npm links the command from elsewhere: the launcher finds the bundle through the link', async (t) => {
  const links = await tempDir(t, 'bin-links');
  await symlink(CLI, join(links, 'leafsync'));
  const run = launch(join(links, 'leafsync'), ['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), await version(PACKAGE));
});

/** The package copied beside a link to the repository's node_modules, with a version of its own. */
async function movedPackage(t: TestContext): Promise<string> {
  const root = await tempDir(t, 'moved');
  const moved = join(root, 'apps', 'sidecar');
  await mkdir(moved, { recursive: true });
  await symlink(join(PACKAGE, '..', '..', 'node_modules'), join(root, 'node_modules'));
  for (const part of ['bin', 'dist/bundle']) await cp(join(PACKAGE, part), join(moved, part), { recursive: true });
  await writeFile(join(moved, 'package.json'), JSON.stringify({ name: '@leafsync/sidecar', version: '9.9.9-moved' }));
  return moved;
}

test('a package moved after its build reads its files from where it is now, not where its snapshot was made', async (t) => {
  const moved = await movedPackage(t);
  const run = launch(join(moved, 'bin', 'leafsync'), ['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), '9.9.9-moved');
  assert.ok(run.fromSnapshot);
});

test('with no snapshot for the Node on PATH (another Node made it, or none could be made) the launcher runs the bundle itself', async (t) => {
  const moved = await movedPackage(t);
  const bundle = join(moved, 'dist', 'bundle');
  for (const name of await readdir(bundle)) if (name.endsWith('.snapshot')) await rename(join(bundle, name), join(bundle, name.replace(/-node-[^.]+/, '-node-1-1')));
  const run = launch(join(moved, 'bin', 'leafsync'), ['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), '9.9.9-moved');
  assert.equal(run.fromSnapshot, false);
});

test('before the build, the command says to build it in one line instead of failing in Node', async (t) => {
  const unbuilt = join(await tempDir(t, 'unbuilt'), 'apps', 'sidecar');
  await cp(join(PACKAGE, 'bin'), join(unbuilt, 'bin'), { recursive: true });
  const r = spawnSync(join(unbuilt, 'bin', 'leafsync'), ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^leafsync: error: not built yet: run `npm run build` at the repository root \(.*leafsync\.cjs is missing\)\n$/);
});
