import type { QuicConnection } from '../transport/types.js';
import { QuicStreamResetError } from '../transport/errors.js';
import type { FileSummary, FolderSummary, RelPath, RemoteFolder, SummaryRequest } from '../engine/types.js';
import { RemoteChangedError } from '../engine/sync-file.js';
import { encodeFrame, readFrames, type FrameDecoderOptions } from './frame-codec.js';
import {
  HASH_BYTES,
  LISTING_BYTES_PER_ENTRY,
  MAX_LISTING_BYTES,
  MAX_FRAME_BYTES,
  MAX_INDICES_PER_REQUEST,
  PROTOCOL_VERSION,
  accepted,
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
} from './messages.js';

/** The server's folder as the engine sees it, reached over one QUIC connection; each request is one stream. */
export class QuicRemoteFolder implements RemoteFolder {
  private constructor(
    private readonly conn: QuicConnection,
    /** The file the server is restricted to (`serve --file`), if any. */
    readonly servedFile: RelPath | undefined,
    private readonly only: RelPath | undefined,
  ) {}

  /**
   * Says hello and checks the server speaks our protocol version. In push mode the server also
   * checks that our certificate may push, and refuses the hello if not.
   */
  static async open(conn: QuicConnection, opts: { only?: RelPath; mode?: 'pull' | 'push' } = {}): Promise<QuicRemoteFolder> {
    const frames = await request(conn, { t: 'hello', v: PROTOCOL_VERSION, mode: opts.mode ?? 'pull' });
    const first = await frames.next();
    if (first.done) throw new ProtocolError('server closed the stream instead of answering hello');
    const w = expectMessage(welcome, first.value, 'welcome');
    if (w.v !== PROTOCOL_VERSION) {
      throw new ProtocolError(`the server speaks protocol v${w.v}, this leafsync speaks v${PROTOCOL_VERSION}: run the same version on both sides`);
    }
    await drainEnd(frames);
    return new QuicRemoteFolder(conn, w.file, opts.only ?? w.file);
  }

  summary(req: SummaryRequest = {}): Promise<FolderSummary> {
    return retryStuck(() => this.summaryOnce(req));
  }

  private async summaryOnce(req: SummaryRequest): Promise<FolderSummary> {
    const frames = await request(this.conn, {
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
    return retryStuck(() => this.chunkHashesOnce(path, expectedCount));
  }

  private async chunkHashesOnce(path: RelPath, expectedCount: number | undefined): Promise<Uint8Array[]> {
    const frames = await request(this.conn, { t: 'hashes', path });
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
    for (let at = 0; at < indices.length; at += MAX_INDICES_PER_REQUEST) {
      const pending = new Set(indices.slice(at, at + MAX_INDICES_PER_REQUEST));
      // A retry asks only for what has not arrived yet.
      await retryStuck(() => this.fetchPending(path, pending, onChunk));
    }
  }

  private async fetchPending(path: RelPath, pending: Set<number>, onChunk: (index: number, data: Uint8Array) => Promise<void>): Promise<void> {
    // Each chunk is done with once onChunk settles (see RemoteFolder.fetchChunks), so the frames
    // of one answer share a buffer.
    // Chunks are read from disk and sent as they are: an answer that stops is stuck, not busy.
    const frames = await request(this.conn, { t: 'chunks', path, indices: [...pending] }, { transient: true, steady: true });
    for await (const message of frames) {
      const c = expectMessage(chunk, message, 'chunk');
      if (!pending.delete(c.i)) throw new ProtocolError(`server sent chunk ${c.i} of ${path}, which was not asked for`);
      await onChunk(c.i, c.data);
    }
    if (pending.size > 0) throw new ProtocolError(`server ended the transfer of ${path} with ${pending.size} chunks missing`);
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
}

/**
 * A request whose answer was reported stuck (by the server's QUIC stack, or by ours for a request
 * never acknowledged) is asked again. After a blackout one connection was seen stranding several
 * answers in a row; each retry costs seconds, so allow a handful before reporting the file.
 */
const STUCK_RETRIES = 8;

/** Runs a request that is safe to repeat (summary, hashes, chunks) again after a stuck answer. */
async function retryStuck<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof QuicStreamResetError && err.stuck)) throw err;
      if (tries > STUCK_RETRIES) {
        throw new QuicStreamResetError(err.streamId, err.appCode, `${err.message}, the last of ${tries} attempts in a row; gave up for this pass (what arrived is kept for the next)`);
      }
    }
  }
}

/**
 * Sends one request on a new stream and returns its answer's frames. Every answer but hello's
 * starts with `accepted`, which is checked and consumed here; until a byte of it arrives the
 * transport watches for a request stranded on the way (see QuicStream.expectPromptAnswer), and
 * with `steady`, for an answer that stops (QuicStream.expectSteadyAnswer).
 */
async function request(conn: QuicConnection, req: Request, opts?: FrameDecoderOptions & { steady?: boolean }): Promise<AsyncGenerator<unknown>> {
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
