import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { DEFAULT_WEB_ROOT, startUiServer, type UiServer } from '../ui/static-server.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { TrustStore } from '../transport/trust-store.js';
import { SessionManager } from '../sessions/session-manager.js';
import { createApiHandler } from '../api/http-handler.js';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export interface UiOptions {
  host: string;
  port: number;
  home: string;
  /** Where the folder picker starts (default: the user's home folder). */
  userHome?: string;
  /** Folder of the web app's static export (default: apps/web/out). */
  webRoot?: string;
  /** Print the URL and fingerprint (default true). */
  announce?: boolean;
}

export interface RunningUi extends UiServer {
  sessions: SessionManager;
}

/** `leafsync ui`: the dashboard and its API on one HTTP port, loopback-only unless the user says otherwise. */
export async function startUi(opts: UiOptions): Promise<RunningUi> {
  // Creating the identity up front means the dashboard can show this peer's fingerprint at once.
  const [identity, trust] = await Promise.all([loadOrCreateIdentity(opts.home), TrustStore.load(opts.home)]);
  if (!isLoopback(opts.host)) {
    process.stderr.write(
      `leafsync: warning: the dashboard is listening on ${opts.host}, so other machines can reach it and control this peer's folders. Use --host 127.0.0.1 unless you mean it.\n`,
    );
  }
  const sessions = new SessionManager({ home: opts.home, identity, trust });
  const api = createApiHandler({ sessions, userHome: opts.userHome ?? homedir() });
  const server = await startUiServer({ host: opts.host, port: opts.port, webRoot: opts.webRoot ?? DEFAULT_WEB_ROOT, api });
  if (opts.announce ?? true) process.stdout.write(`leafsync dashboard on ${server.url}\nfingerprint ${identity.fingerprint}\n`);
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    sessions,
    close() {
      // Stop every session first (QUIC sockets closed, passes aborted with staging kept), then HTTP.
      closing ??= sessions.close().finally(() => server.close());
      return closing;
    },
  };
}
