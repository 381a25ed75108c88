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

/** A frame at least this large that spans pieces is gathered into a reused buffer (see transient). */
const REUSE_FRAME_BYTES = 64 * 1024;

export interface FrameDecoderOptions {
  /**
   * The caller is done with a message's byte strings before it asks for the next message, so a
   * large frame that arrives in pieces is gathered into one buffer reused from frame to frame
   * (a 1 MiB chunk each time otherwise: an allocation, page faults and garbage per chunk).
   */
  transient?: boolean;
}

/** Incremental decoder: feed byte pieces in any split, take whole messages out. */
export class FrameDecoder {
  // Pieces before `head` are consumed; an index instead of shift() keeps a 1 MiB frame
  // made of ~800 datagram-sized pieces linear to take apart.
  private pieces: Buffer[] = [];
  private head = 0;
  private buffered = 0;
  private readonly transient: boolean;
  private spare: Buffer | undefined;

  constructor(
    private readonly maxFrameBytes: number,
    opts: FrameDecoderOptions = {},
  ) {
    this.transient = opts.transient === true;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.pieces.push(Buffer.from(piece.buffer, piece.byteOffset, piece.length));
    this.buffered += piece.length;
  }

  /** Returns the next whole message, or undefined if more bytes are needed. */
  next(): { message: unknown } | undefined {
    if (this.buffered < FRAME_HEADER_BYTES) return undefined;
    const length = this.peekLength();
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    if (this.buffered < FRAME_HEADER_BYTES + length) return undefined;
    const frame = this.take(FRAME_HEADER_BYTES + length);
    return { message: decodeBody(frame.subarray(FRAME_HEADER_BYTES)) };
  }

  /** Call when the stream ended: leftover bytes mean the peer cut a message short. */
  finish(): void {
    if (this.buffered === 0) return;
    const need = this.buffered >= FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES + this.peekLength() : FRAME_HEADER_BYTES;
    throw new TruncatedFrameError(this.buffered, need);
  }

  private peekLength(): number {
    const first = this.pieces[this.head]!;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    return this.take(FRAME_HEADER_BYTES, false).readUInt32BE(0);
  }

  /** Gathers `n` bytes from the front; with consume=false the bytes stay queued. */
  private take(n: number, consume = true): Buffer {
    const first = this.pieces[this.head]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (consume) this.dropFront(n);
      return out;
    }
    const out = consume ? this.frameBuffer(n) : Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = this.head; filled < n; i++) {
      const piece = this.pieces[i]!;
      const count = Math.min(piece.length, n - filled);
      piece.copy(out, filled, 0, count);
      filled += count;
    }
    if (consume) this.dropFront(n);
    return out;
  }

  private frameBuffer(n: number): Buffer {
    if (!this.transient || n < REUSE_FRAME_BYTES) return Buffer.allocUnsafe(n);
    if (this.spare === undefined || this.spare.length < n) this.spare = Buffer.allocUnsafe(n);
    return this.spare.subarray(0, n);
  }

  private dropFront(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.pieces[this.head]!;
      if (first.length <= n) {
        // Let go of it now: up to 1024 consumed pieces wait here for the next compaction, and
        // holding them kept hundreds of MiB alive on a fast link (60 KiB pieces at 8 KiB datagrams).
        this.pieces[this.head] = EMPTY_BYTES;
        this.head++;
        n -= first.length;
      } else {
        this.pieces[this.head] = first.subarray(n);
        n = 0;
      }
    }
    if (this.head === this.pieces.length) {
      this.pieces = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
  }
}

/** Reads messages from a byte stream until it ends; enforces the frame limit. */
export async function* readFrames(source: AsyncIterable<Uint8Array>, maxFrameBytes: number, opts?: FrameDecoderOptions): AsyncGenerator<unknown> {
  const decoder = new FrameDecoder(maxFrameBytes, opts);
  for await (const piece of source) {
    decoder.push(piece);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) yield frame.message;
  }
  decoder.finish();
}
