// Bundles the `leafsync` command into dist/bundle/leafsync.cjs and saves it, loaded, as a V8
// startup snapshot beside it; bin/leafsync runs one or the other.
//
// Why: every `leafsync connect --once` is a new process. Node resolving and loading a few hundred
// ES module files cost it ~0.1 s before any work; one bundle per command, still ES modules, left
// ~0.15 s of loading between Node's own start-up and the first packet (W5 in bench/README). A
// CommonJS bundle loads faster than its ES module chunks, and a snapshot of it (Node's
// `--build-snapshot`) skips compiling and running the command's start-up code at all.
// tsc still builds dist/ (types, and the API client the web app imports); this only adds the
// command's own entry.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

/**
 * @peculiar/x509's package names its CommonJS build as `main` (what esbuild takes for Node) and
 * its ES build as `module`; bundled from CommonJS, its named exports would be lost to
 * identity.ts's `import()`. This takes the ES build for it alone.
 */
const x509AsEsModule = {
  name: 'x509-as-es-module',
  setup(b) {
    b.onResolve({ filter: /^@peculiar\/x509$/ }, () => ({ path: require.resolve('@peculiar/x509/build/x509.es.js') }));
  },
};

// The sources find files beside them (native addons, package.json, the web app) from
// `import.meta.url`, which a CommonJS bundle does not have: it becomes the bundle's own URL. A
// snapshot was built where it was built, so when Node starts from one the URL, and `require`,
// are set again from where the bundle is now (bin/leafsync passes its path as argv[1]).
const banner = `var __bundleUrl = require('node:url').pathToFileURL(__filename).href;
if (require('node:v8').startupSnapshot.isBuildingSnapshot()) require('node:v8').startupSnapshot.addDeserializeCallback(() => {
  __bundleUrl = require('node:url').pathToFileURL(process.argv[1]).href;
  require = require('node:module').createRequire(process.argv[1]);
});`;

/** Shared by both bundles below. */
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [x509AsEsModule],
  // Native addons stay in node_modules: better-sqlite3 and cbor-extract with the loaders that find
  // their binaries beside them, and @matrixai/quic's platform package, which its loader (bundled)
  // requires by name.
  external: ['better-sqlite3', '@matrixai/quic-*', 'cbor-extract'],
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: banner },
  // Node started from a snapshot has no dynamic import() (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING):
  // every import() becomes a require().
  supported: { 'dynamic-import': false },
};

rmSync('dist/bundle', { recursive: true, force: true });
rmSync('dist/bundle-ui', { recursive: true, force: true });

// The dashboard (`leafsync ui`) is bundled on its own: its API inputs use zod's classic build and
// the tRPC server, which would make the snapshot every command starts from larger.
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/bundle/leafsync.cjs',
  plugins: [
    ...common.plugins,
    {
      name: 'ui-command-apart',
      setup(b) {
        b.onResolve({ filter: /^\.\/ui-command\.js$/ }, () => ({ path: '../bundle-ui/ui-command.cjs', external: true }));
      },
    },
  ],
});
// Two levels below the package, like dist/ui, so the web root it finds relative to itself holds.
await build({ ...common, entryPoints: ['src/cli/ui-command.ts'], outfile: 'dist/bundle-ui/ui-command.cjs' });

// bin/leafsync builds the snapshot, so that the Node binary, its name and the V8 flags are the
// ones it will start with. A Node that cannot build one leaves the command as fast as the bundle.
const made = spawnSync('bin/leafsync', [], { encoding: 'utf8', env: { ...process.env, LEAFSYNC_BUILD_SNAPSHOT: '1' } });
if (made.status !== 0) {
  console.warn(`${made.stderr ?? ''}\nWARNING: could not build the command's start-up snapshot (${made.error?.message ?? `exit code ${made.status}`}); each leafsync process starts ~0.1 s slower without it.`);
}
