import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** One chunk as a worker read it: `bytes` short of what was asked means the file ended there. */
export interface ChunkRead {
  bytes: number;
  /** SHA-256 of the bytes read; absent when none were. */
  hash: Uint8Array | undefined;
}

/** A job's outcome; never a rejection, so jobs queued ahead of the one awaited cannot go unhandled. */
export type ChunkReadResult = { ok: true; read: ChunkRead } | { ok: false; error: Error };

/**
 * Runs in each worker (CommonJS, given as source so the command's bundles need no file beside
 * them). It reads with pread on the descriptor the caller holds open (threads share the
 * process's descriptors, and an explicit position shares no file offset) into its own buffer,
 * so a chunk's bytes never cross threads: only the 32-byte digest comes back.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafeSlow(workerData.chunkSize);
parentPort.on('message', ({ id, fd, position, length }) => {
  try {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    const hash = got === 0 ? undefined : createHash('sha256').update(buf.subarray(0, got)).digest();
    parentPort.postMessage({ id, bytes: got, hash });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: String(err && err.message), code: err && err.code } });
  }
});
`;

type Reply = { id: number; bytes: number; hash?: Uint8Array; error?: undefined } | { id: number; error: { message: string; code?: string } };

/** Workers left idle this long are stopped, so a quiet `serve` does not keep their memory. */
const IDLE_STOP_MS = 10_000;

class HashWorker {
  readonly worker: Worker;
  readonly jobs = new Map<number, (result: ChunkReadResult) => void>();

  constructor(chunkSize: number, onGone: (w: HashWorker, error: Error) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { chunkSize } });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const settle = this.jobs.get(reply.id);
      if (settle === undefined) return;
      this.jobs.delete(reply.id);
      if (this.jobs.size === 0) this.worker.unref();
      if (reply.error !== undefined) settle({ ok: false, error: Object.assign(new Error(reply.error.message), reply.error.code === undefined ? {} : { code: reply.error.code }) });
      // A Buffer arrives as a plain Uint8Array; a Buffer view over it matches what hashChunk gives.
      else settle({ ok: true, read: { bytes: reply.bytes, hash: reply.hash && Buffer.from(reply.hash.buffer, reply.hash.byteOffset, reply.hash.byteLength) } });
    });
    this.worker.on('error', (err) => onGone(this, err));
    this.worker.on('exit', (code) => onGone(this, new Error(`a hashing thread stopped (exit code ${code})`)));
  }

  failAll(error: Error): void {
    for (const settle of this.jobs.values()) settle({ ok: false, error });
    this.jobs.clear();
  }
}

/**
 * SHA-256 of file chunks on worker threads, one per core (up to 4). A cold scan of a big file
 * was one core's SHA-256 (~1.2 GB/s here) with each read waited for in between, while the other
 * core had nothing to do: in a profile of bench W1 the client sat idle ~1.6 s after its start-up
 * while the server hashed 1 GiB.
 * Workers start on first use and stop after IDLE_STOP_MS idle; while none has work they do not
 * keep the process alive.
 */
export class ChunkHashWorkers {
  private readonly workers: HashWorker[] = [];
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly chunkSize: number,
    readonly size = Math.max(1, Math.min(4, availableParallelism())),
  ) {}

  /** Reads up to `length` bytes at `position` of `fd` (kept open until this settles) and hashes them. */
  hashChunk(fd: number, position: number, length: number): Promise<ChunkReadResult> {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const w = this.leastBusy();
    const id = this.nextId++;
    return new Promise<ChunkReadResult>((resolve) => {
      w.jobs.set(id, (result) => {
        resolve(result);
        this.stopWhenIdle();
      });
      w.worker.ref();
      w.worker.postMessage({ id, fd, position, length });
    });
  }

  private leastBusy(): HashWorker {
    if (this.workers.length < this.size) {
      const w = new HashWorker(this.chunkSize, (gone, error) => this.drop(gone, error));
      this.workers.push(w);
      return w;
    }
    return this.workers.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
  }

  private drop(w: HashWorker, error: Error): void {
    const at = this.workers.indexOf(w);
    if (at >= 0) this.workers.splice(at, 1);
    w.failAll(error);
  }

  private stopWhenIdle(): void {
    if (this.idleTimer !== undefined || this.workers.some((w) => w.jobs.size > 0)) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.workers.some((w) => w.jobs.size > 0)) return;
      for (const w of this.workers.splice(0)) void w.worker.terminate();
    }, IDLE_STOP_MS).unref();
  }
}
