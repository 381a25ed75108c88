/**
 * Requests for the first chunk of a file (all of a file of one chunk) made in the same turn of
 * the event loop leave as one request for up to FIRST_CHUNKS_PER_REQUEST files. A folder of small
 * files then costs a stream, a request, an acknowledgement and their bookkeeping on both sides per
 * batch instead of per file (bench W2: 10,000 files of 1–64 KiB).
 */

/** Paths per request, and the bytes of their names: the request stays far below MAX_REQUEST_BYTES. */
export const FIRST_CHUNKS_PER_REQUEST = 32;
export const FIRST_CHUNKS_PATH_BYTES = 32 * 1024;

export type OnChunk = (index: number, data: Uint8Array) => Promise<void>;

/** What one file of a batch came back as: its chunk, or the server's error for that file alone. */
export type FirstChunkAnswer = { data: Uint8Array } | { error: Error };

/**
 * Sends one batch and hands each file's answer to `deliver`, in the order asked, awaiting each
 * delivery before reading the next. A failure of the whole answer (a stuck stream, a lost
 * connection, a protocol error, fewer or more answers than files) rejects.
 */
export type SendFirstChunks = (paths: string[], deliver: (answer: FirstChunkAnswer) => Promise<void>) => Promise<void>;

interface Waiting {
  path: string;
  onChunk: OnChunk;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class FirstChunkBatcher {
  private queue: Waiting[] = [];
  private scheduled = false;

  /**
   * `alone` fetches one file's first chunk on a request of its own, with the usual retries: what
   * a batch that failed as a whole left unanswered is asked for that way. `transient` says
   * whether such a failure leaves what was already taken good (a stuck stream, a lost
   * connection), rather than putting the whole answer in doubt (a protocol error).
   */
  constructor(
    private readonly send: SendFirstChunks,
    private readonly alone: (path: string, onChunk: OnChunk) => Promise<void>,
    private readonly transient: (err: unknown) => boolean,
  ) {}

  /** Resolves once `onChunk` has taken the file's first chunk and its batch ended well; rejects with that file's error. */
  fetch(path: string, onChunk: OnChunk): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ path, onChunk, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    let at = 0;
    while (at < queue.length) {
      let end = at;
      let bytes = 0;
      while (end < queue.length && end - at < FIRST_CHUNKS_PER_REQUEST) {
        const size = Buffer.byteLength(queue[end]!.path);
        if (end > at && bytes + size > FIRST_CHUNKS_PATH_BYTES) break;
        bytes += size;
        end++;
      }
      void this.run(queue.slice(at, end));
      at = end;
    }
  };

  private async run(batch: Waiting[]): Promise<void> {
    // Each file's own outcome, settled only once the whole answer is known to be sound.
    const outcomes: Array<unknown> = [];
    let failure: { err: unknown } | undefined;
    try {
      await this.send(
        batch.map((w) => w.path),
        async (answer) => {
          const w = batch[outcomes.length]!;
          if ('error' in answer) {
            outcomes.push(answer.error);
            return;
          }
          try {
            await w.onChunk(0, answer.data);
            outcomes.push(undefined);
          } catch (err) {
            outcomes.push(err);
          }
        },
      );
    } catch (err) {
      failure = { err };
    }
    batch.forEach((w, i) => {
      if (i >= outcomes.length) {
        // Not answered before the batch failed: asked for on its own, which retries or reports
        // that file's error as a single request always has.
        this.alone(w.path, w.onChunk).then(w.resolve, w.reject);
      } else if (outcomes[i] !== undefined) {
        w.reject(outcomes[i]);
      } else if (failure === undefined || this.transient(failure.err)) {
        w.resolve();
      } else {
        w.reject(failure.err);
      }
    });
  }
}
