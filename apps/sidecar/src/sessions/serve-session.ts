import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalFolderSource } from '../engine/folder-source.js';
import { isInternalName } from '../engine/internal-names.js';
import { DirectoryWatch } from '../fs/directory-watch.js';
import { IndexCache } from '../engine/index-cache.js';
import type { RelPath } from '../engine/types.js';
import { serveConnection, type ServedFolder } from '../protocol/server-session.js';
import { PushTarget } from '../protocol/push-receiver.js';
import { TrustStore } from '../transport/trust-store.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { QuicServer } from '../transport/quic-server.js';
import type { CongestionControl } from '@leafsync/shared/transport';
import type { HostPort, Identity } from '../transport/types.js';
import { FolderError, existingFolder } from './local-paths.js';
import { lockFolderForWriting, type FolderWriteLock } from '../engine/folder-lock.js';

export interface ServeOptions {
  folder: string;
  file?: RelPath;
  bind: string;
  port: number;
  identity: Identity;
  /** Where the index cache lives (LEAFSYNC_HOME). */
  home: string;
  /** Largest UDP payload we send; the server sends the file data, so this sets a pull's packet size. */
  datagramSize?: number;
  /** Congestion control for what the server sends (a pull's data); default CUBIC. */
  congestion?: CongestionControl;
  /** Accept pushes from clients whose fingerprint is in the trust store (`serve --allow-push`). */
  allowPush?: boolean;
  /** With allowPush and no authorised client yet, authorise the first client that pushes. */
  acceptFirstClient?: boolean;
  log?: (line: string) => void;
}

export interface RunningServe {
  address: HostPort;
  fingerprint: string;
  folder: string;
  close(): Promise<void>;
}

/** Shares a folder (or one file in it) on one UDP port: read-only unless pushes are allowed. */
export async function startServe(opts: ServeOptions): Promise<RunningServe> {
  const folder = await existingFolder(opts.folder);
  if (opts.file !== undefined) {
    const info = await stat(join(folder, opts.file)).catch(() => undefined);
    if (!info?.isFile()) throw new FolderError(`--file ${opts.file}: no such file in ${folder}`);
  }
  // Pushes write into the folder: no connect or watch may write into it meanwhile.
  const lock = opts.allowPush ? await lockFolderForWriting(folder) : undefined;
  try {
    return await serveFolder(opts, folder, lock);
  } catch (err) {
    await lock?.release();
    throw err;
  }
}

async function serveFolder(opts: ServeOptions, folder: string, lock: FolderWriteLock | undefined): Promise<RunningServe> {
  const cache = IndexCache.open(opts.home, folder, { onWarning: (w) => opts.log?.(w.message) });
  // Clients ask for the listing at every pass; with nothing changed the server answers without
  // walking the folder again.
  const watch = new DirectoryWatch({ ignoreName: isInternalName, ...(opts.log && { onGiveUp: opts.log }) });
  const source = new LocalFolderSource(folder, {
    cache,
    watch,
    readIgnoreFile: true,
    onWarning: (w) => opts.log?.(w.message),
    ...(opts.file !== undefined && { only: opts.file }),
  });
  const served: ServedFolder = {
    source,
    ...(opts.allowPush && { push: pushTarget(source, opts) }),
    ...(opts.file !== undefined && { servedFile: opts.file }),
    ...(opts.log && { log: opts.log }),
  };
  const server = await QuicServer.listen({
    host: opts.bind,
    port: opts.port,
    identity: opts.identity,
    // Pushing clients prove who they are with their own certificate (mutual TLS).
    requestClientCert: opts.allowPush === true,
    ...(opts.datagramSize !== undefined && { maxDatagramSize: opts.datagramSize }),
    ...(opts.congestion !== undefined && { congestion: opts.congestion }),
    onConnection: (conn) => {
      serveConnection(conn, served).catch((err: Error) => opts.log?.(`connection from ${conn.remote.host}:${conn.remote.port} ended: ${err.message}`));
    },
  });
  // Hash the folder now so the first client does not wait for it.
  source.summary().catch((err: Error) => opts.log?.(`scanning ${folder} failed: ${err.message}`));
  return {
    address: server.address,
    fingerprint: opts.identity.fingerprint,
    folder,
    close: async () => {
      await server.close();
      watch.close();
      cache.close();
      await lock?.release();
    },
  };
}

/**
 * Who may push is read from trust.json at each push session, so `leafsync trust add-client`
 * takes effect without restarting the server. Authorisations run one at a time: with
 * accept-first-client, two clients racing to be first cannot both win.
 */
function pushTarget(source: LocalFolderSource, opts: ServeOptions): PushTarget {
  const serial = new KeyedLock<'authorise'>();
  return new PushTarget(source, (fingerprint) =>
    serial.run('authorise', async () => {
      const trust = await TrustStore.load(opts.home);
      if (trust.isClientTrusted(fingerprint)) return true;
      if (!opts.acceptFirstClient || trust.clients().length > 0) return false;
      await trust.addClient(fingerprint);
      opts.log?.(`authorised the first pushing client ${fingerprint} (--accept-first-client)`);
      return true;
    }),
    opts.log,
  );
}
