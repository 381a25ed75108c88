// Bundles the `leafsync` command into dist/bundle, which bin/leafsync.js runs.
//
// Why: every `leafsync connect --once` is a new process, and Node resolving and loading a few
// hundred ES module files cost it ~0.1 s before any work (W5 in bench/README). One bundle split
// per command loads only what that command needs. tsc still builds dist/ (types, and the API
// client the web app imports); this only adds the command's own entry.
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

/** Shared by both bundles below. */
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [x509AsEsModule],
  // Native addons (and the loaders that find their binaries beside them) stay in node_modules.
  // @peculiar/x509 is bundled too, into a chunk of its own that identity.ts imports on demand
  // (after setting up the decorator metadata it needs): loading its 212 CommonJS files took a
  // first `connect` 143-224 ms, one chunk 74-101 ms.
  external: ['better-sqlite3', '@matrixai/quic', 'cbor-extract'],
  // Dependencies written as CommonJS call require(); an ES module has none unless given one.
  banner: { js: "import { createRequire as leafsyncCreateRequire } from 'node:module'; const require = leafsyncCreateRequire(import.meta.url);" },
};

// The dashboard (`leafsync ui`) is bundled on its own: its API inputs use zod's classic build,
// and esbuild would otherwise put that (~700 kB, ~55 ms to load) in a chunk every command loads.
const UI_BUNDLE = '../bundle-ui/ui-command.js';

// Chunk names carry content hashes: clear out the previous build's.
rmSync('dist/bundle', { recursive: true, force: true });
rmSync('dist/bundle-ui', { recursive: true, force: true });

await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/bundle',
  splitting: true,
  plugins: [
    x509AsEsModule,
    {
      name: 'ui-command-apart',
      setup(b) {
        b.onResolve({ filter: /^\.\/ui-command\.js$/ }, () => ({ path: UI_BUNDLE, external: true }));
      },
    },
  ],
});

// Two levels below the package, like dist/ui, so the web root it finds relative to itself holds.
await build({ ...common, entryPoints: ['src/cli/ui-command.ts'], outfile: 'dist/bundle-ui/ui-command.js' });
