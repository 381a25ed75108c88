/** Relative paths inside a synced folder always use '/' separators, on every platform and on the wire. */
export type RelPath = string;

/** One regular file or directory found by a scan. Symlinks and specials are never synced. */
export interface ScannedEntry {
  path: RelPath;
  type: 'file' | 'dir';
  size: number; // 0 for directories
  mtimeMs: number; // integer milliseconds
  mode: number; // permission bits only (mode & 0o777)
  ino: number;
}

/** A file as the summary describes it: identity is (size, root). */
export interface FileSummary {
  path: RelPath;
  type: 'file' | 'dir';
  size: number;
  mtimeMs: number;
  mode: number;
  /** Merkle root over the file's chunk hashes (32 bytes); empty for directories. */
  root: Uint8Array;
}

export interface FolderSummary {
  /** Root over every entry (see folderRoot); equal roots mean equal folders. */
  root: Uint8Array;
  entries: FileSummary[];
  /** The folder's root equals the `knownRoot` the caller sent, so `entries` were not sent. */
  unchanged?: boolean;
  /**
   * Files and directories that could not be read (permissions, a disk error): what is at or
   * under them is unknown (a file is left out of `entries`, a directory is listed empty), so no
   * one may take its absence for a delete.
   */
  unreadable?: RelPath[];
}

export interface SummaryRequest {
  /** The root the caller last synced to; a remote that still has it may answer `unchanged`. */
  knownRoot?: Uint8Array;
}

/** What the engine needs from the other side: implemented in memory by LocalFolderSource and over QUIC by the protocol client. */
export interface RemoteFolder {
  summary(request?: SummaryRequest): Promise<FolderSummary>;
  /**
   * `expectedCount` is what the caller's summary implies; a remote that announces a different
   * count is refused before its list is read, so a lying peer cannot make us buffer hashes.
   */
  chunkHashes(path: RelPath, expectedCount?: number): Promise<Uint8Array[]>;
  /**
   * Streams the requested chunks; onChunk is awaited before the next chunk is delivered
   * (backpressure). `data` may be reused for a later chunk once onChunk's promise settles: copy
   * what must outlive it.
   */
  fetchChunks(path: RelPath, indices: number[], onChunk: (index: number, data: Uint8Array) => Promise<void>): Promise<void>;
}
