/**
 * A test peer that speaks leafsync's wire protocol over real QUIC but answers whatever a test
 * scripts: honest answers by default, crafted frames (or raw bytes) where a script takes over.
 * The client under test cannot tell it from a real server until the lies start.
 * Not imported by production code.
 */
import { CHUNK_SIZE, hashChunk } from '../engine/chunking.js';
import { folderRoot, merkleRoot } from '../engine/merkle.js';
import type { FileSummary } from '../engine/types.js';
import { encodeFrame, readFrames } from '../protocol/frame-codec.js';
import { HASH_BYTES, HASHES_PER_BATCH, ENTRIES_PER_BATCH, MAX_FRAME_BYTES, PROTOCOL_VERSION, request, type Request } from '../protocol/messages.js';
import { QuicServer } from '../transport/quic-server.js';
import type { HostPort, Identity, QuicConnection, QuicStream } from '../transport/types.js';
import { STREAM_STUCK_CODE } from '../transport/errors.js';

/** One entry the fake folder claims to hold. `size`/`root` default to the truth about `data`. */
export interface FakeEntry {
  path: string;
  type?: 'file' | 'dir';
  data?: Buffer;
  size?: number;
  root?: Uint8Array;
  mtimeMs?: number;
  mode?: number;
}

/** Pieces of bytes to write on a response stream, in order; each is awaited (backpressure). */
export type Reply = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** The honest answer to each request, for scripts that lie only in part. */
export interface Honest {
  entries: FileSummary[];
  reply(req: Request): Reply;
  chunk(path: string, index: number): Buffer;
  hashes(path: string): Uint8Array[];
}

/** Returns the bytes to answer `req` with, or undefined to answer honestly. */
export type Script = (req: Request, honest: Honest) => Reply | undefined;

export interface MaliciousServerOptions {
  identity: Identity;
  entries: FakeEntry[];
  script?: Script;
}

/**
 * Answers every stream the other side opens on `conn` with the script (or honestly). A server
 * uses it for its clients; a malicious pushing client uses it for the streams a server opens
 * back to fetch the pushed chunks.
 */
/**
 * A script's reply that leaves the request unacknowledged and unanswered, the stream open: what
 * the client sees when its request is stranded in its own QUIC stack.
 */
export const STRANDED: Reply = [];
/** Refuse the request as a server from before it existed would (a PROTOCOL error, no `accepted`). */
export const UNKNOWN_REQUEST: Reply = [];

/** Thrown from a script's reply: the response stream is reset with `code` instead of ended. */
export class ResetStream extends Error {
  constructor(readonly code: number) {
    super(`reset with code ${code}`);
  }
}

/** A reply that is at once reset as stuck, as a sender whose QUIC stack stranded it would (STREAM_STUCK_CODE). */
export function stuckReply(): Reply {
  return (async function* () {
    yield* [];
    throw new ResetStream(STREAM_STUCK_CODE);
  })();
}

export class ScriptedPeer {
  /** Every request the other side sent, in arrival order. */
  readonly requests: Request[] = [];
  /** Bytes written on response streams, so a test can prove a flood really was sent. */
  bytesSent = 0;
  readonly honest: Honest;

  constructor(
    entries: FakeEntry[],
    public script: Script | undefined,
  ) {
    this.honest = honestFolder(entries);
  }

  serve(conn: QuicConnection): void {
    void (async () => {
      for await (const stream of conn.incomingStreams()) void this.answer(stream);
    })().catch(() => undefined);
  }

  private async answer(stream: QuicStream): Promise<void> {
    try {
      const frames = readFrames(stream, MAX_FRAME_BYTES);
      const first = await frames.next();
      if (first.done) return;
      const req = request.parse(first.value);
      this.requests.push(req);
      const reply = this.script?.(req, this.honest) ?? this.honest.reply(req);
      if (reply === STRANDED) return;
      if (reply === UNKNOWN_REQUEST) {
        // As a server that cannot parse the request answers: an error, never acknowledged.
        await stream.write(encodeFrame({ t: 'error', code: 'PROTOCOL', message: `peer sent an invalid request: unknown request "${req.t}"` }));
        await stream.end();
        return;
      }
      if (req.t !== 'hello') await stream.write(encodeFrame({ t: 'accepted' }));
      for await (const piece of reply) {
        await stream.write(piece);
        this.bytesSent += piece.length;
      }
      await stream.end();
    } catch (err) {
      // A script can end its reply with a reset of its choosing; otherwise the other side hung
      // up on a lie, exactly what the tests want it to do.
      stream.reset(err instanceof ResetStream ? err.code : 0);
    }
  }
}

export class MaliciousServer {
  private constructor(
    private readonly server: QuicServer,
    private readonly peer: ScriptedPeer,
  ) {}

  get address(): HostPort {
    return this.server.address;
  }

  get requests(): Request[] {
    return this.peer.requests;
  }

  get bytesSent(): number {
    return this.peer.bytesSent;
  }

  static async start(opts: MaliciousServerOptions): Promise<MaliciousServer> {
    const peer = new ScriptedPeer(opts.entries, opts.script);
    const server = await QuicServer.listen({
      host: '127.0.0.1',
      port: 0,
      identity: opts.identity,
      onConnection: (conn) => peer.serve(conn),
    });
    return new MaliciousServer(server, peer);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

function honestFolder(fake: FakeEntry[]): Honest {
  const data = new Map<string, Buffer>();
  const hashes = new Map<string, Uint8Array[]>();
  const entries: FileSummary[] = fake.map((e) => {
    const type = e.type ?? 'file';
    const bytes = e.data ?? Buffer.alloc(0);
    const chunkHashes: Uint8Array[] = [];
    if (type === 'file') {
      for (let at = 0; at < bytes.length; at += CHUNK_SIZE) chunkHashes.push(hashChunk(bytes.subarray(at, at + CHUNK_SIZE)));
    }
    data.set(e.path, bytes);
    hashes.set(e.path, chunkHashes);
    return {
      path: e.path,
      type,
      size: e.size ?? (type === 'file' ? bytes.length : 0),
      mtimeMs: e.mtimeMs ?? 1_700_000_000_000,
      mode: e.mode ?? (type === 'file' ? 0o644 : 0o755),
      root: e.root ?? (type === 'file' ? merkleRoot(chunkHashes) : new Uint8Array(0)),
    };
  });
  const honest: Honest = {
    entries,
    chunk: (path, index) => (data.get(path) ?? Buffer.alloc(0)).subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE),
    hashes: (path) => hashes.get(path) ?? [],
    reply: (req) => {
      switch (req.t) {
        case 'hello':
          return [encodeFrame({ t: 'welcome', v: PROTOCOL_VERSION })];
        case 'summary': {
          const listed = req.only === undefined ? entries : entries.filter((e) => e.path === req.only);
          return summaryFrames(folderRoot(listed), listed);
        }
        case 'hashes':
          return hashFrames(honest.hashes(req.path));
        case 'chunks':
          return req.indices.map((i) => encodeFrame({ t: 'chunk', i, data: honest.chunk(req.path, i) }));
        case 'first-chunks':
          return req.paths.map((path) => encodeFrame({ t: 'chunk', i: 0, data: honest.chunk(path, 0) }));
        case 'push':
        case 'delete':
          return [encodeFrame({ t: 'error', code: 'READ_ONLY', message: 'this fake server accepts no pushes' })];
      }
    },
  };
  return honest;
}

export function summaryFrames(root: Uint8Array, entries: FileSummary[], count = entries.length): Uint8Array[] {
  const frames = [encodeFrame({ t: 'summary-head', root, count })];
  for (let at = 0; at < entries.length; at += ENTRIES_PER_BATCH) frames.push(encodeFrame({ t: 'entries', entries: entries.slice(at, at + ENTRIES_PER_BATCH) }));
  return frames;
}

export function hashFrames(hashes: Uint8Array[], count = hashes.length): Uint8Array[] {
  const frames = [encodeFrame({ t: 'hashes-head', count })];
  for (let at = 0; at < hashes.length; at += HASHES_PER_BATCH) {
    const batch = hashes.slice(at, at + HASHES_PER_BATCH);
    const packed = Buffer.alloc(batch.length * HASH_BYTES);
    batch.forEach((h, i) => packed.set(h, i * HASH_BYTES));
    frames.push(encodeFrame({ t: 'hash-batch', hashes: packed }));
  }
  return frames;
}

/** A summary entry for a file that is not backed by data (its chunks are whatever a script sends). */
export function claimedFile(path: string, size: number, root: Uint8Array = new Uint8Array(32)): FileSummary {
  return { path, type: 'file', size, mtimeMs: 1_700_000_000_000, mode: 0o644, root };
}
