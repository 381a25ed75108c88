import { startupSnapshot } from 'node:v8';
import { loadX509 } from '../transport/identity.js';
import { main } from './program.js';

async function run(): Promise<void> {
  process.exitCode = await main(process.argv);
  // Native handles (UDP sockets, timers) are closed by now; exit explicitly so a lingering one cannot hang the CLI.
  process.exit();
}

// `npm run build` also saves this bundle, loaded, as a startup snapshot (scripts/bundle-cli.mjs),
// and bin/leafsync starts Node from it: then this runs when the snapshot is deserialized.
if (startupSnapshot.isBuildingSnapshot()) {
  startupSnapshot.setDeserializeMainFunction(() => void run());
  // Loaded into the snapshot, so a first run (which creates its identity) does not load it then.
  void loadX509();
} else void run();
