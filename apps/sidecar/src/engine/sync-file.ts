import { chmod, utimes } from 'node:fs/promises';
import type { FileSummary, RemoteFolder } from './types.js';
import { chunkCount } from './chunking.js';
import { bytesEqual, merkleRoot } from './merkle.js';
import { utimesSeconds } from './staging-file.js';
import type { LocalFolderSource } from './folder-source.js';
import { transferFile, type TransferContext, type TransferResult } from './file-transfer.js';
import { EngineError } from './errors.js';
import { assertRoomFor } from './disk-space.js';

/** The server's file changed between its summary and its chunk hashes: try again next pass. */
export class RemoteChangedError extends EngineError {
  readonly code = 'REMOTE_CHANGED';
  constructor(path: string) {
    super(path, `${path} changed on the other side during the pass; it will be fetched again`);
  }
}

export class TypeConflictError extends EngineError {
  readonly code = 'TYPE_CONFLICT';
  constructor(path: string, remoteType: string, localType: string) {
    super(path, `${path} is a ${remoteType} on the other side but a ${localType} here; leaving the local ${localType} alone`);
  }
}

/**
 * Brings the local file at `dest` to the remote version `file`, fetching only the chunks that
 * differ; used by a pull on the client and by a push landing on the server alike. `existing` is
 * the local file as this pass scanned it: if it changes before the rename, nothing is replaced.
 * Returns undefined when the content already matched (metadata was fixed up if needed).
 */
export async function syncFileFrom(
  remote: RemoteFolder,
  local: LocalFolderSource,
  ctx: TransferContext,
  file: FileSummary,
  dest: string,
  existing: FileSummary | undefined,
): Promise<TransferResult | undefined> {
  if (existing && existing.type !== 'file') throw new TypeConflictError(file.path, 'file', 'folder');
  if (existing && existing.size === file.size && bytesEqual(existing.root, file.root)) {
    await matchMetadata(dest, existing, file);
    return undefined;
  }
  // A file of one chunk is checked against its root directly: no chunk-hash round trip.
  const count = chunkCount(file.size);
  // Only a multi-chunk file can be big enough to matter, and only it costs a hash round trip.
  if (count > 1) await assertRoomFor(ctx.localRoot, file, existing);
  const remoteHashes = count > 1 ? await remote.chunkHashes(file.path, count) : undefined;
  if (remoteHashes && (remoteHashes.length !== count || !bytesEqual(merkleRoot(remoteHashes), file.root))) {
    throw new RemoteChangedError(file.path);
  }
  const localHashes = existing && remoteHashes ? await local.chunkHashes(file.path) : undefined;
  ctx.onTransferStart?.(file);
  const result = await transferFile(ctx, file, dest, existing, remoteHashes, localHashes && { abs: dest, hashes: localHashes });
  // What was just verified need not be read back by the next scan.
  await local.remember(file.path, dest, file, result.hashes);
  return result;
}

async function matchMetadata(dest: string, existing: FileSummary, file: FileSummary): Promise<void> {
  if (existing.mode !== file.mode && process.platform !== 'win32') await chmod(dest, file.mode);
  if (existing.mtimeMs !== file.mtimeMs) await utimes(dest, utimesSeconds(file.mtimeMs), utimesSeconds(file.mtimeMs));
}
