/**
 * One bidirectional QUIC stream over a quiche connection. All quiche calls
 * happen either synchronously in a user call (reads, the write fast path) or
 * from the connection's once-per-turn flush; the stream never drives the
 * socket itself.
 *
 * Received bytes stay in quiche until the reader asks, and are then copied
 * once, into the reader's own memory: holding them in buffers of our own
 * meant a buffer per piece received, and a W1 pull's client spent ~0.5 s in
 * the ~90 full garbage collections that a GiB of such buffers set off.
 */
import { quiche } from '@matrixai/quic/native/index.js';
import type { Connection } from '@matrixai/quic/native/types.js';
import { QuicConnectionClosedError, QuicStreamResetError, QuicStreamStateError, STREAM_STUCK_CODE } from './errors.js';
import type { QuicStream } from './types.js';

/** What a stream needs from its connection. */
export interface StreamHost {
  readonly conn: Connection;
  /** Shared scratch buffer for streamRecv; contents are copied out before the next call. */
  readonly readScratch: Buffer;
  scheduleFlush(): void;
  /**
   * Pending packets must leave before the next received datagram is processed. They may wait
   * until then, so the FINs of many streams ended in one turn share packets and one send.
   */
  sendBeforeReceiving(): void;
  /** Why the connection can no longer carry data, or undefined while it can. */
  deadReason(): Error | undefined;
  /** Ask the next flush to retry this stream's pending writes. */
  wantsWrite(stream: QuicStreamImpl): void;
  /**
   * Both directions finished; the connection may forget the stream. `delivered`: we sent all
   * our data and a FIN (not a reset), so quiche still owes the peer their delivery.
   */
  streamFinished(stream: QuicStreamImpl, delivered: boolean): void;
  /** Watch this stream for an answer that never comes (see QuicStream.expectPromptAnswer). */
  awaitAnswer(stream: QuicStreamImpl): void;
}

const EMPTY = new Uint8Array(0);
const RESOLVED = Promise.resolve();

interface PendingWrite {
  data: Uint8Array;
  offset: number;
  fin: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class QuicStreamImpl implements QuicStream {
  readonly id: number;
  private readonly host: StreamHost;

  // Receive side.
  private recvFin = false;
  private recvError: Error | undefined;
  private readWaiter: (() => void) | undefined;
  private iterating = false;
  /** Anything at all came back: a byte, the FIN, a reset. */
  private heard = false;
  /** expectSteadyAnswer was called: stalls are watched (see checkStalled). */
  private steady = false;
  private received = 0;
  private receivedAtCheck = 0;
  /** Since when a reader has waited on this steady answer with nothing arriving. */
  private stalledSince = 0;

  // Send side.
  private readonly writes: PendingWrite[] = [];
  private writeHead = 0;
  private sendClosed = false; // end() or reset() called
  private sendDone = false; // FIN accepted by quiche, or reset
  /**
   * quiche had no room for our last write. Each further streamSend while the peer's window stays
   * full made quiche send a small ack-eliciting packet (a STREAM_DATA_BLOCKED frame, by its design;
   * the packets were not decoded), whose acknowledgement ran a flush, which wrote again: a blocked
   * writer kept both ends exchanging over 10,000 datagrams a second on loopback. While this is
   * set, a write is tried only once quiche reports room.
   */
  private sendBlocked = false;
  private sendError: Error | undefined;
  /** The last byte of the latest write, sent with the next write or with the FIN (see write()). */
  private heldByte: Uint8Array | undefined;

  private forgotten = false;

  constructor(host: StreamHost, id: number) {
    this.host = host;
    this.id = id;
  }

  // ---- driven by the connection's flush ----

  /**
   * quiche has something for this stream: bytes, its end, or a reset. It stays there until the
   * reader takes it (read() or the iterator), straight into the reader's memory; meanwhile the
   * stream's flow-control window holds the peer back, so a slow reader costs bounded memory.
   */
  arrived(): void {
    this.heard = true;
    this.wakeReader();
  }

  /** Whether the peer has answered at all; the connection stops watching once it has. */
  get answered(): boolean {
    return this.heard;
  }

  /**
   * Our request never reached the peer (QuicStream.expectPromptAnswer): both directions are shut
   * with the stuck code, so the peer drops whatever part of it arrived, and the reader is told
   * to ask again.
   */
  abandonUnanswered(): void {
    if (this.heard) return;
    this.abandon(`no answer on stream ${this.id}: the request is presumed stuck in this side's QUIC stack`);
  }

  /**
   * One stuck check: true once a reader has waited on this steady answer for `limitMs` with
   * nothing arriving. `excused`: something else may explain the wait (see QuicConnectionImpl).
   */
  checkStalled(now: number, limitMs: number, excused: boolean): boolean {
    const waiting = this.steady && this.readWaiter !== undefined && !this.recvFin && !this.recvError;
    if (!waiting || excused || this.received !== this.receivedAtCheck) {
      this.receivedAtCheck = this.received;
      this.stalledSince = now;
      return false;
    }
    return now - this.stalledSince >= limitMs;
  }

  /** The answer stopped coming (checkStalled): dropped like an unanswered request, to be asked again. */
  abandonStalled(): void {
    this.abandon(`the answer on stream ${this.id} stopped arriving while the connection was alive`);
  }

  /** Shuts both directions with the stuck code, so the peer drops the rest, and tells the reader to ask again. */
  private abandon(why: string): void {
    const conn = this.host.conn;
    for (const direction of [quiche.Shutdown.Read, quiche.Shutdown.Write]) {
      try {
        conn.streamShutdown(this.id, direction, STREAM_STUCK_CODE);
      } catch {
        // Already complete in that direction, or unknown to quiche: nothing to shut.
      }
    }
    this.failRecv(new QuicStreamResetError(this.id, STREAM_STUCK_CODE, why));
    this.host.scheduleFlush();
  }

  /** Retry pending writes; returns true while some remain blocked on flow control. */
  fill(): boolean {
    const conn = this.host.conn;
    while (this.writeHead < this.writes.length) {
      const w = this.writes[this.writeHead] as PendingWrite;
      const rest = w.offset === 0 ? w.data : w.data.subarray(w.offset);
      let n: number | null;
      try {
        if (this.sendBlocked && rest.length > 0 && conn.streamCapacity(this.id) === 0) return true;
        n = conn.streamSend(this.id, rest, w.fin);
      } catch (e) {
        this.failSend(this.errorFrom(e, 'write'));
        return false;
      }
      this.sendBlocked = n === null || n < rest.length;
      if (n === null) return true; // no capacity yet
      w.offset += n;
      // A FIN with no bytes is accepted whole or not at all (quiche returns 0 either way),
      // so trust stream state for the empty case.
      if (w.offset < w.data.length) return true;
      this.writes[this.writeHead++] = undefined as unknown as PendingWrite;
      if (w.fin) this.sendDone = true;
      w.resolve();
    }
    this.writes.length = 0;
    this.writeHead = 0;
    this.maybeForget();
    return false;
  }

  /**
   * quiche never reports a peer's reset of a stream whose FIN already arrived but whose data has
   * a gap (its notice, an empty buffer at the final size, is dropped once that size is known; the
   * stream is not "readable", so streamRecv answers Done): the reader would wait forever. Checked
   * on the connection's stuck check (every second). The reset's code is not visible then; only the
   * stuck-stream check resets a stream after its FIN (reset() never does), hence that code.
   */
  noticeHiddenReset(): void {
    if (this.recvFin || this.recvError) return;
    const conn = this.host.conn;
    if (conn.streamFinished(this.id) && !conn.streamReadable(this.id)) {
      this.failRecv(new QuicStreamResetError(this.id, STREAM_STUCK_CODE, `peer reset stream ${this.id} before all of its data arrived`));
    }
  }

  /** Data has arrived that nobody has read yet. */
  hasUnread(): boolean {
    if (this.recvFin || this.recvError) return false;
    try {
      return this.host.conn.streamReadable(this.id);
    } catch {
      return false;
    }
  }

  /** The connection died: fail everything still pending. */
  connectionClosed(reason: Error): void {
    if (!this.recvFin && !this.recvError) this.failRecv(reason);
    if (!this.sendDone) this.failSend(reason);
  }

  // ---- QuicStream ----

  expectPromptAnswer(): void {
    if (!this.heard) this.host.awaitAnswer(this);
  }

  expectSteadyAnswer(): void {
    this.steady = true;
    this.stalledSince = Date.now();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.sendClosed) return Promise.reject(new QuicStreamStateError(`write on stream ${this.id} after end() or reset()`));
    if (data.length === 0) return RESOLVED;
    // quiche 0.18 collects a stream whose every byte is acked once the peer's FIN was read, so a
    // bare FIN sent later is silently dropped. Holding back the last byte of each write means the
    // FIN always travels with data that cannot have been acked yet.
    const earlier = this.heldByte === undefined ? undefined : this.enqueue(this.heldByte, false);
    earlier?.catch(() => {}); // the same failure rejects the write below, which the caller awaits
    this.heldByte = Uint8Array.of(data[data.length - 1]!);
    const rest = data.length > 1 ? this.enqueue(data.subarray(0, data.length - 1), false) : undefined;
    return rest ?? earlier ?? RESOLVED;
  }

  end(): Promise<void> {
    if (this.sendClosed) return this.sendDone && !this.sendError ? RESOLVED : Promise.reject(this.sendError ?? new QuicStreamStateError(`stream ${this.id} already ended`));
    this.sendClosed = true;
    const last = this.heldByte ?? EMPTY;
    this.heldByte = undefined;
    return this.enqueue(last, true);
  }

  reset(code = 0): void {
    const conn = this.host.conn;
    if (!this.sendDone && !this.host.deadReason()) {
      try {
        conn.streamShutdown(this.id, quiche.Shutdown.Write, code);
      } catch {
        // Already finished or unknown to quiche: nothing left to abort.
      }
    }
    if (!this.recvFin && !this.recvError && !this.host.deadReason()) {
      try {
        conn.streamShutdown(this.id, quiche.Shutdown.Read, code);
      } catch {
        // Same as above.
      }
    }
    this.sendClosed = true;
    const err = new QuicStreamStateError(`stream ${this.id} was reset locally (code ${code})`);
    if (!this.sendDone) this.failSend(err);
    if (!this.recvFin && !this.recvError) this.failRecv(err);
    this.host.scheduleFlush();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterating) throw new QuicStreamStateError(`stream ${this.id} is already being read`);
    this.iterating = true;
    return {
      next: () => this.next(),
      return: () => {
        // The consumer stopped early: tell the peer to stop sending rather than buffer it.
        if (!this.recvFin && !this.recvError) {
          try {
            this.host.conn.streamShutdown(this.id, quiche.Shutdown.Read, 0);
          } catch {
            // Stream already gone in quiche.
          }
          this.recvError = new QuicStreamStateError(`stream ${this.id} reading was abandoned`);
          this.host.scheduleFlush();
          this.maybeForget();
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // ---- internals ----

  async read(into: Uint8Array): Promise<number> {
    if (into.length === 0) throw new RangeError('read() needs room for at least one byte');
    for (;;) {
      const n = this.readNow(into);
      if (n !== undefined) return n;
      await this.nextArrival();
    }
  }

  private async next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      // The scratch buffer is shared by every stream: copied out before anything else can run.
      const scratch = this.host.readScratch;
      const n = this.readNow(scratch);
      if (n === 0) return { value: undefined, done: true };
      if (n !== undefined) return { value: Buffer.from(scratch.subarray(0, n)), done: false };
      await this.nextArrival();
    }
  }

  /** Reads what quiche holds for this stream into `into`: the count, 0 at the end, undefined if nothing is there yet. */
  private readNow(into: Uint8Array): number | undefined {
    if (this.recvError) throw this.recvError;
    if (this.recvFin) return 0;
    let r: [number, boolean] | null;
    try {
      r = this.host.conn.streamRecv(this.id, into);
    } catch (e) {
      this.failRecv(this.errorFrom(e, 'read'));
      throw this.recvError;
    }
    if (r === null) return undefined;
    const [n, fin] = r;
    this.heard = true;
    this.received += n;
    // What was read frees flow-control credit; the next flush tells the peer.
    if (n > 0) this.host.scheduleFlush();
    if (fin) {
      this.recvFin = true;
      this.maybeForget();
    }
    return n > 0 || fin ? n : undefined;
  }

  private nextArrival(): Promise<void> {
    return new Promise<void>((resolve) => (this.readWaiter = resolve));
  }

  private enqueue(data: Uint8Array, fin: boolean): Promise<void> {
    const dead = this.sendError ?? this.host.deadReason();
    if (dead) return Promise.reject(dead);
    if (data.length === 0 && !fin) return RESOLVED;
    // Fast path: nothing queued ahead of us, hand the bytes to quiche now.
    if (this.writeHead === this.writes.length) {
      let n: number | null;
      try {
        n = this.host.conn.streamSend(this.id, data, fin);
      } catch (e) {
        const err = this.errorFrom(e, 'write');
        this.failSend(err);
        return Promise.reject(err);
      }
      this.sendBlocked = n === null || n < data.length;
      if (fin && n === data.length) {
        // quiche 0.18 forgets a stream once every byte up to the final size is
        // acked and the peer's FIN was read, even if our FIN frame was never
        // emitted. An ACK processed between this call and the next send can
        // do exactly that to a bare FIN, so emit it before receiving again.
        this.host.sendBeforeReceiving();
      }
      this.host.scheduleFlush();
      if (n !== null && n === data.length) {
        if (fin) {
          this.sendDone = true;
          this.maybeForget();
        }
        return RESOLVED;
      }
      return new Promise((resolve, reject) => {
        this.writes.push({ data, offset: n ?? 0, fin, resolve, reject });
        this.host.wantsWrite(this);
      });
    }
    return new Promise((resolve, reject) => {
      this.writes.push({ data, offset: 0, fin, resolve, reject });
      this.host.wantsWrite(this);
    });
  }

  private failRecv(err: Error): void {
    this.recvError = err;
    this.heard = true;
    this.wakeReader();
    this.maybeForget();
  }

  private failSend(err: Error): void {
    this.sendError = err;
    this.sendDone = true;
    this.sendClosed = true;
    for (let i = this.writeHead; i < this.writes.length; i++) (this.writes[i] as PendingWrite).reject(err);
    this.writes.length = 0;
    this.writeHead = 0;
    this.maybeForget();
  }

  private wakeReader(): void {
    const w = this.readWaiter;
    if (w) {
      this.readWaiter = undefined;
      w();
    }
  }

  private maybeForget(): void {
    if (this.forgotten || !this.sendDone || !(this.recvFin || this.recvError)) return;
    this.forgotten = true;
    this.host.streamFinished(this, this.sendError === undefined);
  }

  /** quiche reports stream errors as Error messages like "StreamReset(7)". */
  private errorFrom(e: unknown, op: 'read' | 'write'): Error {
    const dead = this.host.deadReason();
    if (dead) return dead;
    const msg = e instanceof Error ? e.message : String(e);
    const m = /^Stream(Reset|Stopped)\((\d+)\)$/.exec(msg);
    if (m) {
      const code = Number(m[2]);
      const what = m[1] === 'Reset' ? 'reset' : 'stopped reading';
      return new QuicStreamResetError(this.id, code, `peer ${what} stream ${this.id} (code ${code}) during ${op}`);
    }
    return new QuicConnectionClosedError(`stream ${this.id} ${op} failed: ${msg}`, { cause: e });
  }
}
