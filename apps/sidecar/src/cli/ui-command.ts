import { isIP } from 'node:net';
import { DEFAULT_WEB_ROOT, startUiServer, type UiServer } from '../ui/static-server.js';
import { loadOrCreateIdentity } from '../transport/identity.js';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** `leafsync ui`: the dashboard on one HTTP port, loopback-only unless the user says otherwise. */
export async function startUi(opts: { host: string; port: number; home: string }): Promise<UiServer> {
  // Creating the identity up front means the dashboard can show this peer's fingerprint at once.
  const identity = await loadOrCreateIdentity(opts.home);
  if (!isLoopback(opts.host)) {
    process.stderr.write(
      `leafsync: warning: the dashboard is listening on ${opts.host}, so other machines can reach it and control this peer's folders. Use --host 127.0.0.1 unless you mean it.\n`,
    );
  }
  const server = await startUiServer({ host: opts.host, port: opts.port, webRoot: DEFAULT_WEB_ROOT });
  process.stdout.write(`leafsync dashboard on ${server.url}\nfingerprint ${identity.fingerprint}\n`);
  return server;
}
