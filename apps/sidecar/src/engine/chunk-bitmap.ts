/** Which chunks of a file are known good, one bit per chunk. Pure: persistence lives in bitmap-file.ts. */
export class ChunkBitmap {
  readonly bytes: Uint8Array;
  private setBits = 0;

  constructor(readonly count: number, bytes?: Uint8Array) {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`invalid chunk count ${count}`);
    const length = Math.ceil(count / 8);
    if (bytes !== undefined && bytes.length !== length) throw new RangeError(`bitmap of ${bytes.length} bytes cannot hold ${count} chunks`);
    this.bytes = bytes === undefined ? new Uint8Array(length) : Uint8Array.from(bytes);
    // Bits past `count` in the last byte are padding; clear them so they cannot count as chunks.
    if (count % 8 !== 0 && length > 0) this.bytes[length - 1]! &= (1 << count % 8) - 1;
    for (let i = 0; i < count; i++) if (this.has(i)) this.setBits++;
  }

  has(index: number): boolean {
    return index >= 0 && index < this.count && (this.bytes[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  /** Marks a chunk good; returns the byte offset that changed, for positional persistence. */
  set(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`chunk ${index} outside 0..${this.count - 1}`);
    const at = index >> 3;
    if (!this.has(index)) {
      this.bytes[at]! |= 1 << (index & 7);
      this.setBits++;
    }
    return at;
  }

  get setCount(): number {
    return this.setBits;
  }

  get complete(): boolean {
    return this.setBits === this.count;
  }

  /** Indices not yet good, ascending. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (!this.has(i)) out.push(i);
    return out;
  }

  /** Indices that are good, ascending. */
  present(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.has(i)) out.push(i);
    return out;
  }
}
