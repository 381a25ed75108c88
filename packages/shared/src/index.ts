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
}

export interface ListeningEvent {
  event: 'listening';
  host: string;
  port: number;
  fingerprint: string;
}

export * from './api.js';
