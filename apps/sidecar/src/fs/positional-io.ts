import type { FileHandle } from 'node:fs/promises';

/** Reads exactly `length` bytes at `position` into `buf`; a short file is an error, not a short chunk. */
export async function readExactly(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + filled}`);
    filled += bytesRead;
  }
  return buf.subarray(0, length);
}

/** Writes all of `data` at `position` (a write may take fewer bytes than offered). */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < data.length; ) {
    const { bytesWritten } = await fh.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}
