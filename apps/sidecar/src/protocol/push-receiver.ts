import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import pLimit from 'p-limit';
import { fsyncDirectory } from '../fs/atomic-file.js';
import type { LocalFolderSource } from '../engine/folder-source.js';
import { NotRegularFileError } from '../engine/errors.js';
import { bytesEqual } from '../engine/merkle.js';
import { syncFileFrom, TypeConflictError } from '../engine/sync-file.js';
import { moveToTrash, trashStamp } from '../engine/trash.js';
import { tidyStagingDir } from '../engine/staging-file.js';
import type { FileSummary, RelPath } from '../engine/types.js';
import type { QuicConnection } from '../transport/types.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { QuicRemoteFolder } from './client-session.js';
import { RequestRefusedError } from './messages.js';

/** One client's push session: its connection, and the fingerprint of the certificate it presented. */
export interface Pusher {
  readonly conn: QuicConnection;
  readonly fingerprint: string;
}

/** A served folder that accepts pushes from authorised clients; one per server, shared by its connections. */
export class PushTarget {
  /** One push or delete per path at a time, across every connection. */
  private readonly locks = new KeyedLock<RelPath>();
  /** The session whose push or delete of each path is running now. */
  private readonly changing = new Map<RelPath, Pusher>();
  private landing = 0;

  constructor(
    /** The server's read side of the folder; shared with pulls so both see one hash cache. */
    readonly source: LocalFolderSource,
    /** Whether this client certificate may push; may pin it (accept-first-client). */
    readonly authorise: (fingerprint: string) => Promise<boolean>,
    private readonly log?: (line: string) => void,
  ) {}

  /**
   * Runs `by`'s change to `path`, alone for that path; the last one out removes the emptied
   * staging folder. A client that changes a path its own older connection is still changing has
   * given that connection up (it restarted, or reconnected after losing the network), so that
   * connection is closed first: the change running on it would otherwise hold the path until the
   * connection timed out, 30 s after a killed client, and a client that stalled, forever.
   */
  async change<T>(path: RelPath, by: Pusher, task: () => Promise<T>): Promise<T> {
    const holder = this.changing.get(path);
    if (holder !== undefined && holder.fingerprint === by.fingerprint && holder.conn !== by.conn) {
      this.log?.(`client ${by.fingerprint.slice(0, 16)}… changes ${path} again on a new connection: closing its older one, which still held it`);
      void holder.conn.close(0, 'replaced: this client changes the same file on a newer connection');
    }
    this.landing++;
    try {
      return await this.locks.run(path, async () => {
        this.changing.set(path, by);
        try {
          return await task();
        } finally {
          if (this.changing.get(path) === by) this.changing.delete(path);
        }
      });
    } finally {
      if (--this.landing === 0) await tidyStagingDir(this.source.rootAbs);
    }
  }
}

/** Chunk requests in flight per push: one file at a time, so a few streams keep the link busy. */
const PUSH_STREAMS = 8;

/**
 * Applies one client's pushes. A push is a pull run by the server: it fetches the chunks it lacks
 * from the client (over streams it opens on the same connection) into a staging file seeded from
 * its own copy, verifies every chunk and the Merkle root, then renames atomically; exactly what a
 * client does on a pull, through the same code.
 */
export class PushReceiver implements Pusher {
  private client: Promise<QuicRemoteFolder> | undefined;

  constructor(
    readonly conn: QuicConnection,
    private readonly target: PushTarget,
    readonly fingerprint: string,
  ) {}

  async push(entry: FileSummary, base: Uint8Array): Promise<{ chunks: number; bytes: number }> {
    const { source } = this.target;
    return this.target.change(entry.path, this, async () => {
      if (entry.type === 'dir') {
        await this.makeDir(entry.path);
        return { chunks: 0, bytes: 0 };
      }
      const { rel, abs, entry: current } = await source.locate(entry.path);
      if (current !== undefined && current.size === entry.size && bytesEqual(current.root, entry.root)) {
        return { chunks: 0, bytes: 0 }; // both sides already converged on this version
      }
      if (!bytesEqual(current?.root ?? new Uint8Array(0), base)) throw conflict(rel);
      const client = await this.clientFolder();
      let chunks = 0;
      let bytes = 0;
      const touchedDirs = new Set<string>();
      const ctx = {
        remote: client,
        localRoot: source.rootAbs,
        requests: pLimit(PUSH_STREAMS),
        streams: PUSH_STREAMS,
        onChunk: (n: number) => {
          chunks++;
          bytes += n;
        },
        touchedDirs,
      };
      await syncFileFrom(client, source, ctx, { ...entry, path: rel }, abs, current);
      for (const dir of touchedDirs) await fsyncDirectory(dir);
      return { chunks, bytes };
    });
  }

  async delete(path: RelPath, base: Uint8Array): Promise<void> {
    const { source } = this.target;
    await this.target.change(path, this, async () => {
      const { rel, abs, entry: current } = await source.locate(path);
      if (current === undefined) return; // already gone
      if (!bytesEqual(current.root, base)) throw conflict(rel);
      await moveToTrash(source.rootAbs, rel, trashStamp(new Date()));
      await fsyncDirectory(dirname(abs));
    });
  }

  private async makeDir(path: RelPath): Promise<void> {
    try {
      const { abs, entry } = await this.target.source.locate(path);
      if (entry !== undefined) throw new TypeConflictError(path, 'folder', 'file');
      await mkdir(abs, { recursive: true });
    } catch (err) {
      if (err instanceof NotRegularFileError && err.actual === 'a directory') return; // already a folder
      throw err;
    }
  }

  /** The client's folder as a remote, opened on first use: a pushing client serves its own folder back. */
  private clientFolder(): Promise<QuicRemoteFolder> {
    this.client ??= QuicRemoteFolder.open(this.conn);
    return this.client;
  }
}

function conflict(path: RelPath): RequestRefusedError {
  return new RequestRefusedError('CONFLICT', `${path} changed on the server since this peer last synced it; it will be reconciled on the next pull`);
}
