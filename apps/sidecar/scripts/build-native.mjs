// Builds the native addons with node-gyp: native/udp_batch.c, the batched UDP socket
// (src/transport/udp-endpoint.ts), native/fs_lock.c, the folder write lock
// (src/engine/folder-lock.ts), native/fs_stat.c, the scan's batched lstat (src/fs/lstat-many.ts)
// and the thread-pool walk behind a cheap pass's digest (src/fs/walk-plain.ts),
// and native/fs_hash.c, small files hashed in batches on the thread pool (src/fs/hash-small-files.ts).
// They are Linux-only (sendmmsg, UDP GSO/GRO, flock). Elsewhere, or where they cannot be compiled,
// leafsync runs on node:dgram at about half the throughput, without folder locks (re-reading every
// file it stages) and with slower scans: say so and carry on rather than fail the build. On Linux
// the test suite insists on every one, so CI notices a build that fell back.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

if (process.platform !== 'linux') {
  console.log(`the native addons are Linux-only; on ${process.platform} leafsync uses node:dgram and no folder locks`);
  process.exit(0);
}
// npm names its own node-gyp in npm_config_node_gyp for scripts; run by hand, look beside npm.
const prefix = join(dirname(process.execPath), '..');
const gyp = process.env.npm_config_node_gyp ?? join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
// Node's own headers, where this Node was installed with them (npm's nodedir setting says the same).
const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const args = [gyp, 'rebuild', '--directory', 'native', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
if (result.status !== 0) {
  console.warn(`${result.stdout ?? ''}${result.stderr ?? ''}`);
  console.warn(
    `\nWARNING: could not build the native addons (native/*.c) (${result.error?.message ?? `node-gyp exited ${result.status}`}).\n` +
      'leafsync will use node:dgram, about half as fast, take no folder locks and scan and hash more slowly. Install python3, make and a C compiler, then npm run build.\n',
  );
}
