import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { ChunkBitmap } from './chunk-bitmap.js';
import { chunkCount } from './chunking.js';

/**
 * The persisted record of a staging file: which remote version it is being built for
 * (size + Merkle root) and which chunks are already in it. Layout:
 *   "LSBM" · version u8 · size f64 BE · root 32 bytes · bitmap bytes
 * Created atomically; afterwards each newly good chunk flips its bit with a 1-byte positional
 * write, so a killed process loses at most the chunks whose write had not returned. The bits are
 * a claim, not a proof: whoever resumes re-hashes every claimed chunk before trusting it.
 */
const MAGIC = Buffer.from('LSBM');
const VERSION = 1;
const HEADER_BYTES = MAGIC.length + 1 + 8 + 32;

export interface BitmapTarget {
  size: number;
  root: Uint8Array;
}

export class BitmapFile {
  private writes: Promise<void> = Promise.resolve();

  private constructor(readonly path: string, readonly target: BitmapTarget, readonly bitmap: ChunkBitmap, private fh: FileHandle | undefined) {}

  /** Starts a record for `target` with `bitmap` as its initial state, replacing any older record. */
  static async create(path: string, target: BitmapTarget, bitmap: ChunkBitmap): Promise<BitmapFile> {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt8(VERSION, 4);
    header.writeDoubleBE(target.size, 5);
    header.set(target.root, 13);
    // No fsync: a record lost or torn by a crash fails the length check on load, and a stale one
    // only claims bits that are re-hashed before use. Durability here would cost two fsyncs a file.
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(Buffer.concat([header, bitmap.bytes]));
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new BitmapFile(path, target, bitmap, fh);
  }

  /** Reads a record; a missing, truncated or foreign file yields undefined (the staging is then not trusted). */
  static async load(path: string): Promise<{ target: BitmapTarget; bitmap: ChunkBitmap } | undefined> {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      return undefined;
    }
    if (data.length < HEADER_BYTES || !data.subarray(0, 4).equals(MAGIC) || data.readUInt8(4) !== VERSION) return undefined;
    const size = data.readDoubleBE(5);
    if (!Number.isSafeInteger(size) || size < 0) return undefined;
    const count = chunkCount(size);
    const bits = data.subarray(HEADER_BYTES);
    if (bits.length !== Math.ceil(count / 8)) return undefined;
    return { target: { size, root: Uint8Array.from(data.subarray(13, 45)) }, bitmap: new ChunkBitmap(count, bits) };
  }

  /** Records chunk `index` as good. Writes are chained so an older byte never lands after a newer one. */
  mark(index: number): Promise<void> {
    const at = this.bitmap.set(index);
    this.writes = this.writes.then(async () => {
      if (this.fh) await this.fh.write(this.bitmap.bytes, at, 1, HEADER_BYTES + at);
    });
    return this.writes;
  }

  /** Waits for pending bit writes and closes; the record stays for a later resume. */
  async close(): Promise<void> {
    await this.writes.catch(() => {});
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  /** The transfer finished (or was abandoned): the record goes. */
  async remove(): Promise<void> {
    await this.writes.catch(() => {});
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
    await rm(this.path, { force: true });
  }
}

export function bitmapPathFor(stagingPath: string): string {
  return stagingPath.replace(/\.part$/, '.bitmap');
}
