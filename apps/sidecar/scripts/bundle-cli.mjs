// Bundles the `leafsync` command into dist/bundle, which bin/leafsync.js runs.
//
// Why: every `leafsync connect --once` is a new process, and Node resolving and loading a few
// hundred ES module files cost it ~0.1 s before any work (W5 in bench/README). One bundle split
// per command loads only what that command needs. tsc still builds dist/ (types, and the API
// client the web app imports); this only adds the command's own entry.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: clear out the previous build's.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
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
});
