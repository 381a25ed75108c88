import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { chunkCount } from './chunking.js';
import type { RelPath } from './types.js';

/**
 * Bump when the table layout or the meaning of a column changes. An older (or newer) file is
 * wiped rather than migrated: everything in it can be recomputed by hashing.
 */
const SCHEMA_VERSION = 1;
const HASH_LEN = 32;

/** What a file looked like when it was hashed; any difference means its hashes may be stale. */
export interface FileIdentity {
  size: number;
  /** Integer milliseconds, as the scanner reports it. */
  mtimeMs: number;
  /** Sub-millisecond status-change time: catches a rewrite that restored size and mtime. */
  ctimeMs: number;
  ino: number;
}

export interface IndexRecord extends FileIdentity {
  path: RelPath;
  mode: number;
  hashes: readonly Uint8Array[];
  root: Uint8Array;
}

export interface IndexHit {
  hashes: Uint8Array[];
  root: Uint8Array;
}

/** One stored entry without its chunk hashes: all a summary needs. */
export interface IndexRootEntry extends FileIdentity {
  mode: number;
  root: Uint8Array;
}

/**
 * Something went wrong with the cache file. Never thrown: the cache only saves work, so a sync
 * carries on without it and the worst outcome is re-hashing.
 */
export interface IndexCacheWarning {
  code: 'INDEX_CACHE_CORRUPT' | 'INDEX_CACHE_ERROR';
  message: string;
}

export interface IndexCacheOptions {
  onWarning?: (warning: IndexCacheWarning) => void;
}

interface FileRow {
  path: string;
  mode: number;
  size: number;
  mtime_ms: number;
  ctime_ms: number;
  ino: number;
  hashes: Buffer;
  root: Buffer;
}

/** path, mode, size, mtime_ms, ctime_ms, ino, root */
type RootRow = [string, number, number, number, number, number, Buffer];

type Db = Database.Database;

/**
 * better-sqlite3 is loaded on first use (~25 ms here): a `connect --once` over a folder whose scan
 * digest is unchanged never needs the index, and an index opened lazily costs it nothing.
 */
let sqlite: typeof Database | undefined;
function loadSqlite(): typeof Database {
  return (sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database);
}

/** better-sqlite3's SqliteError, recognised without importing its class (it is a CJS export). */
function sqliteCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'SqliteError') return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function isCorruption(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Where the cache of one synced folder lives: one file per folder, named by its absolute path. */
export function indexCachePath(home: string, folderAbs: string): string {
  const id = createHash('sha256').update(folderAbs, 'utf8').digest('hex').slice(0, 32);
  return join(home, 'index', `${id}.sqlite`);
}

/**
 * Persistent map from a file's path and identity (size, mtime, ctime, inode) to its chunk hashes
 * and Merkle root, so a new process can skip hashing files that did not change.
 *
 * Crash safety comes from SQLite's WAL with synchronous=NORMAL: a crash may lose the last
 * committed transactions but never leaves a torn database. Losing an entry is harmless (the file
 * is hashed again), so we trade the fsync per commit for speed.
 */
export class IndexCache {
  /** Absolute database file, or undefined for an in-memory cache. */
  readonly file: string | undefined;
  /** Opened by the first operation (see loadSqlite). */
  private conn: { db: Db; stmts: Statements } | undefined;
  private closed = false;
  private readonly onWarning: (warning: IndexCacheWarning) => void;
  private readonly seenWarnings = new Set<string>();
  private readonly warningList: IndexCacheWarning[] = [];

  private constructor(file: string | undefined, opts: IndexCacheOptions | undefined) {
    this.file = file;
    this.onWarning = opts?.onWarning ?? (() => {});
  }

  private get stmts(): Statements {
    if (this.conn === undefined && this.closed) throw new Error('The index cache is closed');
    return (this.conn ??= connected(this.openDb())).stmts;
  }

  /** Opens (creating if needed) the cache for `folderAbs` under `<home>/index/`. Never throws on a bad file. */
  static open(home: string, folderAbs: string, opts?: IndexCacheOptions): IndexCache {
    const file = indexCachePath(home, folderAbs);
    // The cache names every file in the folder; keep it as private as the identity key.
    mkdirSync(join(home, 'index'), { recursive: true, mode: 0o700 });
    return new IndexCache(file, opts);
  }

  /** A cache that lives only as long as this process (tests, or no LEAFSYNC_HOME). */
  static memory(opts?: IndexCacheOptions): IndexCache {
    return new IndexCache(undefined, opts);
  }

  /** Problems met so far (each distinct message once). */
  get warnings(): readonly IndexCacheWarning[] {
    return this.warningList;
  }

  /** The cached hashes if `path` was stored with exactly this identity, else undefined. */
  get(path: RelPath, identity: FileIdentity): IndexHit | undefined {
    return this.guard('read', undefined, () => {
      const row = this.stmts.get.get(path);
      if (row === undefined) return undefined;
      if (
        row.size !== identity.size ||
        row.mtime_ms !== identity.mtimeMs ||
        row.ctime_ms !== identity.ctimeMs ||
        row.ino !== identity.ino
      ) {
        return undefined;
      }
      return decode(row);
    });
  }

  put(record: IndexRecord): void {
    this.putMany([record]);
  }

  /** Stores many records in one transaction: one commit for a whole scan instead of one per file. */
  putMany(records: Iterable<IndexRecord>): void {
    this.guard('write', undefined, () => {
      this.stmts.putAll(records);
    });
  }

  delete(path: RelPath): void {
    this.guard('write', undefined, () => {
      this.stmts.del.run(path);
    });
  }

  /**
   * Every entry's identity and root, read in one query. A whole-folder pass wants all of them,
   * and one scan of the table costs a fraction of a lookup per file. Chunk hashes are left out
   * (a Buffer per row is most of the cost); get() fetches them for the few files asked about.
   */
  loadAllRoots(): Map<RelPath, IndexRootEntry> {
    return this.guard('read', new Map<RelPath, IndexRootEntry>(), () => {
      const out = new Map<RelPath, IndexRootEntry>();
      for (const [path, mode, size, mtimeMs, ctimeMs, ino, root] of this.stmts.roots.all()) {
        if (!Buffer.isBuffer(root) || root.length !== HASH_LEN) continue;
        out.set(path, { size, mtimeMs, ctimeMs, ino, mode, root });
      }
      return out;
    });
  }

  /** Deletes these paths in one transaction. */
  deleteMany(paths: Iterable<RelPath>): void {
    this.guard('write', undefined, () => {
      this.stmts.delAll(paths);
    });
  }

  /** Drops every entry whose path is not in `paths` (files gone since they were cached). Returns how many. */
  retainOnly(paths: ReadonlySet<string>): number {
    return this.guard('write', 0, () => this.stmts.retain(paths));
  }

  /** Number of cached files. */
  count(): number {
    return this.guard('read', 0, () => this.stmts.count.get() ?? 0);
  }

  /** Closes the database; an index never used was never opened. Using it afterwards throws. */
  close(): void {
    this.closed = true;
    if (this.conn?.db.open) this.conn.db.close();
  }

  private openDb(): Db {
    try {
      return initDb(this.file);
    } catch (err) {
      const code = sqliteCode(err);
      if (this.file === undefined || code === undefined) throw err;
      if (isCorruption(code)) {
        this.warn('INDEX_CACHE_CORRUPT', `opening ${this.file}`, err);
        return this.startFresh();
      }
      // Locked, unreadable or on a full disk: the file may be fine, so leave it for next time.
      this.warn('INDEX_CACHE_ERROR', `opening ${this.file}; caching in memory for this run`, err);
      return initDb(undefined);
    }
  }

  /** Moves a damaged database aside (kept for a bug report, never read again) and opens a new one. */
  private startFresh(): Db {
    if (this.file === undefined) return initDb(undefined);
    const aside = `${this.file}.corrupt-${Date.now()}`;
    try {
      renameSync(this.file, aside);
      // A WAL belongs to the file it was written for; never let it be replayed into the new one.
      if (existsSync(`${this.file}-wal`)) renameSync(`${this.file}-wal`, `${aside}-wal`);
      rmSync(`${this.file}-shm`, { force: true });
    } catch (err) {
      this.warn('INDEX_CACHE_ERROR', `moving ${this.file} aside`, err);
    }
    try {
      return initDb(this.file);
    } catch (err) {
      // Could not even create a fresh file (read-only home, full disk): cache in memory instead.
      this.warn('INDEX_CACHE_ERROR', `recreating ${this.file}; caching in memory for this run`, err);
      return initDb(undefined);
    }
  }

  /**
   * Runs one database operation. SQLite errors become warnings and `fallback`, because a cache
   * that fails must cost a re-hash, not a sync. Corruption found mid-run resets the file.
   */
  private guard<T>(what: 'read' | 'write', fallback: T, op: () => T): T {
    try {
      return op();
    } catch (err) {
      const code = sqliteCode(err);
      if (code === undefined) throw err;
      if (isCorruption(code)) {
        this.warn('INDEX_CACHE_CORRUPT', `${what} of ${this.file ?? 'in-memory cache'}`, err);
        if (this.conn?.db.open) this.conn.db.close();
        this.conn = connected(this.startFresh());
      } else {
        this.warn('INDEX_CACHE_ERROR', `${what} of ${this.file ?? 'in-memory cache'}`, err);
      }
      return fallback;
    }
  }

  private warn(code: IndexCacheWarning['code'], doing: string, err: unknown): void {
    const detail = err instanceof Error ? err.message : String(err);
    const message =
      code === 'INDEX_CACHE_CORRUPT'
        ? `Index cache is corrupt (${doing}: ${detail}); starting a fresh one, files will be re-hashed`
        : `Index cache error (${doing}: ${detail}); files may be re-hashed`;
    if (this.seenWarnings.has(message)) return;
    this.seenWarnings.add(message);
    const warning: IndexCacheWarning = { code, message };
    this.warningList.push(warning);
    this.onWarning(warning);
  }
}

interface Statements {
  get: Database.Statement<[string], FileRow>;
  roots: Database.Statement<[], RootRow>;
  delAll: (paths: Iterable<RelPath>) => void;
  del: Database.Statement<[string]>;
  count: Database.Statement<[], number>;
  putAll: (records: Iterable<IndexRecord>) => void;
  retain: (paths: ReadonlySet<string>) => number;
}

function connected(db: Db): { db: Db; stmts: Statements } {
  return { db, stmts: prepare(db) };
}

function initDb(file: string | undefined): Db {
  const Database = loadSqlite();
  const db = new Database(file ?? ':memory:');
  try {
    if (file !== undefined) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Another process syncing the same folder may hold the write lock for a moment.
      db.pragma('busy_timeout = 2000');
    }
    const version = db.pragma('user_version', { simple: true });
    if (version !== SCHEMA_VERSION) {
      db.transaction(() => {
        db.exec('DROP TABLE IF EXISTS files');
        db.exec(`CREATE TABLE files (
          path TEXT PRIMARY KEY,
          size INTEGER NOT NULL,
          mtime_ms INTEGER NOT NULL,
          ctime_ms REAL NOT NULL,
          ino INTEGER NOT NULL,
          mode INTEGER NOT NULL,
          hashes BLOB NOT NULL,
          root BLOB NOT NULL
        ) WITHOUT ROWID`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    if (file !== undefined) {
      try {
        chmodSync(file, 0o600);
      } catch {
        // Best effort: some filesystems (and Windows) have no POSIX modes.
      }
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function prepare(db: Db): Statements {
  const get = db.prepare<[string], FileRow>('SELECT path, mode, size, mtime_ms, ctime_ms, ino, hashes, root FROM files WHERE path = ?');
  // Raw rows (arrays, not objects): measurably cheaper when every row of a big table is read.
  const roots = db.prepare<[], RootRow>('SELECT path, mode, size, mtime_ms, ctime_ms, ino, root FROM files').raw();
  const put = db.prepare<[string, number, number, number, number, number, Buffer, Buffer]>(
    'INSERT OR REPLACE INTO files (path, size, mtime_ms, ctime_ms, ino, mode, hashes, root) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const del = db.prepare<[string]>('DELETE FROM files WHERE path = ?');
  const paths = db.prepare<[], string>('SELECT path FROM files').pluck();
  const count = db.prepare<[], number>('SELECT count(*) FROM files').pluck();
  const putAll = db.transaction((records: Iterable<IndexRecord>) => {
    for (const r of records) {
      put.run(r.path, r.size, r.mtimeMs, r.ctimeMs, r.ino, r.mode, encodeHashes(r.hashes), Buffer.from(r.root));
    }
  });
  const delAll = db.transaction((list: Iterable<RelPath>) => {
    for (const p of list) del.run(p);
  });
  const retain = db.transaction((keep: ReadonlySet<string>) => {
    // Collected first: a statement cannot delete rows while another one is iterating them.
    const gone = paths.all().filter((p) => !keep.has(p));
    for (const p of gone) del.run(p);
    return gone.length;
  });
  return { get, roots, del, delAll, count, putAll, retain };
}

function encodeHashes(hashes: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(hashes.length * HASH_LEN);
  hashes.forEach((h, i) => {
    if (h.length !== HASH_LEN) throw new RangeError(`chunk hash ${i} has ${h.length} bytes, expected ${HASH_LEN}`);
    out.set(h, i * HASH_LEN);
  });
  return out;
}

/** Row to hashes; a row that cannot be right for its size is a miss rather than a wrong answer. */
function decode(row: FileRow): IndexHit | undefined {
  const { hashes, root } = row;
  if (!Buffer.isBuffer(hashes) || !Buffer.isBuffer(root) || root.length !== HASH_LEN) return undefined;
  if (!Number.isSafeInteger(row.size) || row.size < 0 || hashes.length !== chunkCount(row.size) * HASH_LEN) return undefined;
  const list: Uint8Array[] = [];
  for (let off = 0; off < hashes.length; off += HASH_LEN) list.push(hashes.subarray(off, off + HASH_LEN));
  return { hashes: list, root };
}
