import { Encoder } from 'cbor-x';

/**
 * A frame is a 4-byte big-endian length followed by that many bytes of CBOR.
 * The length is checked against a limit before any buffer is allocated for the body,
 * so a hostile peer cannot make us reserve more than `maxFrameBytes`.
 */
export const FRAME_HEADER_BYTES = 4;

export class FrameTooLargeError extends Error {
  readonly code = 'FRAME_TOO_LARGE';
  constructor(readonly length: number, readonly limit: number) {
    super(`peer sent a ${length}-byte message; the limit is ${limit} bytes`);
  }
}

export class FrameDecodeError extends Error {
  readonly code = 'FRAME_DECODE';
  constructor(message: string) {
    super(message);
  }
}

export class TruncatedFrameError extends Error {
  readonly code = 'FRAME_TRUNCATED';
  constructor(readonly have: number, readonly need: number) {
    super(`stream ended inside a message (${have} of ${need} bytes)`);
  }
}

// Plain maps and byte strings only: records and structured clones would let a peer
// make us build arbitrary object shapes.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, structuredClone: false, pack: false });

export function encodeFrame(message: unknown): Uint8Array {
  const body = cbor.encode(message);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

const EMPTY_BYTES = Buffer.alloc(0);
/** CBOR's encoding of an empty byte string (major type 2, length 0). */
const EMPTY_BYTE_STRING = 0x40;

/**
 * encodeFrame({ ...head, [key]: bytes }) as two pieces, the second being `bytes` itself: a 1 MiB
 * chunk is sent without being copied into the CBOR body and again into the frame (two 1 MiB
 * allocations and copies per chunk on the serving side). The bytes on the wire are the same.
 * `key` must not be in `head`: it is encoded last, where its byte string can be cut off.
 */
export function encodeFrameAround(head: Record<string, unknown>, key: string, bytes: Uint8Array): [Uint8Array, Uint8Array] {
  if (key in head) throw new RangeError(`encodeFrameAround: "${key}" is already in the message`);
  const withEmpty = cbor.encode({ ...head, [key]: EMPTY_BYTES });
  if (withEmpty[withEmpty.length - 1] !== EMPTY_BYTE_STRING) throw new Error('cbor-x did not end the message with the empty byte string');
  const lengthHeader = byteStringHeader(bytes.length);
  const headLength = withEmpty.length - 1 + lengthHeader.length;
  const first = Buffer.allocUnsafe(FRAME_HEADER_BYTES + headLength);
  first.writeUInt32BE(headLength + bytes.length, 0);
  first.set(withEmpty.subarray(0, withEmpty.length - 1), FRAME_HEADER_BYTES);
  first.set(lengthHeader, FRAME_HEADER_BYTES + withEmpty.length - 1);
  return [first, bytes];
}

/** The head of a CBOR byte string of `length` bytes (RFC 8949 §3.1, major type 2). */
function byteStringHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 | length);
  if (length < 0x100) return Uint8Array.of(0x58, length);
  if (length < 0x10000) return Uint8Array.of(0x59, length >> 8, length & 0xff);
  const out = Buffer.allocUnsafe(5);
  out[0] = 0x5a;
  out.writeUInt32BE(length, 1);
  return out;
}

function decodeBody(body: Uint8Array): unknown {
  try {
    return cbor.decode(body);
  } catch (err) {
    throw new FrameDecodeError(`peer sent a malformed message: ${(err as Error).message}`);
  }
}

/** Where frames are read from: a QUIC stream (QuicStream.read). 0 means the stream has ended. */
export interface ByteSource {
  read(into: Uint8Array): Promise<number>;
}

export interface FrameReadOptions {
  /**
   * The caller is done with a message's byte strings before it asks for the next message, so
   * their memory is reused: a large frame is read into one buffer kept from frame to frame (a
   * 1 MiB chunk each time otherwise: an allocation, page faults and garbage per chunk), and a
   * small one is decoded where it was read.
   */
  transient?: boolean;
}

/**
 * Bytes are read this many at a time for headers and small frames, so one read usually takes a
 * frame's header with its body (and several small frames at once). Below Buffer's pool size, so
 * a stream's reader costs no allocation of its own.
 */
const INBOX_BYTES = 4000;
/** A transient frame at least this large is read into the reused buffer (see FrameReadOptions). */
const REUSE_FRAME_BYTES = 64 * 1024;

/**
 * Reads messages from a byte stream until it ends. Each frame's length is checked against
 * `maxFrameBytes` before anything is allocated for its body; a large body is read straight into
 * its own buffer, with no copy in between.
 */
export async function* readFrames(source: ByteSource, maxFrameBytes: number, opts: FrameReadOptions = {}): AsyncGenerator<unknown> {
  const inbox = Buffer.allocUnsafe(INBOX_BYTES);
  // Bytes read but not yet taken are inbox[start, end).
  let start = 0;
  let end = 0;
  let spare: Buffer | undefined;
  /** Reads until the inbox holds `need` bytes from `start` (need ≤ INBOX_BYTES); false if the stream ended first. */
  const fill = async (need: number): Promise<boolean> => {
    if (end - start >= need) return true;
    if (start > 0) {
      inbox.copy(inbox, 0, start, end);
      end -= start;
      start = 0;
    }
    while (end < need) {
      const n = await source.read(inbox.subarray(end));
      if (n === 0) return false;
      end += n;
    }
    return true;
  };
  for (;;) {
    if (!(await fill(FRAME_HEADER_BYTES))) {
      if (end === start) return;
      throw new TruncatedFrameError(end - start, FRAME_HEADER_BYTES);
    }
    const length = inbox.readUInt32BE(start);
    if (length > maxFrameBytes) throw new FrameTooLargeError(length, maxFrameBytes);
    if (FRAME_HEADER_BYTES + length <= INBOX_BYTES) {
      if (!(await fill(FRAME_HEADER_BYTES + length))) throw new TruncatedFrameError(end - start, FRAME_HEADER_BYTES + length);
      const body = inbox.subarray(start + FRAME_HEADER_BYTES, start + FRAME_HEADER_BYTES + length);
      start += FRAME_HEADER_BYTES + length;
      // Decoded byte strings point into the inbox, which the next read reuses.
      yield decodeBody(opts.transient ? body : Buffer.from(body));
      continue;
    }
    start += FRAME_HEADER_BYTES;
    let body: Buffer;
    if (opts.transient && length >= REUSE_FRAME_BYTES) {
      if (spare === undefined || spare.length < length) spare = Buffer.allocUnsafe(length);
      body = spare.subarray(0, length);
    } else {
      body = Buffer.allocUnsafe(length);
    }
    let filled = inbox.copy(body, 0, start, end);
    start += filled;
    while (filled < length) {
      const n = await source.read(body.subarray(filled));
      if (n === 0) throw new TruncatedFrameError(FRAME_HEADER_BYTES + filled, FRAME_HEADER_BYTES + length);
      filled += n;
    }
    yield decodeBody(body);
  }
}
