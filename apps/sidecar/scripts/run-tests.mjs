// Node 20's test runner does not expand globs and only discovers .js files by itself, so this
// finds every *.test.ts under src and hands the list to `node --test` with tsx loaded.
// Extra arguments are passed through (e.g. --test-name-pattern=...); path-like ones narrow the files.
// The hostile suite (src/hostile/, minutes of attacks) runs only when a filter names it
// (`node scripts/run-tests.mjs hostile/`, which is `npm run test:hostile`).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const files = readdirSync(join(root, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('src', f))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .filter((f) => !f.startsWith(join('src', 'hostile')) || filters.some((p) => p.includes('hostile')))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// A test that hangs fails after five minutes instead of holding CI forever (seen once: a test's
// own fs.promises readFile whose close never completed, the process idle). The slowest tests set
// their own, of up to four minutes.
const TEST_TIMEOUT_MS = 300_000;
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`, ...flags, ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
