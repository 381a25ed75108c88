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

function decodeBody(body: Uint8Array): unknown {
  try {
    return cbor.decode(body);
  } catch (err) {
    throw new FrameDecodeError(`peer sent a malformed message: ${(err as Error).message}`);
  }
}

/** Incremental decoder: feed byte pieces in any split, take whole messages out. */
export class FrameDecoder {
  // Pieces before `head` are consumed; an index instead of shift() keeps a 1 MiB frame
  // made of ~800 datagram-sized pieces linear to take apart.
  private pieces: Buffer[] = [];
  private head = 0;
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

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
    const out = Buffer.allocUnsafe(n);
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

  private dropFront(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.pieces[this.head]!;
      if (first.length <= n) {
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
export async function* readFrames(source: AsyncIterable<Uint8Array>, maxFrameBytes: number): AsyncGenerator<unknown> {
  const decoder = new FrameDecoder(maxFrameBytes);
  for await (const piece of source) {
    decoder.push(piece);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) yield frame.message;
  }
  decoder.finish();
}
