/**
 * Types both the sidecar and the web app speak: what a sync pass reports and what a listening
 * server announces. The CLI's --json lines and (later) the API's events have exactly these shapes.
 */

export interface FileFailure {
  /** Relative path inside the synced folder ('/'-separated). */
  path: string;
  /** Stable machine-readable reason, e.g. UNSAFE_PATH, CHUNK_HASH_MISMATCH, REMOTE_CHANGED. */
  code: string;
  /** What happened, in words a user can act on. */
  message: string;
}

export interface PassSummary {
  /** Regular files on the server side (directories not counted). */
  files: number;
  /** Files whose content was created or replaced in this pass. */
  filesChanged: number;
  chunksFetched: number;
  bytesFetched: number;
  elapsedMs: number;
  /** Files that could not be synced this pass; each one's local copy was left as it was. */
  failures: FileFailure[];
  /** With mirror: local-only files moved to .leafsync_trash/<UTC timestamp>/ this pass. */
  filesTrashed: number;
  /** With mirror: why local-only files were not moved this pass (the server's folder looked empty). */
  mirrorHalted?: string;
  /** UDP payload bytes sent and received during the pass (QUIC's own count, headers and retransmissions included). */
  wireBytes?: number;
}

/** A file changed on both sides: the remote version took `path`, the local one was kept as `copy` (and pushed). */
export interface ConflictCopy {
  path: string;
  copy: string;
}

/** One two-way cycle of `watch`: what was pulled, pushed, kept as conflicts and trashed. */
export interface WatchCycleSummary {
  /** What started the cycle: connecting, a (debounced) local change, or the pull interval. */
  trigger: 'start' | 'local' | 'interval';
  /** Regular files here after the cycle. */
  files: number;
  filesPulled: number;
  chunksFetched: number;
  bytesFetched: number;
  filesPushed: number;
  chunksPushed: number;
  bytesPushed: number;
  conflicts: ConflictCopy[];
  /** With mirror: files the other side deleted, moved to .leafsync_trash here. */
  filesTrashed: number;
  /** With mirror: files deleted here, moved to the server's .leafsync_trash. */
  remoteTrashed: number;
  /** Files that could not be synced this cycle; both copies were left as they were. */
  failures: FileFailure[];
  elapsedMs: number;
}

export interface ListeningEvent {
  event: 'listening';
  host: string;
  port: number;
  fingerprint: string;
}

export * from './api.js';
export * from './transport.js';
