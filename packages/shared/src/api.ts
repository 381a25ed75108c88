import { z } from 'zod';
import type { ConflictCopy, PassSummary, WatchCycleSummary } from './index.js';
import { CONGESTION_CONTROLS, DATAGRAM_SIZE_MAX, DATAGRAM_SIZE_MIN, type CongestionControl } from './transport.js';

/**
 * The dashboard API's contract: inputs as zod schemas (validated by the sidecar, reused by the
 * web app's forms), outputs and events as types. The sidecar's tRPC router implements exactly
 * this; the web app imports only the router's type.
 */

const folderPath = z.string().trim().min(1, 'choose a folder');
const relFile = z.string().trim().min(1).optional();
const port = z.number().int().min(0).max(65535);
const fingerprint = z
  .string()
  .trim()
  .transform((v) => v.replace(/:/g, '').toLowerCase())
  .refine((v) => /^[0-9a-f]{64}$/.test(v), 'a fingerprint is 64 hex characters (as `leafsync id` prints it)');

/**
 * How a side sends, for paths unlike a clean LAN (the README's "Lossy links"). Each side sets
 * its own: for a pull the server sends the data, for watch's pushes the client.
 */
const transportInput = {
  /** Largest UDP payload to send; absent = 1350, which fits every real path. */
  datagramSize: z
    .number()
    .int(`a datagram size is a whole number of bytes (${DATAGRAM_SIZE_MIN}–${DATAGRAM_SIZE_MAX})`)
    .min(DATAGRAM_SIZE_MIN, `a datagram size is at least ${DATAGRAM_SIZE_MIN} bytes (QUIC's minimum)`)
    .max(DATAGRAM_SIZE_MAX, `a datagram size is at most ${DATAGRAM_SIZE_MAX} bytes (the largest UDP payload)`)
    .optional(),
  congestion: z.enum(CONGESTION_CONTROLS).default('cubic'),
};

export const serveInput = z
  .object({
    folder: folderPath,
    file: relFile,
    port: port.default(4455),
    bind: z.string().trim().min(1).default('0.0.0.0'),
    /** Accept pushes (from watch sessions) by clients authorised in trust.json. */
    allowPush: z.boolean().default(false),
    /** With allowPush and no authorised client yet, authorise the first client that pushes. */
    acceptFirstClient: z.boolean().default(false),
    ...transportInput,
  })
  .refine((v) => v.allowPush || !v.acceptFirstClient, { path: ['acceptFirstClient'], message: 'authorising the first client needs allowPush' });
export type ServeInput = z.input<typeof serveInput>;

/** What connect and watch share: which server, how to trust it, the local folder, transfer limits. */
const peerInput = z.object({
  /** HOST:PORT of the server, e.g. 192.168.1.20:4455 or [::1]:4455. */
  address: z.string().trim().min(1, 'enter the server as HOST:PORT'),
  folder: folderPath,
  file: relFile,
  acceptFirst: z.boolean().default(false),
  fingerprint: fingerprint.optional(),
  mirror: z.boolean().default(false),
  streams: z.number().int().min(1).max(64).default(8),
  /** Megabits per second across all streams; absent = unlimited. */
  rateMbps: z.number().positive().optional(),
  ...transportInput,
});

export const connectInput = peerInput.extend({
  intervalSeconds: z.number().min(0).max(86_400).default(2),
  /** Stop after one pass (the session then ends in state 'stopped' or 'error'). */
  once: z.boolean().default(false),
  /** Update a large file with few changed chunks by writing them over it (undo-journalled). */
  inPlace: z.boolean().default(false),
});
export type ConnectInput = z.input<typeof connectInput>;

/** Two-way sync with a server that accepts our pushes (serve with allowPush). */
export const watchInput = peerInput.extend({
  /** Pull the server's changes at least this often. */
  pullIntervalSeconds: z.number().positive().max(86_400).default(10),
  /** Quiet time after the last local change before a cycle pushes it. */
  debounceMs: z.number().int().min(0).max(600_000).default(500),
});
export type WatchInput = z.input<typeof watchInput>;

export const sessionIdInput = z.object({ id: z.string().min(1) });
export const listDirInput = z.object({ path: z.string().optional() });
export const eventsInput = z.object({ lastEventId: z.string().nullish(), sessionId: z.string().optional() });
export const removeServerInput = z.object({ address: z.string().min(1) });
export const removeClientInput = z.object({ fingerprint });

export type SessionKind = 'serve' | 'connect' | 'watch';
/**
 * serve: starting → listening; connect: starting → connecting → scanning ⇄ transferring → idle
 * (repeat); watch: like connect, idle between cycles (a cycle that only pushes may stay idle).
 */
export type SessionState = 'starting' | 'listening' | 'connecting' | 'scanning' | 'transferring' | 'idle' | 'error' | 'stopped';

export interface FileProgress {
  path: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface SessionProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Moving average over the last few seconds. */
  bytesPerSecond: number;
  etaSeconds?: number;
  /** Files being transferred right now. */
  files: FileProgress[];
}

export interface SessionInfo {
  id: string;
  kind: SessionKind;
  state: SessionState;
  folder: string;
  file?: string;
  /** serve: the address it listens on; connect and watch: the server's HOST:PORT. */
  address: string;
  /** serve: this peer's fingerprint; connect and watch: the server's, once known. */
  fingerprint?: string;
  /** Plain-words reason when state is 'error' (wrong fingerprint, unreachable, permission denied…). */
  error?: string;
  /** serve: accepts pushes from authorised clients (absent = read-only). */
  allowPush?: boolean;
  /** How this side sends, where it is not the default (CUBIC, 1350-byte datagrams). */
  congestion?: CongestionControl;
  datagramSize?: number;
  progress?: SessionProgress;
  /** connect: the last completed pass. */
  lastPass?: PassSummary;
  /**
   * watch: the last two-way cycle that did something (pulled, pushed, kept a conflict, trashed or
   * failed), or the first one after connecting. A cycle with nothing to do (such as the echo of
   * our own writes) does not replace it; every cycle is still sent as a 'cycle' event.
   */
  lastCycle?: WatchCycleSummary;
  /** watch: files changed on both sides, both versions kept; newest first, the last 50. */
  conflicts?: ConflictCopy[];
  startedAt: string;
}

export type SessionEvent =
  | { type: 'session'; session: SessionInfo }
  | { type: 'progress'; sessionId: string; progress: SessionProgress }
  | { type: 'pass'; sessionId: string; pass: PassSummary }
  | { type: 'cycle'; sessionId: string; cycle: WatchCycleSummary }
  | { type: 'notice'; sessionId: string; message: string }
  | { type: 'removed'; sessionId: string };

export interface DirEntry {
  name: string;
  type: 'dir' | 'file';
  /** Starts with a dot (or has the hidden attribute on Windows). */
  hidden: boolean;
  /** One of leafsync's internal names (.leafsync_tmp, .leafsync_trash, .git, *.part). */
  internal: boolean;
  size?: number;
}

export interface DirListing {
  path: string;
  /** Undefined at a filesystem root. */
  parent?: string;
  entries: DirEntry[];
  /** Set instead of entries when the folder cannot be read. */
  error?: string;
}

export interface QuickLink {
  label: string;
  path: string;
}

export interface TrustView {
  servers: Array<{ address: string; fingerprint: string; pinnedAt: string }>;
  clients: Array<{ fingerprint: string; pinnedAt: string }>;
}
