import * as z from '../util/schema.js';
import { CHUNK_SIZE } from '../engine/chunking.js';
import { FIRST_CHUNKS_PER_REQUEST } from './first-chunk-batcher.js';

/**
 * Every message on the wire, as zod schemas: a decoded frame is only used after it parsed,
 * so each string, count and byte length from a peer is bounded before we act on it.
 */
export const PROTOCOL_VERSION = 2;
export const ALPN = 'leafsync/1';

/** One frame holds at most one chunk plus its envelope; control messages are batched to stay under it. */
export const MAX_FRAME_BYTES = CHUNK_SIZE + 64 * 1024;
export const MAX_PATH_BYTES = 4096;
/**
 * The largest request a server reads (a chunk request with the most indices and the longest
 * path is ~41 KiB). Kept far below MAX_FRAME_BYTES, so a client that opens many streams and
 * never finishes its requests cannot make the server hold a chunk-sized buffer for each.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const HASH_BYTES = 32;
/** Hashes per hash-batch frame: 32 Ki × 32 B = 1 MiB. */
export const HASHES_PER_BATCH = 32 * 1024;
/** Entries per summary batch; with MAX_PATH_BYTES paths this stays under MAX_FRAME_BYTES. */
export const ENTRIES_PER_BATCH = 200;
export const MAX_INDICES_PER_REQUEST = 4096;
/** Largest file we accept a description of: 2^50 bytes (1 PiB) keeps sizes exact in a double. */
export const MAX_FILE_SIZE = 2 ** 50;
/**
 * A listing is held whole in memory (the planner needs every path), at about 250 bytes per entry
 * plus its path. Its budget lets a folder of ~2 million files through and stops a server that
 * floods us with entries before it can exhaust the client's memory.
 */
export const MAX_LISTING_BYTES = 512 * 1024 * 1024;
export const LISTING_BYTES_PER_ENTRY = 256;
export const MAX_ENTRIES = 2_000_000;
/**
 * Unreadable paths one summary may name (FolderSummary.unreadable); with MAX_PATH_BYTES paths
 * the head stays under MAX_FRAME_BYTES. A server with more refuses the listing instead.
 */
export const MAX_UNREADABLE = 200;

const wirePath = z.string().check(z.minLength(1), z.maxLength(MAX_PATH_BYTES));
const count = z.int().check(z.minimum(0));
const countUpTo = (max: number) => count.check(z.maximum(max));
/** Byte strings from cbor-x; typed as plain Uint8Array so they flow into the engine's types unchanged. */
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected a byte string');
const hash = bytes.check(z.refine((b) => b.length === HASH_BYTES, 'a hash is 32 bytes'));

const optionalRoot = bytes.check(z.refine((b) => b.length === 0 || b.length === HASH_BYTES, 'a root is 32 bytes'));

export const wireEntry = z.object({
  path: wirePath,
  type: z.enum(['file', 'dir']),
  size: countUpTo(MAX_FILE_SIZE),
  mtimeMs: z.int(),
  mode: countUpTo(0o7777),
  root: optionalRoot,
});

export const request = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), v: count, mode: z.enum(['pull', 'push']) }),
  z.object({ t: z.literal('summary'), only: z.optional(wirePath), known: z.optional(hash) }),
  z.object({ t: z.literal('hashes'), path: wirePath }),
  z.object({ t: z.literal('chunks'), path: wirePath, indices: z.array(count).check(z.minLength(1), z.maxLength(MAX_INDICES_PER_REQUEST)) }),
  /**
   * Chunk 0 of each file (all of a file of one chunk; see FirstChunkBatcher). Answered in order,
   * one message per path: its chunk, or an error message for that path alone.
   */
  z.object({ t: z.literal('first-chunks'), paths: z.array(wirePath).check(z.minLength(1), z.maxLength(FIRST_CHUNKS_PER_REQUEST)) }),
  /**
   * "Take my version of this entry": the server fetches the chunks it lacks from the client over
   * streams it opens itself. `base` is the root the client believes the server has (empty: none);
   * if the server's file is no longer that one, the push is refused as a conflict.
   */
  z.object({ t: z.literal('push'), entry: wireEntry, base: optionalRoot }),
  /** "I deleted this file": honoured only if the server's file is still `base`; it goes to the server's trash. */
  z.object({ t: z.literal('delete'), path: wirePath, base: hash }),
]);
export type Request = z.infer<typeof request>;

export const errorMessage = z.object({ t: z.literal('error'), code: z.string().check(z.maxLength(64)), message: z.string().check(z.maxLength(4096)) });
export type ErrorMessage = z.infer<typeof errorMessage>;

export const welcome = z.object({ t: z.literal('welcome'), v: count, file: z.optional(wirePath) });
export const summaryHead = z.object({
  t: z.literal('summary-head'),
  root: hash,
  count: countUpTo(MAX_ENTRIES),
  unchanged: z.optional(z.boolean()),
  /** Optional, so peers from before it still understand each other (they ignore it or send none). */
  unreadable: z.optional(z.array(wirePath).check(z.maxLength(MAX_UNREADABLE))),
});
export const entriesBatch = z.object({ t: z.literal('entries'), entries: z.array(wireEntry).check(z.maxLength(ENTRIES_PER_BATCH)) });
export const hashesHead = z.object({ t: z.literal('hashes-head'), count: countUpTo(Math.ceil(MAX_FILE_SIZE / CHUNK_SIZE)) });
export const hashBatch = z.object({
  t: z.literal('hash-batch'),
  hashes: bytes.check(z.refine((b) => b.length % HASH_BYTES === 0 && b.length <= HASHES_PER_BATCH * HASH_BYTES)),
});
export const chunk = z.object({ t: z.literal('chunk'), i: count, data: bytes.check(z.refine((b) => b.length <= CHUNK_SIZE)) });

/**
 * The first frame of every answer but hello's, sent as soon as the request is read, before any
 * work: it proves the request arrived, so a client that hears nothing at all knows its request
 * is stranded in its own QUIC stack and asks again (QuicStream.expectPromptAnswer).
 */
export const accepted = z.object({ t: z.literal('accepted') });
export const pushed = z.object({ t: z.literal('pushed'), chunks: count, bytes: count });
export const deleted = z.object({ t: z.literal('deleted') });

export type Welcome = z.infer<typeof welcome>;
export type Chunk = z.infer<typeof chunk>;

/** Raised when the peer breaks the protocol: wrong message, wrong shape, out-of-range value. */
export class ProtocolError extends Error {
  readonly code = 'PROTOCOL';
  constructor(message: string) {
    super(message);
  }
}

/** Raised by a server to refuse a request; its code and message go to the peer as they are. */
export class RequestRefusedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Raised on our side when the peer answered a request with an error message. */
export class PeerError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Parses `message` as `schema`, turning a peer's error message into PeerError and anything else into ProtocolError. */
export function expectMessage<S extends z.ZodMiniType>(schema: S, message: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(message);
  if (parsed.success) return parsed.data;
  const asError = errorMessage.safeParse(message);
  if (asError.success) throw new PeerError(asError.data.code, asError.data.message);
  throw new ProtocolError(`peer sent an invalid ${what}: ${z.prettifyError(parsed.error).split('\n')[0]}`);
}
