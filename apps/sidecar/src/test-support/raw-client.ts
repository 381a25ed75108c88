/**
 * A client that speaks leafsync's framing but none of its manners: it sends whatever bytes a test
 * gives it on a fresh stream and collects the raw answer. Not imported by production code.
 */
import { TruncatedFrameError, encodeFrame, readFrames } from '../protocol/frame-codec.js';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../protocol/messages.js';
import type { QuicConnection } from '../transport/types.js';
import { piecesSource } from './byte-source.js';

export interface RawAnswer {
  /** Every whole message the server sent back, after its `accepted` acknowledgement. */
  messages: Array<Record<string, unknown>>;
  /** The answer began with `accepted` (every request but hello's is acknowledged before any work). */
  accepted: boolean;
  /** The answer's bytes as they came, to search for anything that must not leak. */
  bytes: Buffer;
  /** The first message, if it is an error message. */
  error?: { code: string; message: string };
  /** The stream was reset or the connection died instead of a clean end. */
  aborted?: Error;
}

/** Sends `pieces` on a new stream (then FIN unless `fin` is false) and reads the answer to its end. */
export async function ask(conn: QuicConnection, pieces: Uint8Array[], opts: { fin?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer> {
  const stream = await conn.openStream();
  const chunks: Buffer[] = [];
  let aborted: Error | undefined;
  const reading = (async () => {
    try {
      for await (const piece of stream) chunks.push(Buffer.from(piece));
    } catch (err) {
      aborted = err as Error;
    }
  })();
  try {
    for (const p of pieces) await stream.write(p);
    if (opts.fin !== false) await stream.end();
  } catch (err) {
    aborted = err as Error;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    reading,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        aborted ??= new Error(`no end of answer within ${opts.timeoutMs ?? 15_000} ms`);
        stream.reset();
        resolve();
      }, opts.timeoutMs ?? 15_000);
    }),
  ]);
  clearTimeout(timer);
  const bytes = Buffer.concat(chunks);
  const messages: Array<Record<string, unknown>> = [];
  try {
    for await (const m of readFrames(piecesSource([bytes]), MAX_FRAME_BYTES)) messages.push(m as Record<string, unknown>);
  } catch (err) {
    // An answer cut off mid-message (reset, timeout): the whole messages before it are what came.
    if (!(err instanceof TruncatedFrameError)) throw err;
  }
  const accepted = messages[0]?.t === 'accepted';
  if (accepted) messages.shift();
  const first = messages[0];
  const error = first?.t === 'error' ? { code: String(first.code), message: String(first.message) } : undefined;
  return { messages, accepted, bytes, ...(error && { error }), ...(aborted && { aborted }) };
}

/** One request as a frame. */
export function frame(message: Record<string, unknown>): Uint8Array {
  return encodeFrame(message);
}

export const hello = (mode: 'pull' | 'push' = 'pull') => frame({ t: 'hello', v: PROTOCOL_VERSION, mode });
