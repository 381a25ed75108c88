/**
 * Typed engine errors. Each carries a stable `code` so callers (protocol, API, CLI) can map it
 * to a wire error or an exit status without parsing messages, and a message that names the file
 * so a user reading a log knows what went wrong and where.
 */

export abstract class EngineError extends Error {
  abstract readonly code: string;
  /** The relative (or, where no folder is involved, absolute) path the error is about. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
    this.name = new.target.name;
  }
}

/** A path from the wire or the user that must not be touched (escape, reserved name, …). */
export class UnsafePathError extends EngineError {
  readonly code = 'UNSAFE_PATH';
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(path, `Refusing unsafe path ${JSON.stringify(path)}: ${reason}`);
    this.reason = reason;
  }
}

/** The file or folder asked for does not exist. */
export class NotFoundError extends EngineError {
  readonly code = 'NOT_FOUND';

  constructor(path: string, what = 'File') {
    super(path, `${what} not found: ${path}`);
  }
}

/** Something exists at the path but it is not a regular file (a directory, symlink, device…). */
export class NotRegularFileError extends EngineError {
  readonly code = 'NOT_REGULAR_FILE';

  constructor(path: string, readonly actual: string) {
    super(path, `Not a regular file (${actual}): ${path}`);
  }
}

/** Internal names (.leafsync_tmp, .git, *.part, …) are never served or synced. */
export class InternalPathError extends EngineError {
  readonly code = 'INTERNAL_PATH';

  constructor(path: string) {
    super(path, `Refusing internal path (never synced): ${path}`);
  }
}

/** A single-file session was asked about some other path. */
export class OutsideScopeError extends EngineError {
  readonly code = 'OUTSIDE_SCOPE';

  constructor(path: string, only: string) {
    super(path, `Path ${path} is outside this session, which only serves ${only}`);
  }
}

/** A chunk index past the end of the file (the file may have shrunk since its summary). */
export class ChunkOutOfRangeError extends EngineError {
  readonly code = 'CHUNK_OUT_OF_RANGE';
  readonly index: number;
  readonly chunkCount: number;

  constructor(path: string, index: number, chunkCount: number) {
    super(path, `Chunk ${index} is out of range for ${path}, which has ${chunkCount} chunk(s)`);
    this.index = index;
    this.chunkCount = chunkCount;
  }
}

/** A chunk's byte length does not match what its index and the file size require. */
export class ChunkLengthError extends EngineError {
  readonly code = 'CHUNK_LENGTH';

  constructor(path: string, index: number, expected: number, actual: number) {
    super(path, `Chunk ${index} of ${path} has ${actual} bytes, expected ${expected}`);
  }
}

/** The file changed size while it was being read, so what was read is not one consistent version. */
export class FileChangedError extends EngineError {
  readonly code = 'FILE_CHANGED';

  constructor(path: string, detail: string) {
    super(path, `File changed while being read: ${path} (${detail})`);
  }
}

/**
 * The staged file's Merkle root is not the one the peer announced. The destination is left
 * untouched and the staging file is kept so good chunks can be reused on the next attempt.
 */
export class MerkleMismatchError extends EngineError {
  readonly code = 'MERKLE_MISMATCH';
  readonly expectedRoot: string;
  readonly actualRoot: string;

  constructor(path: string, expectedRoot: string, actualRoot: string) {
    super(
      path,
      `Verification failed for ${path}: staged content hashes to ${actualRoot.slice(0, 16)}…, ` +
        `expected ${expectedRoot.slice(0, 16)}…; the existing file was not replaced`,
    );
    this.expectedRoot = expectedRoot;
    this.actualRoot = actualRoot;
  }
}

/** A staged file has a different size than the peer announced. */
export class SizeMismatchError extends EngineError {
  readonly code = 'SIZE_MISMATCH';

  constructor(path: string, expected: number, actual: number) {
    super(path, `Size mismatch for ${path}: expected ${expected} bytes, got ${actual}`);
  }
}

/** `.leafsyncignore` exists but could not be read; syncing without it could leak or delete what it excludes. */
export class IgnoreRulesError extends EngineError {
  readonly code = 'IGNORE_RULES_UNREADABLE';

  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(path, `Cannot read ignore rules ${path}: ${detail}; fix or remove the file and retry`, options);
  }
}

/** The path is excluded by `.leafsyncignore`, so it is neither served nor synced. */
export class IgnoredPathError extends EngineError {
  readonly code = 'IGNORED_PATH';

  constructor(path: string) {
    super(path, `Path is excluded by .leafsyncignore (never synced): ${path}`);
  }
}

/** A file could not be moved to `.leafsync_trash`; it was left where it was. */
export class TrashError extends EngineError {
  readonly code = 'TRASH_FAILED';

  constructor(path: string, detail: string) {
    super(path, `Could not move ${path} to the trash (it was left in place): ${detail}`);
  }
}

/**
 * The file at the destination changed after this pass looked at it (someone is editing it). It
 * was not replaced; the next pass sees the new version and decides again.
 */
export class LocalChangedError extends EngineError {
  readonly code = 'LOCAL_CHANGED';

  constructor(path: string) {
    super(path, `${path} changed here while it was being synced; it was left as it is and will be looked at again next pass`);
  }
}

/**
 * A file or directory one side could not read (permissions, or a disk error): it was not synced,
 * and nothing the other side has at or under its path was moved to the trash or deleted, since
 * its absence from the listing means nothing.
 */
export class UnreadableError extends EngineError {
  readonly code = 'UNREADABLE';

  constructor(path: string, side: 'server' | 'here') {
    super(
      path,
      `${path}: ${side === 'server' ? 'the server' : 'this side'} could not read it (permissions, or a disk error); it was not ` +
        'synced, and nothing at or under this path was moved to the trash. Fix its permissions, or exclude it in .leafsyncignore.',
    );
  }
}
