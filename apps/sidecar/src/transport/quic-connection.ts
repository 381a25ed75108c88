/**
 * Drives one quiche connection: feeds received datagrams in, and once per
 * event-loop turn moves stream data and flushes every pending datagram out.
 * The hot path (receive + flush) allocates no promises or errors per datagram.
 */
import { quiche } from '@matrixai/quic/native/index.js';
import type { Connection, ConnectionError, RecvInfo } from '@matrixai/quic/native/types.js';
import { QuicConnectionClosedError, QuicStreamStateError, STREAM_STUCK_CODE } from './errors.js';
import { AsyncQueue } from './quic-async-queue.js';
import { KEEPALIVE_MS } from './quic-config.js';
import { formatHostPort } from './address.js';
import { QuicStreamImpl, type StreamHost } from './quic-stream.js';
import type { HostPort, QuicConnection, QuicConnectionStats, QuicStream } from './types.js';
import type { Unreachable } from './udp-endpoint.js';

/**
 * Where a connection's datagrams go: `count` of them, the i-th `lengths[i]` bytes at
 * `buf[i * slotSize]`, all to `to` (the address quiche chose for them). `done` fires once `buf`
 * is no longer referenced.
 */
export interface DatagramSink {
  sendBatch(buf: Buffer, slotSize: number, lengths: Uint32Array, count: number, to: HostPort, done: () => void): void;
}

/** Hooks the owner (server or client) uses to follow the connection's life. */
export interface ConnectionOwner {
  onEstablished(conn: QuicConnectionImpl): void;
  onFinished(conn: QuicConnectionImpl, error: Error | undefined): void;
}

/** QUIC's transport error code for "internal error" (RFC 9000 §20.1), sent when a connection's own code fails. */
const INTERNAL_ERROR = 0x1;
/** How long close() waits for quiche to finish closing before resolving anyway. */
const CLOSE_WAIT_MS = 1000;
/** After this the connection is torn down even if quiche never reports closed. */
const CLOSE_HARD_DEADLINE_MS = 5000;
/** Datagrams per send batch buffer. */
const BATCH_SLOTS = 64;
/**
 * A flush's first batch leaves at this many datagrams, and each next one at twice as many, up to
 * BATCH_SLOTS. Under loss CUBIC's window is a few dozen datagrams, sent in flushes of 8–64, and
 * holding a whole flight until its last datagram is built (~10 µs each) lengthened every round
 * trip; a bulk flush of thousands costs only a few more system calls.
 */
const FIRST_BATCH = 8;
const READ_SCRATCH_BYTES = 256 * 1024;
/** Datagrams one flush may hand to the socket before yielding to the event loop (timers, other connections). */
const MAX_DATAGRAMS_PER_FLUSH = 4096;
/**
 * A closing connection sends its CONNECTION_CLOSE, coalesced with an ACK at most: a datagram or
 * two. quiche (0.18) was seen returning a 76-byte CONNECTION_CLOSE on every send() call, forever,
 * for a client that closed right after connecting (about one close in ten so, on a loaded
 * machine; what triggers it is not known: losing the server's HANDSHAKE_DONE did not), and its
 * timers never ended that connection: it went on sending the cap of a flush at every timer for
 * 5 s (over 60,000 datagrams seen) until CLOSE_HARD_DEADLINE_MS tore it down as unclean. More than this
 * many in one flush of a closing connection is that state; the close has left several times over,
 * so the connection ends there, as the clean close it was asked to be.
 */
const MAX_CLOSING_DATAGRAMS_PER_FLUSH = 4;
/**
 * quiche (0.18, in @matrixai/quic) can lose track of a stream's data after heavy loss: the
 * stream stays in its map with bytes never acknowledged, nothing is in flight, no loss timer is
 * armed, and the data is never sent again. The reader then waits forever on a live connection
 * (seen about one run in three after a 10 s blackout with 5% loss). A stream we finished writing
 * that quiche still holds is stuck when the only timer left is the idle one (a loss or probe
 * timer would be far shorter) for this many checks in a row, STUCK_CHECK_MS apart. The first
 * such check sends a PING, whose acknowledgement makes quiche look for lost packets again;
 * the last resets the stream with STREAM_STUCK_CODE, which tells the reader to ask again on a
 * new stream. After a blackout one connection was seen stranding several answers in a row, so
 * the check is frequent: each stranded answer costs 2-3 s, not 5-10.
 */
const STUCK_CHECKS = 3;
const STUCK_CHECK_MS = 1000;
const LOSS_TIMER_BOUND_MS = 10_000;
/**
 * Writes that wait for room while quiche arms no loss timer (see checkStuck) are probed with a
 * PING this long after a flush leaves them so, or two round trips if that is longer: with the
 * once-a-second check alone, one such stall traced under 2% loss cost ~2.3 s. A connection that sent
 * nothing but probes since the last one doubles the wait, up to STUCK_CHECK_MS, so a sender held
 * back by the peer's flow-control window for long (a rate-limited reader) pings rarely.
 */
const BLOCKED_PROBE_MS = 25;
/** Bytes sent since the last probe that show data moved in between (a PING packet is ~40). */
const PROBE_ONLY_BYTES = 1000;
/**
 * The acknowledgement of a flight's last packets can be lost like any datagram, and then nothing
 * sends another: the sender's window is full of what it covered, so the sender waits out its probe
 * timeout (a round trip, four deviations and the peer's 25 ms ACK-delay allowance; doubled when
 * the probe's own acknowledgement is lost too). Traced under the bench's 2% loss, with a window of
 * ~30 datagrams and one ACK per received batch, that cost 40-150 ms every 0.05-0.6 s. A connection
 * with streams open that heard a flight and then nothing for this long, or two round trips if that
 * is longer, sends a PING, which carries a fresh ACK of all it has.
 */
const TAIL_ACK_MS = 5;
/**
 * A flight is this many datagrams of data (TAIL_ACK_DATA_BYTES or more) since the last tail PING.
 * Acknowledgements and PINGs (under 100 bytes) never count, or two peers waiting on each other
 * would keep answering each other's PINGs.
 */
const TAIL_ACK_MIN_HEARD = 3;
const TAIL_ACK_DATA_BYTES = 1000;
/**
 * How long a reader may wait on a steady answer that stopped (see QuicStream.expectSteadyAnswer),
 * counting only time with the peer heard from. Giving up costs one more request for the chunks
 * still missing, so the wait is short.
 */
export const STALLED_ANSWER_MS = 5_000;
/**
 * The peer counts as alive if heard from this recently: with streams open a quiet second sends a
 * PING (onStuckCheck), so a live peer is heard at least every two seconds or so.
 */
const PEER_ALIVE_MS = 3_000;
/** Keep-alive checks in a row, with the peer heard from, before an unanswered request is given up on. */
const UNANSWERED_CHECKS = 2;
/**
 * ICMP "port unreachable" reports (a client's connected socket hears them) that end a connection:
 * at least this many, over at least UNREACHABLE_SPAN_MS, with nothing heard from the peer since
 * the first. A report alone is a hint (forged, or stale); a run of them while the peer stays
 * silent means nothing listens there any more: a server killed or restarted, which would otherwise
 * be noticed only at the idle timeout. Each of our retransmissions or PINGs draws one. "Host
 * unreachable" is left to the idle timeout: a route that flaps for a few seconds comes back.
 */
const UNREACHABLE_REPORTS = 3;
const UNREACHABLE_SPAN_MS = 100;

/**
 * A buffer carved into datagram-sized slots, handed to the socket whole; it goes back to the
 * pool once the socket no longer needs it.
 */
class SendBatch {
  readonly buf: Buffer;
  readonly slots: Buffer[];
  readonly lengths = new Uint32Array(BATCH_SLOTS);
  used = 0;
  readonly release: () => void;
  constructor(slotSize: number, pool: SendBatch[]) {
    this.buf = Buffer.allocUnsafe(slotSize * BATCH_SLOTS);
    this.slots = [];
    for (let i = 0; i < BATCH_SLOTS; i++) this.slots.push(this.buf.subarray(i * slotSize, (i + 1) * slotSize));
    this.release = () => {
      this.used = 0;
      pool.push(this);
    };
  }
}

export class QuicConnectionImpl implements QuicConnection, StreamHost {
  readonly conn: Connection;
  readonly readScratch = Buffer.allocUnsafe(READ_SCRATCH_BYTES);
  readonly closed: Promise<{ error?: Error }>;
  /** Our source connection ID (server routing key). */
  readonly scid: Buffer;

  private readonly sink: DatagramSink;
  private readonly owner: ConnectionOwner;
  private readonly isServer: boolean;
  private readonly slotSize: number;
  private recvInfo: RecvInfo;
  private readonly local: HostPort;
  /**
   * Where the datagrams being batched go. quiche names a destination for each: the peer's address
   * as it last saw it, which changes when a NAT on the way gives the client a new port (checking
   * that the new address is real is quiche's, RFC 9000 §9).
   */
  private sendTo: HostPort;

  /** The peer's address: where we send, so after a NAT moved a client the server names its new port. */
  get remote(): HostPort {
    return this.sendTo;
  }

  private readonly streams = new Map<number, QuicStreamImpl>();
  private readonly writers = new Set<QuicStreamImpl>();
  private readonly incoming = new AsyncQueue<QuicStream>();
  private readonly openWaiters: Array<{ resolve: (s: QuicStream) => void; reject: (e: Error) => void }> = [];
  private nextLocalStreamId: number;
  /** Peer-initiated stream IDs below this were surfaced or are in skippedPeerStreams (IDs are never reused). */
  private nextPeerStreamId: number;
  private readonly skippedPeerStreams = new Set<number>();
  /** Streams we finished with whose data quiche has not yet seen acknowledged: id → stuck checks so far. */
  private readonly unacked = new Map<number, number>();
  /** Requests we sent whose answer has not begun (see QuicStream.expectPromptAnswer): stream → checks so far. */
  private readonly unanswered = new Map<QuicStreamImpl, number>();

  private readonly batchPool: SendBatch[] = [];
  private flushScheduled = false;
  /** A stream's FIN is in quiche but not yet sent (see StreamHost.sendBeforeReceiving). */
  private mustSendBeforeReceiving = false;
  private timer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private stuckCheck: NodeJS.Timeout | undefined;
  private heardSinceKeepAlive = false;
  private heardSinceStuckCheck = false;
  /** Our close ended the connection while quiche kept repeating it (MAX_CLOSING_DATAGRAMS_PER_FLUSH). */
  private closeRepeating = false;
  private blockedProbe: NodeJS.Timeout | undefined;
  private blockedProbeMs = BLOCKED_PROBE_MS;
  private sentAtBlockedProbe = 0;
  private lastHeardAt = 0;
  private tailAck: NodeJS.Timeout | undefined;
  private dataHeardSinceTailPing = 0;
  /** ICMP unreachable reports since the peer was last heard from, the first at firstUnreachableAt. */
  private unreachableReports = 0;
  private firstUnreachableAt = 0;
  /** Why the connection was given up without quiche closing it (see peerUnreachable). */
  private lost: Error | undefined;
  /** A whole stuck check passed in silence while streams were open (see onStuckCheck). */
  private silent = false;
  private closeDeadline: NodeJS.Timeout | undefined;

  private established = false;
  private finished = false;
  private closing = false;
  private dead: Error | undefined;
  private peerCert: Uint8Array | undefined;
  private finalStats: QuicConnectionStats | undefined;
  private resolveClosed!: (r: { error?: Error }) => void;

  constructor(args: {
    conn: Connection;
    scid: Buffer;
    local: HostPort;
    remote: HostPort;
    sink: DatagramSink;
    owner: ConnectionOwner;
    isServer: boolean;
    maxDatagramSize: number;
  }) {
    this.conn = args.conn;
    this.scid = args.scid;
    this.local = args.local;
    this.sink = args.sink;
    this.owner = args.owner;
    this.isServer = args.isServer;
    this.slotSize = args.maxDatagramSize;
    this.recvInfo = { from: args.remote, to: args.local };
    this.sendTo = args.remote;
    // Bidirectional stream IDs: client-initiated 0,4,8…; server-initiated 1,5,9…
    this.nextLocalStreamId = this.isServer ? 1 : 0;
    this.nextPeerStreamId = this.isServer ? 0 : 1;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  // ---- datagram path (hot) ----

  /** Feed one received datagram; the flush happens later this turn. */
  receive(data: Buffer, fromHost: string, fromPort: number): void {
    if (this.finished) return;
    try {
      this.receiveNow(data, fromHost, fromPort);
    } catch (err) {
      this.crashed(err);
    }
  }

  private receiveNow(data: Buffer, fromHost: string, fromPort: number): void {
    if (this.mustSendBeforeReceiving) this.sendPending();
    const from = this.recvInfo.from;
    if (from.port !== fromPort || from.host !== fromHost) {
      this.recvInfo = { from: { host: fromHost, port: fromPort }, to: this.local };
    }
    try {
      this.conn.recv(data, this.recvInfo);
    } catch {
      // Undecryptable or invalid packets are dropped by quiche; fatal errors
      // leave quiche closing, which the flush notices via isClosed().
    }
    this.heardSinceKeepAlive = true;
    this.heardSinceStuckCheck = true;
    this.lastHeardAt = Date.now();
    if (data.length >= TAIL_ACK_DATA_BYTES) {
      this.dataHeardSinceTailPing++;
      this.tailAck ??= setTimeout(this.onTailAck, TAIL_ACK_MS);
    }
    if (this.silent) {
      this.silent = false;
      this.ping();
    }
    this.scheduleFlush();
  }

  /** An ack-eliciting PING: its acknowledgement makes quiche run loss detection again. */
  private ping(): void {
    if (this.closing) return;
    try {
      this.conn.sendAckEliciting();
    } catch {
      // InvalidState, seen right after the peer's address changed. One PING less is harmless: the
      // next stuck or keep-alive check asks again.
      return;
    }
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.finished) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.guarded(this.flushNow);
  };

  private readonly flushNow = (): void => {
    const conn = this.conn;
    if (!this.established && conn.isEstablished() && !conn.isClosed()) this.establish();
    if (this.established && !this.dead && !conn.isDraining() && !conn.isClosed()) {
      for (const id of conn.readable()) this.streamFor(id)?.arrived();
      if (this.writers.size > 0) {
        for (const s of this.writers) if (!s.fill()) this.writers.delete(s);
      }
      if (this.openWaiters.length > 0) this.admitOpeners();
    }
    const capped = this.sendAll();
    // Draining means the peer closed: nothing may be sent any more, so waiting out the 3×PTO
    // draining period would only delay telling the application.
    if (conn.isClosed() || conn.isDraining()) {
      this.finish();
      return;
    }
    if (capped && this.closing) {
      this.closeRepeating = true;
      this.finish();
      return;
    }
    // More to send: carry on next turn, after timers.
    if (capped) this.scheduleFlush();
    this.armTimer();
  };

  /** Runs one of the connection's timer or event-loop entry points (see crashed). */
  private guarded(work: () => void): void {
    if (this.finished) return;
    try {
      work();
    } catch (err) {
      this.crashed(err);
    }
  }

  /**
   * An exception escaped one of the connection's entry points (a datagram, a flush, a timer): a
   * quiche call failing in a way nobody foresaw, or a bug. It ends this connection, with an
   * internal error the peer is told of, instead of the process and every other connection in it
   * (a `serve` or the dashboard runs many).
   */
  private crashed(err: unknown): void {
    if (this.finished) return;
    const what = err instanceof Error ? err.message : String(err);
    this.lost = new QuicConnectionClosedError(`connection to ${formatHostPort(this.remote)} failed: internal error (${what})`, { cause: err });
    try {
      this.conn.close(false, INTERNAL_ERROR, Buffer.from('internal error'));
      this.sendAll();
    } catch {
      // Telling the peer is a courtesy; its idle timeout ends the connection there otherwise.
    }
    this.finish();
  }

  /** Sends what quiche has, up to MAX_DATAGRAMS_PER_FLUSH; returns true if it stopped at the cap. */
  private sendAll(): boolean {
    this.mustSendBeforeReceiving = false;
    const conn = this.conn;
    let batch = this.takeBatch();
    let batchLimit = FIRST_BATCH;
    let sent = 0;
    let capped = false;
    const limit = this.closing ? MAX_CLOSING_DATAGRAMS_PER_FLUSH : MAX_DATAGRAMS_PER_FLUSH;
    for (;;) {
      if (sent === limit) {
        capped = true;
        break;
      }
      if (batch.used === batchLimit) {
        this.sink.sendBatch(batch.buf, this.slotSize, batch.lengths, batch.used, this.sendTo, batch.release);
        batch = this.takeBatch();
        batchLimit = Math.min(2 * batchLimit, BATCH_SLOTS);
      }
      let r: ReturnType<Connection['send']>;
      try {
        r = conn.send(batch.slots[batch.used] as Buffer);
      } catch {
        r = null; // quiche only fails here on internal errors, after which it is closing
      }
      if (r === null) break;
      const to = r[1].to;
      if (to.port !== this.sendTo.port || to.host !== this.sendTo.host) {
        // A batch has one destination: what is batched so far goes first, then this one starts a batch.
        if (batch.used > 0) {
          const next = this.takeBatch();
          next.buf.set(batch.slots[batch.used]!.subarray(0, r[0]));
          this.sink.sendBatch(batch.buf, this.slotSize, batch.lengths, batch.used, this.sendTo, batch.release);
          batch = next;
        }
        this.sendTo = { host: to.host, port: to.port };
      }
      batch.lengths[batch.used++] = r[0];
      sent++;
    }
    if (batch.used > 0) this.sink.sendBatch(batch.buf, this.slotSize, batch.lengths, batch.used, this.sendTo, batch.release);
    else this.batchPool.push(batch);
    return capped;
  }

  private takeBatch(): SendBatch {
    return this.batchPool.pop() ?? new SendBatch(this.slotSize, this.batchPool);
  }

  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    const t = this.conn.timeout();
    this.timer = t === null ? undefined : setTimeout(this.onTimer, t);
    if (this.blockedProbe === undefined && this.writers.size > 0 && (t === null || t > LOSS_TIMER_BOUND_MS) && !this.closing) {
      const rttMs = this.conn.pathStats()[0]?.rtt ?? 0;
      this.blockedProbe = setTimeout(this.onBlockedProbe, Math.max(this.blockedProbeMs, 2 * rttMs));
    }
  }

  private readonly onBlockedProbe = (): void => {
    this.blockedProbe = undefined;
    this.guarded(this.probeBlocked);
  };

  private readonly probeBlocked = (): void => {
    if (this.writers.size === 0 || !this.idleTimerOnly()) return;
    const sent = this.conn.stats().sentBytes;
    this.blockedProbeMs = sent - this.sentAtBlockedProbe > PROBE_ONLY_BYTES ? BLOCKED_PROBE_MS : Math.min(2 * this.blockedProbeMs, STUCK_CHECK_MS);
    this.sentAtBlockedProbe = sent;
    this.ping();
  };

  private readonly onTailAck = (): void => {
    this.tailAck = undefined;
    this.guarded(this.checkTail);
  };

  /** See TAIL_ACK_MS. Not re-armed here when there is nothing to wait for: the next datagram of data arms it. */
  private readonly checkTail = (): void => {
    if (this.closing || this.streams.size === 0 || this.dataHeardSinceTailPing < TAIL_ACK_MIN_HEARD) return;
    const quiet = Date.now() - this.lastHeardAt;
    // The round trip is asked of quiche (objects built per path) only once TAIL_ACK_MS has passed.
    const wait = quiet < TAIL_ACK_MS ? TAIL_ACK_MS : Math.max(TAIL_ACK_MS, 2 * (this.conn.pathStats()[0]?.rtt ?? 0));
    if (quiet < wait) {
      this.tailAck = setTimeout(this.onTailAck, wait - quiet);
      return;
    }
    this.dataHeardSinceTailPing = 0;
    this.ping();
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.guarded(this.timerFired);
  };

  private readonly timerFired = (): void => {
    this.conn.onTimeout();
    this.flush();
  };

  // ---- lifecycle ----

  private establish(): void {
    this.established = true;
    const chain = this.conn.peerCertChain();
    this.peerCert = chain?.[0] ? new Uint8Array(chain[0]) : undefined;
    this.keepAlive = setInterval(this.onKeepAlive, KEEPALIVE_MS / 2);
    this.stuckCheck = setInterval(this.onStuckCheck, STUCK_CHECK_MS);
    this.owner.onEstablished(this);
  }

  private readonly onStuckCheck = (): void => this.guarded(this.checkStuck);

  private readonly checkStuck = (): void => {
    if (this.unacked.size > 0) this.resetStuckStreams();
    const now = Date.now();
    // A stalled answer's wait counts only while the peer is alive (a silent link is the idle
    // timeout's to judge, and after a blackout retransmissions need a moment) and while no stream
    // holds data nobody has read: a slow reader (a rate limit) can use up the connection's
    // flow-control window and starve one stream legitimately.
    let excused = now - this.lastHeardAt >= PEER_ALIVE_MS;
    for (const s of this.streams.values()) excused ||= s.hasUnread();
    for (const s of this.streams.values()) {
      s.noticeHiddenReset();
      if (s.checkStalled(now, STALLED_ANSWER_MS, excused)) s.abandonStalled();
    }
    // Work is outstanding and the peer went quiet for a second: after a blackout both sides may
    // be waiting on probe timers that doubled through the silence (seen: 5-10 s more after the
    // link was back). A PING each quiet second, and another the moment the peer is heard again,
    // gets an acknowledgement through at once, and with it quiche's loss recovery going again.
    const quiet = !this.heardSinceStuckCheck && this.streams.size > 0;
    // Writes wait for room while quiche arms no loss timer: it counts bytes in flight that it
    // will never declare lost (seen with 2% loss: a sender idle for minutes while the peer's
    // PINGs kept the connection alive). Our own PING, once acknowledged, makes it declare them.
    const blocked = this.writers.size > 0 && this.idleTimerOnly();
    if (quiet || blocked) {
      if (quiet) this.silent = true;
      this.ping();
    }
    this.heardSinceStuckCheck = false;
  };

  private readonly onKeepAlive = (): void => this.guarded(this.checkAlive);

  private readonly checkAlive = (): void => {
    if (this.unanswered.size > 0) this.abandonStrandedRequests();
    // Only ping after a silent interval, so busy connections pay nothing.
    if (!this.heardSinceKeepAlive) this.ping();
    this.heardSinceKeepAlive = false;
  };

  /** Only the idle timer is armed: quiche believes nothing of ours is in flight or lost. */
  private idleTimerOnly(): boolean {
    const timer = this.conn.timeout();
    return timer === null || timer > LOSS_TIMER_BOUND_MS;
  }

  /**
   * A request stranded in our own quiche never reaches the peer, whose prompt acknowledgement
   * then never comes. A check counts only if the peer was heard from since the last one (a
   * blackout is not a stranded request), and only while quiche has nothing in flight (a
   * retransmission may still deliver it).
   */
  private abandonStrandedRequests(): void {
    const idleOnly = this.idleTimerOnly();
    for (const [stream, checks] of this.unanswered) {
      if (stream.answered) {
        this.unanswered.delete(stream);
      } else if (!idleOnly) {
        this.unanswered.set(stream, 0);
      } else if (!this.heardSinceKeepAlive) {
        continue;
      } else if (checks + 1 < UNANSWERED_CHECKS) {
        this.unanswered.set(stream, checks + 1);
      } else {
        this.unanswered.delete(stream);
        stream.abandonUnanswered();
      }
    }
  }

  private resetStuckStreams(): void {
    const idleOnly = this.idleTimerOnly();
    let firstSign = false;
    for (const [id, checks] of this.unacked) {
      try {
        this.conn.streamCapacity(id);
      } catch {
        this.unacked.delete(id); // collected: everything was acknowledged
        continue;
      }
      if (!idleOnly) {
        this.unacked.set(id, 0);
      } else if (checks + 1 < STUCK_CHECKS) {
        if (checks === 0) firstSign = true;
        this.unacked.set(id, checks + 1);
      } else {
        this.unacked.delete(id);
        try {
          this.conn.streamShutdown(id, quiche.Shutdown.Write, STREAM_STUCK_CODE);
        } catch {
          // Gone meanwhile.
        }
        this.scheduleFlush();
      }
    }
    if (firstSign) this.ping();
  }

  /** Close without waiting; used by owners for handshake timeouts and shutdown. */
  startClose(isApp: boolean, code: number, reason: string): void {
    if (this.finished) return;
    if (!this.closing) {
      this.closing = true;
      this.dead ??= new QuicConnectionClosedError(`connection to ${formatHostPort(this.remote)} was closed locally`);
      try {
        this.conn.close(isApp, code, Buffer.from(reason));
      } catch {
        // "Done": quiche is already closing.
      }
      this.closeDeadline = setTimeout(() => this.finish(), CLOSE_HARD_DEADLINE_MS);
      this.closeDeadline.unref();
      this.failStreams(this.dead);
    }
    this.scheduleFlush();
  }

  /** Tear down immediately without telling the peer (nothing was ever established). */
  abandon(): void {
    this.finish();
  }

  /**
   * The network said the peer cannot be reached (see UNREACHABLE_REPORTS): ends the connection
   * with an error once the reports add up, without a CONNECTION_CLOSE nobody would read.
   */
  peerUnreachable(what: Unreachable): void {
    if (this.finished || what !== 'port') return;
    const now = Date.now();
    if (this.unreachableReports === 0 || this.lastHeardAt >= this.firstUnreachableAt) {
      this.unreachableReports = 1;
      this.firstUnreachableAt = now;
      return;
    }
    if (++this.unreachableReports < UNREACHABLE_REPORTS || now - this.firstUnreachableAt < UNREACHABLE_SPAN_MS) return;
    this.lost = new QuicConnectionClosedError(`connection to ${formatHostPort(this.remote)} lost: its host answers "port unreachable" (the server stopped or restarted)`);
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    if (this.stuckCheck) clearInterval(this.stuckCheck);
    if (this.blockedProbe) clearTimeout(this.blockedProbe);
    if (this.tailAck) clearTimeout(this.tailAck);
    if (this.closeDeadline) clearTimeout(this.closeDeadline);
    this.timer = this.keepAlive = this.stuckCheck = this.blockedProbe = this.tailAck = this.closeDeadline = undefined;
    this.finalStats = this.readStats();
    const error = this.closeError();
    this.dead ??= error ?? new QuicConnectionClosedError(`connection to ${formatHostPort(this.remote)} closed`);
    this.failStreams(this.dead);
    this.incoming.end();
    this.owner.onFinished(this, error);
    this.resolveClosed(error ? { error } : {});
  }

  private failStreams(reason: Error): void {
    for (const s of this.streams.values()) s.connectionClosed(reason);
    this.streams.clear();
    this.unanswered.clear();
    this.writers.clear();
    for (const w of this.openWaiters.splice(0)) w.reject(reason);
  }

  /** Describe why quiche closed, or undefined for a clean close (code 0) from either side. */
  private closeError(): Error | undefined {
    if (this.lost) return this.lost;
    const where = formatHostPort(this.remote);
    if (this.conn.isTimedOut()) {
      return new QuicConnectionClosedError(`connection to ${where} timed out (no packets for the idle timeout)`);
    }
    const peer = this.conn.peerError();
    // An application close sent while Handshake keys are still around is also
    // sent as a transport APPLICATION_ERROR (12) with the code hidden (RFC 9000
    // §10.2.3); quiche may process that copy first. Treat it as a clean close.
    const hiddenAppClose = peer !== null && !peer.isApp && peer.errorCode === quiche.ConnectionErrorCode.ApplicationError;
    if (peer && peer.errorCode !== 0 && !hiddenAppClose) return new QuicConnectionClosedError(`peer ${where} closed the connection: ${describe(peer)}`);
    const local = this.conn.localError();
    if (local && !(local.errorCode === 0)) return new QuicConnectionClosedError(`connection to ${where} failed: ${describe(local)}`);
    if (!this.conn.isClosed() && !this.conn.isDraining() && !this.closeRepeating) {
      return new QuicConnectionClosedError(`connection to ${where} was torn down before closing cleanly`);
    }
    // Closed with no CONNECTION_CLOSE either way and no timeout: quiche matched a stateless reset.
    if (peer === null && local === null && this.conn.isClosed()) {
      return new QuicConnectionClosedError(`connection to ${where} was reset: the server no longer has it (it restarted, or closed it and its close was lost)`);
    }
    return undefined;
  }

  // ---- streams ----

  private streamFor(id: number): QuicStreamImpl | undefined {
    const s = this.streams.get(id);
    if (s) return s;
    // Only peer-initiated bidirectional streams can appear unannounced.
    const peerBit = this.isServer ? 0 : 1;
    if ((id & 3) !== peerBit) return undefined;
    if (id < this.nextPeerStreamId) {
      // Either a stream we already finished with (ignore) or one whose data
      // arrived after a later stream's (quiche opened it implicitly).
      if (!this.skippedPeerStreams.delete(id)) return undefined;
    } else {
      for (let skipped = this.nextPeerStreamId; skipped < id; skipped += 4) this.skippedPeerStreams.add(skipped);
      this.nextPeerStreamId = id + 4;
    }
    const stream = new QuicStreamImpl(this, id);
    this.streams.set(id, stream);
    this.incoming.push(stream);
    return stream;
  }

  openStream(): Promise<QuicStream> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.openWaiters.length === 0 && this.conn.peerStreamsLeftBidi() > 0) return Promise.resolve(this.createLocalStream());
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  private admitOpeners(): void {
    while (this.openWaiters.length > 0 && this.conn.peerStreamsLeftBidi() > 0) {
      const w = this.openWaiters.shift();
      w?.resolve(this.createLocalStream());
    }
  }

  private createLocalStream(): QuicStreamImpl {
    const id = this.nextLocalStreamId;
    this.nextLocalStreamId += 4;
    const stream = new QuicStreamImpl(this, id);
    // A zero-length send makes quiche create the stream now, so it counts
    // against the peer's limit before the caller's first write.
    try {
      this.conn.streamSend(id, new Uint8Array(0), false);
    } catch (e) {
      throw new QuicStreamStateError(`could not open stream ${id}: ${(e as Error).message}`, { cause: e });
    }
    this.streams.set(id, stream);
    return stream;
  }

  incomingStreams(): AsyncIterable<QuicStream> {
    return this.incoming;
  }

  deadReason(): Error | undefined {
    return this.dead;
  }

  sendBeforeReceiving(): void {
    this.mustSendBeforeReceiving = true;
    this.scheduleFlush();
  }

  private sendPending(): void {
    if (this.sendAll() && !this.closing) this.scheduleFlush();
    this.armTimer();
  }

  wantsWrite(stream: QuicStreamImpl): void {
    this.writers.add(stream);
    this.scheduleFlush();
  }

  awaitAnswer(stream: QuicStreamImpl): void {
    this.unanswered.set(stream, 0);
  }

  streamFinished(stream: QuicStreamImpl, delivered: boolean): void {
    this.unanswered.delete(stream);
    this.streams.delete(stream.id);
    if (delivered) this.unacked.set(stream.id, 0);
  }

  // ---- public surface ----

  peerCertificate(): Uint8Array | undefined {
    return this.peerCert;
  }

  stats(): QuicConnectionStats {
    return this.finalStats ?? this.readStats();
  }

  private readStats(): QuicConnectionStats {
    const s = this.conn.stats();
    return { sentBytes: s.sentBytes, recvBytes: s.recvBytes, lostPackets: s.lost };
  }

  async close(code = 0, reason = ''): Promise<void> {
    this.startClose(true, code, reason);
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((r) => (t = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(t);
  }

  get isEstablished(): boolean {
    return this.established;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Whether quiche has seen any valid packet from the peer (used to tell "no response" from "failed"). */
  heardFromPeer(): boolean {
    return this.conn.stats().recv > 0;
  }

  describeFailure(): string | undefined {
    const peer = this.conn.peerError();
    if (peer) return `peer closed the connection: ${describe(peer)}`;
    const local = this.conn.localError();
    if (local) return describe(local);
    return undefined;
  }
}

const TLS_ALERTS: Record<number, string> = {
  40: 'TLS handshake failure',
  42: 'bad certificate',
  43: 'unsupported certificate',
  46: 'certificate unknown',
  48: 'unknown CA',
  116: 'certificate required',
  120: 'no common application protocol (peer does not speak leafsync/1)',
};

function describe(e: ConnectionError): string {
  const reason = e.reason.length > 0 ? ` "${Buffer.from(e.reason).toString('utf8')}"` : '';
  if (e.isApp) return `application code ${e.errorCode}${reason}`;
  if (e.errorCode >= quiche.CRYPTO_ERROR_START && e.errorCode <= quiche.CRYPTO_ERROR_STOP) {
    const alert = e.errorCode - quiche.CRYPTO_ERROR_START;
    return `${TLS_ALERTS[alert] ?? `TLS alert ${alert}`}${reason}`;
  }
  return `transport error ${e.errorCode}${reason}`;
}
