// Bundles the `leafsync` command into dist/bundle, which bin/leafsync.js runs.
//
// Why: every `leafsync connect --once` is a new process, and Node resolving and loading a few
// hundred ES module files cost it ~0.1 s before any work (W5 in bench/README). One bundle split
// per command loads only what that command needs. tsc still builds dist/ (types, and the API
// client the web app imports); this only adds the command's own entry.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

/** Shared by both bundles below. */
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // Native addons (and the loaders that find their binaries beside them) stay in node_modules.
  // @peculiar/x509 needs its decorator metadata set up first; identity.ts loads it on demand.
  external: ['better-sqlite3', '@matrixai/quic', 'cbor-extract', '@peculiar/x509'],
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
