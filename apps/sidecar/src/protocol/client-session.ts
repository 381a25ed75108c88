import type { QuicConnection } from '../transport/types.js';
import { QuicConnectionClosedError, QuicStreamResetError } from '../transport/errors.js';
import type { FileSummary, FolderSummary, RelPath, RemoteFolder, SummaryRequest } from '../engine/types.js';
import { RemoteChangedError } from '../engine/sync-file.js';
import { encodeFrame, readFrames, type FrameReadOptions } from './frame-codec.js';
import { FirstChunkBatcher, type FirstChunkAnswer } from './first-chunk-batcher.js';
import {
  HASH_BYTES,
  LISTING_BYTES_PER_ENTRY,
  MAX_LISTING_BYTES,
  MAX_FRAME_BYTES,
  MAX_INDICES_PER_REQUEST,
  PROTOCOL_VERSION,
  accepted,
  PeerError,
  ProtocolError,
  chunk,
  deleted,
  entriesBatch,
  expectMessage,
  hashBatch,
  hashesHead,
  pushed,
  summaryHead,
  welcome,
  type Request,
  type Welcome,
} from './messages.js';

export interface RemoteFolderOptions {
  only?: RelPath;
  mode?: 'pull' | 'push';
  /**
   * Opens a new connection to the same server, to replace one that strands answers (see
   * STUCK_BEFORE_REDIAL); without it, every request stays on the first connection. In push
   * mode the caller serves our folder on the new connection too: the server fetches what we
   * push over it.
   */
  redial?: () => Promise<QuicConnection>;
}

/**
 * The server's folder as the engine sees it, reached over one QUIC connection at a time; each
 * request is one stream.
 */
export class QuicRemoteFolder implements RemoteFolder {
  /** Stuck answers on the current connection (see noteStuck). */
  private stuckHere = 0;
  private replacing: Promise<void> | undefined;
  /** Replaced connections still closing, and the wire bytes of those closed. */
  private readonly retiring = new Set<QuicConnection>();
  private retiredBytes = 0;
  private readonly firstChunks = new FirstChunkBatcher(
    (paths, deliver) => this.firstChunksBatch(paths, deliver),
    (path, onChunk) => this.retryStuck((conn) => this.fetchPending(conn, path, new Set([0]), onChunk)),
    (err) => (err instanceof QuicStreamResetError && err.stuck) || err instanceof QuicConnectionClosedError,
  );

  private constructor(
    private conn: QuicConnection,
    private readonly mode: 'pull' | 'push',
    /** The file the server is restricted to (`serve --file`), if any. */
    readonly servedFile: RelPath | undefined,
    private readonly only: RelPath | undefined,
    private readonly redial: (() => Promise<QuicConnection>) | undefined,
  ) {}

  /**
   * Says hello and checks the server speaks our protocol version. In push mode the server also
   * checks that our certificate may push, and refuses the hello if not.
   */
  static async open(conn: QuicConnection, opts: RemoteFolderOptions = {}): Promise<QuicRemoteFolder> {
    const mode = opts.mode ?? 'pull';
    const welcomed = await hello(conn, mode);
    return new QuicRemoteFolder(conn, mode, welcomed.file, opts.only ?? welcomed.file, opts.redial);
  }

  /** UDP payload bytes sent and received so far, over every connection this folder used. */
  wireBytes(): number {
    let bytes = this.retiredBytes + wireBytesOf(this.conn);
    for (const conn of this.retiring) bytes += wireBytesOf(conn);
    return bytes;
  }

  summary(req: SummaryRequest = {}): Promise<FolderSummary> {
    return this.retryStuck((conn) => this.summaryOnce(conn, req));
  }

  private async summaryOnce(conn: QuicConnection, req: SummaryRequest): Promise<FolderSummary> {
    const frames = await request(conn, {
      t: 'summary',
      ...(this.only !== undefined && { only: this.only }),
      ...(req.knownRoot !== undefined && { known: req.knownRoot }),
    });
    const head = expectMessage(summaryHead, await nextOrFail(frames, 'summary'), 'summary');
    if (head.unchanged) {
      if (req.knownRoot === undefined || head.count !== 0) throw new ProtocolError('server claimed an unchanged folder it was not asked about');
      await drainEnd(frames);
      return { root: head.root, entries: [], unchanged: true };
    }
    const entries: FileSummary[] = [];
    let listed = 0;
    while (entries.length < head.count) {
      const batch = expectMessage(entriesBatch, await nextOrFail(frames, 'summary'), 'summary batch');
      if (entries.length + batch.entries.length > head.count) throw new ProtocolError('server sent more entries than it announced');
      for (const e of batch.entries) listed += Buffer.byteLength(e.path) + LISTING_BYTES_PER_ENTRY;
      if (listed > MAX_LISTING_BYTES) {
        throw new ProtocolError(
          `the server's listing passed ${MAX_LISTING_BYTES >> 20} MiB after ${entries.length} entries, more than one folder may list; ` +
            'sync a subfolder (serve it on its own) instead',
        );
      }
      entries.push(...batch.entries);
    }
    await drainEnd(frames);
    return { root: head.root, entries, ...(head.unreadable !== undefined && { unreadable: head.unreadable }) };
  }

  chunkHashes(path: RelPath, expectedCount?: number): Promise<Uint8Array[]> {
    return this.retryStuck((conn) => this.chunkHashesOnce(conn, path, expectedCount));
  }

  private async chunkHashesOnce(conn: QuicConnection, path: RelPath, expectedCount: number | undefined): Promise<Uint8Array[]> {
    const frames = await request(conn, { t: 'hashes', path });
    const head = expectMessage(hashesHead, await nextOrFail(frames, 'chunk hashes'), 'chunk hashes');
    // Not the file its summary described (it changed since, or the server lies): stop before reading the list.
    if (expectedCount !== undefined && head.count !== expectedCount) throw new RemoteChangedError(path);
    const hashes: Uint8Array[] = [];
    while (hashes.length < head.count) {
      const batch = expectMessage(hashBatch, await nextOrFail(frames, 'chunk hashes'), 'chunk hash batch');
      const n = batch.hashes.length / HASH_BYTES;
      if (hashes.length + n > head.count) throw new ProtocolError('server sent more chunk hashes than it announced');
      for (let i = 0; i < n; i++) hashes.push(batch.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
    }
    await drainEnd(frames);
    return hashes;
  }

  async fetchChunks(path: RelPath, indices: number[], onChunk: (index: number, data: Uint8Array) => Promise<void>): Promise<void> {
    // The first chunk alone is most often a whole small file: asked for with the others asked for
    // in the same turn.
    if (indices.length === 1 && indices[0] === 0) return this.firstChunks.fetch(path, onChunk);
    for (let at = 0; at < indices.length; at += MAX_INDICES_PER_REQUEST) {
      const pending = new Set(indices.slice(at, at + MAX_INDICES_PER_REQUEST));
      // A retry asks only for what has not arrived yet.
      await this.retryStuck((conn) => this.fetchPending(conn, path, pending, onChunk));
    }
  }

  private async fetchPending(conn: QuicConnection, path: RelPath, pending: Set<number>, onChunk: (index: number, data: Uint8Array) => Promise<void>): Promise<void> {
    // Each chunk is done with once onChunk settles (see RemoteFolder.fetchChunks), so the frames
    // of one answer share a buffer.
    // Chunks are read from disk and sent as they are: an answer that stops is stuck, not busy.
    const frames = await request(conn, { t: 'chunks', path, indices: [...pending] }, { transient: true, steady: true });
    for await (const message of frames) {
      const c = expectMessage(chunk, message, 'chunk');
      if (!pending.delete(c.i)) throw new ProtocolError(`server sent chunk ${c.i} of ${path}, which was not asked for`);
      await onChunk(c.i, c.data);
    }
    if (pending.size > 0) throw new ProtocolError(`server ended the transfer of ${path} with ${pending.size} chunks missing`);
  }

  /** One batch on the current connection; a stuck answer counts towards replacing it, as any request's does. */
  private async firstChunksBatch(paths: string[], deliver: (answer: FirstChunkAnswer) => Promise<void>): Promise<void> {
    const conn = this.conn;
    try {
      await this.firstChunksOnce(conn, paths, deliver);
    } catch (err) {
      if (err instanceof QuicStreamResetError && err.stuck) await this.noteStuck(conn);
      throw err;
    }
  }

  private async firstChunksOnce(conn: QuicConnection, paths: string[], deliver: (answer: FirstChunkAnswer) => Promise<void>): Promise<void> {
    const frames = await request(conn, { t: 'first-chunks', paths }, { transient: true, steady: true });
    let answered = 0;
    for await (const message of frames) {
      if (answered === paths.length) throw new ProtocolError(`server answered more than the ${paths.length} files asked for`);
      const path = paths[answered++]!;
      let answer: FirstChunkAnswer;
      try {
        const c = expectMessage(chunk, message, 'chunk');
        if (c.i !== 0) throw new ProtocolError(`server sent chunk ${c.i} of ${path}, which was not asked for`);
        answer = { data: c.data };
      } catch (err) {
        // The server's error for this file alone, as a request of its own would have had it.
        if (!(err instanceof PeerError)) throw err;
        answer = { error: err };
      }
      await deliver(answer);
    }
    if (answered < paths.length) throw new ProtocolError(`server ended the first chunks of ${paths.length} files after ${answered}`);
  }

  /**
   * Offers our version of `entry`; the server fetches what it lacks from us (we must be serving
   * our folder on this connection) and lands it verified. `base` is the root we last synced
   * (empty: the server should not have the file); a server whose file moved on refuses (CONFLICT).
   */
  async push(entry: FileSummary, base: Uint8Array): Promise<{ chunks: number; bytes: number }> {
    const frames = await request(this.conn, { t: 'push', entry, base });
    const done = expectMessage(pushed, await nextOrFail(frames, 'push'), 'push result');
    await drainEnd(frames);
    return { chunks: done.chunks, bytes: done.bytes };
  }

  /** Asks the server to move its copy of `path` to its trash, if it is still the version `base`. */
  async remove(path: RelPath, base: Uint8Array): Promise<void> {
    const frames = await request(this.conn, { t: 'delete', path, base });
    expectMessage(deleted, await nextOrFail(frames, 'delete'), 'delete result');
    await drainEnd(frames);
  }

  /**
   * Runs a request that is safe to repeat (summary, hashes, chunks) again after a stuck answer,
   * on whatever connection is current by then: one that strands answers is replaced
   * (noteStuck), and a request cut off by that replacement is asked again on the new one.
   */
  private async retryStuck<T>(attempt: (conn: QuicConnection) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      const conn = this.conn;
      try {
        return await attempt(conn);
      } catch (err) {
        const stuck = err instanceof QuicStreamResetError && err.stuck;
        const replaced = err instanceof QuicConnectionClosedError && conn !== this.conn;
        if (!stuck && !replaced) throw err;
        if (tries > STUCK_RETRIES) {
          if (!stuck) throw err;
          throw new QuicStreamResetError(err.streamId, err.appCode, `${err.message}, the last of ${tries} attempts in a row; gave up for this pass (what arrived is kept for the next)`);
        }
        if (stuck) await this.noteStuck(conn);
      }
    }
  }

  /**
   * Counts a stuck answer on `conn`; the STUCK_BEFORE_REDIAL-th replaces the connection, once
   * however many requests noticed. If no new connection can be had, requests stay on this one.
   */
  private async noteStuck(conn: QuicConnection): Promise<void> {
    if (this.redial === undefined || conn !== this.conn || ++this.stuckHere < STUCK_BEFORE_REDIAL) return;
    this.replacing ??= this.replace(conn, this.redial).finally(() => (this.replacing = undefined));
    await this.replacing;
  }

  private async replace(stale: QuicConnection, redial: () => Promise<QuicConnection>): Promise<void> {
    let fresh: QuicConnection | undefined;
    try {
      fresh = await redial();
      const welcomed = await hello(fresh, this.mode);
      if (welcomed.file !== this.servedFile) throw new ProtocolError('the server now serves something else');
    } catch {
      // The stale connection still works, if slowly; the retries go on there.
      await fresh?.close();
      this.stuckHere = 0;
      return;
    }
    this.conn = fresh;
    this.stuckHere = 0;
    // Requests still on the stale connection fail as closed, and are asked again on this one.
    this.retiring.add(stale);
    void stale.closed.then(() => {
      this.retiring.delete(stale);
      this.retiredBytes += wireBytesOf(stale);
    });
    void stale.close();
  }
}

function wireBytesOf(conn: QuicConnection): number {
  const s = conn.stats();
  return s.sentBytes + s.recvBytes;
}

async function hello(conn: QuicConnection, mode: 'pull' | 'push'): Promise<Welcome> {
  const frames = await request(conn, { t: 'hello', v: PROTOCOL_VERSION, mode });
  const first = await frames.next();
  if (first.done) throw new ProtocolError('server closed the stream instead of answering hello');
  const w = expectMessage(welcome, first.value, 'welcome');
  if (w.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`the server speaks protocol v${w.v}, this leafsync speaks v${PROTOCOL_VERSION}: run the same version on both sides`);
  }
  await drainEnd(frames);
  return w;
}

/**
 * A request whose answer was reported stuck (by the server's QUIC stack, or by ours for a request
 * never acknowledged) is asked again. After a blackout one connection was seen stranding several
 * answers in a row; each retry costs seconds, so allow a handful before reporting the file.
 */
const STUCK_RETRIES = 8;
/**
 * Stuck answers one connection may strand before it is replaced. Traced under 2% loss, a
 * connection that stalled one chunk answer 9 times in a row looked like quiche 0.18 counting its
 * window full with packets it never declared lost; a new connection starts without that state.
 */
const STUCK_BEFORE_REDIAL = 2;

/**
 * Sends one request on a new stream and returns its answer's frames. Every answer but hello's
 * starts with `accepted`, which is checked and consumed here; until a byte of it arrives the
 * transport watches for a request stranded on the way (see QuicStream.expectPromptAnswer), and
 * with `steady`, for an answer that stops (QuicStream.expectSteadyAnswer).
 */
async function request(conn: QuicConnection, req: Request, opts?: FrameReadOptions & { steady?: boolean }): Promise<AsyncGenerator<unknown>> {
  const stream = await conn.openStream();
  await stream.write(encodeFrame(req));
  await stream.end();
  stream.expectPromptAnswer();
  if (opts?.steady) stream.expectSteadyAnswer();
  const frames = readFrames(stream, MAX_FRAME_BYTES, opts);
  if (req.t !== 'hello') expectMessage(accepted, await nextOrFail(frames, req.t), `acknowledgement of the ${req.t} request`);
  return frames;
}

async function nextOrFail(frames: AsyncGenerator<unknown>, what: string): Promise<unknown> {
  const next = await frames.next();
  if (next.done) throw new ProtocolError(`server ended the ${what} early`);
  return next.value;
}

/** A response must end where it says it ends; trailing messages are a protocol error, not something to ignore. */
async function drainEnd(frames: AsyncGenerator<unknown>): Promise<void> {
  const next = await frames.next();
  if (!next.done) throw new ProtocolError('server sent more than the response it announced');
}
