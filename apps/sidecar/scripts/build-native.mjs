// Builds native/udp_batch.c, the batched UDP socket (src/transport/udp-endpoint.ts), with node-gyp.
// It is Linux-only (sendmmsg, UDP GSO/GRO). Elsewhere, or where it cannot be compiled, leafsync
// runs on node:dgram at about half the throughput: say so and carry on rather than fail the build.
// On Linux the test suite insists on the batched socket, so CI notices a build that fell back.
import { spawnSync } from 'node:child_process';

if (process.platform !== 'linux') {
  console.log(`native UDP batching is Linux-only; on ${process.platform} leafsync uses node:dgram`);
  process.exit(0);
}
// npm puts its own node-gyp on PATH for scripts and names it in npm_config_node_gyp.
const gyp = process.env.npm_config_node_gyp;
const [command, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const result = spawnSync(command, [...args, 'rebuild', '--directory', 'native'], { encoding: 'utf8' });
if (result.status !== 0) {
  console.warn(`${result.stdout ?? ''}${result.stderr ?? ''}`);
  console.warn(
    `\nWARNING: could not build native/udp_batch.c (${result.error?.message ?? `node-gyp exited ${result.status}`}).\n` +
      'leafsync will use node:dgram, about half as fast. Install python3, make and a C compiler, then npm run build.\n',
  );
}
