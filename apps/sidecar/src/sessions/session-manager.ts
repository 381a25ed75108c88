/**
 * Runs serve, connect and watch sessions inside the sidecar process for the dashboard API: keeps each
 * session's SessionInfo (state, progress, last pass, error in plain words) and an in-memory log
 * of SessionEvents that subscribers replay after their last seen id and then follow live.
 */
import type { PassSummary, SessionEvent, SessionInfo, SessionKind, SessionProgress, SessionState, WatchCycleSummary } from '@leafsync/shared';
import { DATAGRAM_SIZE_DEFAULT, type CongestionControl } from '@leafsync/shared/transport';
import type { PullEvent } from '../engine/pull.js';
import type { RelPath } from '../engine/types.js';
import { formatHostPort, parseHostPort } from '../transport/address.js';
import type { TrustStore } from '../transport/trust-store.js';
import type { HostPort, Identity } from '../transport/types.js';
import { runConnect, type ConnectOptions } from './connect-session.js';
import type { ReconnectHooks } from './reconnecting.js';
import { startServe, type RunningServe } from './serve-session.js';
import { runWatch } from './watch-session.js';

/** How a side sends (serveInput, connectInput and watchInput share it), after zod parsing. */
export interface TransportRequest {
  datagramSize?: number | undefined;
  congestion?: CongestionControl | undefined;
}

/** serveInput after zod parsing (defaults applied). */
export interface ServeRequest extends TransportRequest {
  folder: string;
  file?: RelPath | undefined;
  port: number;
  bind: string;
  allowPush?: boolean | undefined;
  acceptFirstClient?: boolean | undefined;
}

/** The fields connectInput and watchInput share, after zod parsing (defaults applied). */
export interface PeerRequest extends TransportRequest {
  address: string;
  folder: string;
  file?: RelPath | undefined;
  acceptFirst: boolean;
  fingerprint?: string | undefined;
  mirror: boolean;
  streams: number;
  rateMbps?: number | undefined;
}

/** connectInput after zod parsing (defaults applied). */
export interface ConnectRequest extends PeerRequest {
  intervalSeconds: number;
  once: boolean;
  inPlace: boolean;
}

/** watchInput after zod parsing (defaults applied). */
export interface WatchRequest extends PeerRequest {
  pullIntervalSeconds: number;
  debounceMs: number;
}

/** What startPeerSession hands the connect or watch loop it starts. */
interface PeerRun {
  info: SessionInfo;
  /** Engine options both loops take (watch adds its intervals). */
  options: ConnectOptions;
  hooks: { signal: AbortSignal; onEvent: (event: PullEvent) => void } & Required<Pick<ReconnectHooks, 'onConnecting' | 'onConnected' | 'onNotice'>>;
  /** A pass or cycle begins: state 'scanning', progress from zero, reported a few times a second. */
  passStarted: () => void;
  /** It ended: the final progress (rate 0) is reported; the caller records the summary. */
  passEnded: () => void;
}

export interface SessionManagerOptions {
  /** LEAFSYNC_HOME: index caches live here. */
  home: string;
  identity: Identity;
  /** One store shared by every session and the trust API, so concurrent pins never overwrite each other. */
  trust: TrustStore;
  /** Events kept for replay (default 5,000). */
  logSize?: number;
  /** Minimum gap between progress events of one session (default 250 ms, i.e. ~4/s). */
  progressIntervalMs?: number;
  /** Window of the moving-average transfer rate (default 3 s). */
  rateWindowMs?: number;
  handshakeTimeoutMs?: number;
  /** How long stop() waits for a session to wind down before reporting it stopped anyway (default 5 s). */
  stopTimeoutMs?: number;
}

/** An id and the event it names, as the subscription yields them. */
export interface LoggedEvent {
  id: string;
  event: SessionEvent;
}

/** A request the user can fix (bad address, unsafe file path); the API maps it to BAD_REQUEST. */
export class SessionInputError extends Error {
  readonly code = 'SESSION_INPUT';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

export class SessionNotFoundError extends Error {
  readonly code = 'SESSION_NOT_FOUND';
  constructor(readonly id: string) {
    super(`no session with id ${id}`);
  }
}

/**
 * The event log: a ring buffer of the last `capacity` events. Ids are `<boot>-<seq>` with seq
 * increasing by one per event, so an id from an earlier run of the sidecar is recognised as
 * foreign instead of being mistaken for a position in this run.
 */
export class EventLog {
  private readonly ring: Array<LoggedEvent | undefined>;
  /** seq of the newest event; 0 before the first. */
  private head = 0;
  private waiters = new Set<() => void>();
  readonly boot = Date.now().toString(36);

  constructor(readonly capacity: number) {
    this.ring = new Array<LoggedEvent | undefined>(capacity);
  }

  append(event: SessionEvent): LoggedEvent {
    const seq = ++this.head;
    const logged = { id: this.idOf(seq), event };
    this.ring[seq % this.capacity] = logged;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
    return logged;
  }

  get headSeq(): number {
    return this.head;
  }

  get oldestSeq(): number {
    return Math.max(1, this.head - this.capacity + 1);
  }

  idOf(seq: number): string {
    return `${this.boot}-${seq}`;
  }

  /** The seq an id names, or undefined if it is not one of this run's ids (or names the future). */
  seqOf(id: string): number | undefined {
    const m = /^([0-9a-z]+)-(\d+)$/.exec(id);
    if (!m || m[1] !== this.boot) return undefined;
    const seq = Number(m[2]);
    return seq <= this.head ? seq : undefined;
  }

  at(seq: number): LoggedEvent | undefined {
    if (seq < this.oldestSeq || seq > this.head) return undefined;
    return this.ring[seq % this.capacity];
  }

  /** Resolves when the next event is appended or the signal aborts. */
  next(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/** Turns what went wrong into words a dashboard user can act on. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; path?: unknown; syscall?: unknown; address?: unknown; port?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const path = typeof e.path === 'string' ? e.path : undefined;
  switch (e.code) {
    case 'FINGERPRINT_MISMATCH': {
      const m = err as { address: string; expected: string; presented: string; pinned: boolean };
      return (
        `Refused ${m.address}: it presented fingerprint ${m.presented}, but the ${m.pinned ? 'pinned' : 'expected'} fingerprint is ${m.expected}. Nothing was synced.` +
        (m.pinned ? " If the server's identity really changed, check the new fingerprint with its owner, remove the old pin under Trust, and connect again." : '')
      );
    }
    case 'UNTRUSTED_SERVER': {
      const m = err as { address: string; presented: string };
      return `${m.address} is not a trusted server yet. It presented fingerprint ${m.presented}. Compare it with the fingerprint the server shows, then connect again with "accept first" or with that fingerprint.`;
    }
    case 'EACCES':
    case 'EPERM':
      return `permission denied${path ? `: ${path}` : ''} (leafsync may not read or write there)`;
    case 'ENOSPC':
      return `the disk is full${path ? ` (${path})` : ''}`;
    case 'EROFS':
      return `the disk is read-only${path ? ` (${path})` : ''}`;
    case 'ENOENT':
      return `not found${path ? `: ${path}` : ''}`;
    case 'READ_ONLY':
      // The engine's message names the CLI flag; the dashboard calls it a checkbox.
      return `${message} (in the dashboard: tick "Accept pushes" on the Serve card)`;
    case 'EADDRINUSE':
      return `the port is already in use${typeof e.port === 'number' ? ` (${e.port})` : ''}; choose another port or stop what is using it`;
  }
  // Wrapped errors (e.g. a UDP bind failure) keep the system error as their cause.
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (cause && cause.code === 'EADDRINUSE') return `${message.replace(/: bind EADDRINUSE.*$/, '')}: the port is already in use; choose another port or stop what is using it`;
  if (cause && (cause.code === 'EACCES' || cause.code === 'EPERM')) return `${message} (permission denied)`;
  return message;
}

/** Per-session transfer accounting for one pass, turned into SessionProgress. */
class ProgressTracker {
  private filesTotal = 0;
  private bytesTotal = 0;
  private filesDone = 0;
  /** Bytes of files finished (changed or unchanged) this pass. */
  private bytesSettled = 0;
  /** Bytes fetched over the wire this pass; drives the rate. */
  private fetched = 0;
  private readonly inFlight = new Map<string, { bytesDone: number; bytesTotal: number }>();
  private samples: Array<{ t: number; bytes: number }> = [];
  private rate = 0;

  constructor(private readonly windowMs: number) {}

  reset(): void {
    this.filesTotal = this.bytesTotal = this.filesDone = this.bytesSettled = this.fetched = 0;
    this.inFlight.clear();
    this.samples = [{ t: performance.now(), bytes: 0 }];
    this.rate = 0;
  }

  onEvent(event: PullEvent): void {
    switch (event.kind) {
      case 'summary':
        this.filesTotal = event.files;
        this.bytesTotal = event.bytes;
        break;
      case 'file-start':
        this.inFlight.set(event.path, { bytesDone: 0, bytesTotal: event.size });
        break;
      case 'chunk': {
        this.fetched += event.bytes;
        const f = this.inFlight.get(event.path);
        if (f) f.bytesDone = Math.min(f.bytesTotal, f.bytesDone + event.bytes);
        break;
      }
      case 'file-done':
      case 'file-unchanged': {
        const f = this.inFlight.get(event.path);
        this.inFlight.delete(event.path);
        this.filesDone++;
        this.bytesSettled += event.kind === 'file-unchanged' ? event.size : (f?.bytesTotal ?? 0);
        break;
      }
      case 'file-error':
        this.inFlight.delete(event.path);
        break;
    }
  }

  /** Takes a rate sample; call a few times a second while a pass runs. */
  sample(): void {
    const now = performance.now();
    this.samples.push({ t: now, bytes: this.fetched });
    while (this.samples.length > 2 && this.samples[1]!.t <= now - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    this.rate = dt > 0 ? Math.max(0, (this.fetched - first.bytes) / dt) : 0;
  }

  snapshot(final = false): SessionProgress {
    let inFlightBytes = 0;
    const files = [];
    for (const [path, f] of this.inFlight) {
      inFlightBytes += f.bytesDone;
      files.push({ path, bytesDone: f.bytesDone, bytesTotal: f.bytesTotal });
    }
    const bytesDone = Math.min(this.bytesTotal, this.bytesSettled + inFlightBytes);
    const bytesPerSecond = Math.round(this.rate);
    const remaining = this.bytesTotal - bytesDone;
    return {
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone,
      bytesTotal: this.bytesTotal,
      bytesPerSecond: final ? 0 : bytesPerSecond,
      ...(!final && bytesPerSecond > 0 && remaining > 0 && { etaSeconds: Math.ceil(remaining / bytesPerSecond) }),
      files: final ? [] : files,
    };
  }
}

interface ManagedSession {
  info: SessionInfo;
  stop: () => Promise<void>;
  /** Settles when the session's work has ended (serve closed, connect or watch loop returned). */
  done: Promise<void>;
}

export class SessionManager {
  private readonly sessions = new Map<string, ManagedSession>();
  readonly log: EventLog;
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: SessionManagerOptions) {
    this.log = new EventLog(opts.logSize ?? 5000);
  }

  get identity(): Identity {
    return this.opts.identity;
  }

  get trust(): TrustStore {
    return this.opts.trust;
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map((s) => structuredClone(s.info));
  }

  get(id: string): SessionInfo {
    const s = this.sessions.get(id);
    if (!s) throw new SessionNotFoundError(id);
    return structuredClone(s.info);
  }

  /** Starts sharing a folder. Resolves once it listens (state 'listening') or failed (state 'error'). */
  async startServe(req: ServeRequest): Promise<SessionInfo> {
    this.assertOpen();
    const info = this.newInfo('serve', req.folder, `${req.bind}:${req.port}`, req.file);
    info.fingerprint = this.opts.identity.fingerprint;
    if (req.allowPush) info.allowPush = true;
    showTransport(info, req);
    let running: RunningServe | undefined;
    let stopping = false;
    let settle!: () => void;
    const session: ManagedSession = {
      info,
      done: new Promise<void>((resolve) => (settle = resolve)),
      stop: async () => {
        if (stopping) return session.done;
        stopping = true;
        if (running) await running.close().catch((err: unknown) => this.notice(info.id, `closing the server: ${describeError(err)}`));
        if (info.state !== 'error') this.setState(info, 'stopped');
        settle();
      },
    };
    this.sessions.set(info.id, session);
    this.emitSession(info);
    try {
      running = await startServe({
        folder: req.folder,
        bind: req.bind,
        port: req.port,
        identity: this.opts.identity,
        home: this.opts.home,
        ...(req.file !== undefined && { file: req.file }),
        ...(req.allowPush && { allowPush: true }),
        ...(req.allowPush && req.acceptFirstClient && { acceptFirstClient: true }),
        ...transportOptions(req),
        log: (line) => this.notice(info.id, line),
      });
    } catch (err) {
      if (!stopping) this.fail(info, err);
      settle();
      return structuredClone(info);
    }
    if (stopping || !this.sessions.has(info.id)) {
      await running.close();
      return structuredClone(info);
    }
    info.folder = running.folder;
    info.address = formatHostPort(running.address);
    this.setState(info, 'listening');
    return structuredClone(info);
  }

  /**
   * Starts pulling a server's folder. Resolves at once (state 'starting'); follow the events for
   * connecting → scanning ⇄ transferring → idle, and 'stopped' or 'error' at the end.
   */
  async startConnect(req: ConnectRequest): Promise<SessionInfo> {
    return this.startPeerSession(
      'connect',
      req,
      (peer) =>
        runConnect({ ...peer.options, inPlace: req.inPlace }, {
          ...peer.hooks,
          once: req.once,
          intervalMs: req.intervalSeconds * 1000,
          onPassStart: peer.passStarted,
          onPass: (pass) => {
            peer.passEnded();
            peer.info.lastPass = pass;
            this.log.append({ type: 'pass', sessionId: peer.info.id, pass: structuredClone(pass) });
            if (!req.once) this.setState(peer.info, 'idle');
          },
        }),
      // A one-pass sync that left the folders different is an error; a continuous one retries.
      (last) => (req.once ? passProblem(last) : undefined),
    );
  }

  /**
   * Starts two-way sync with a server that accepts our pushes. Resolves at once (state
   * 'starting'); then connecting → scanning ⇄ transferring → idle after each cycle (lastCycle,
   * conflicts included), until stopped or an error that retrying cannot fix.
   */
  async startWatch(req: WatchRequest): Promise<SessionInfo> {
    return this.startPeerSession(
      'watch',
      req,
      (peer) =>
        runWatch(
          { ...peer.options, pullIntervalMs: req.pullIntervalSeconds * 1000, debounceMs: req.debounceMs },
          {
            ...peer.hooks,
            onCycleStart: peer.passStarted,
            onCycle: (cycle) => {
              const { info } = peer;
              if (info.state !== 'idle') peer.passEnded();
              this.log.append({ type: 'cycle', sessionId: info.id, cycle: structuredClone(cycle) });
              // Our own writes come back from the file watcher as a cycle with nothing to do; it
              // must not wipe what the last real cycle showed (its counts and conflicts).
              if (cycle.trigger === 'start' || cycleDidWork(cycle)) {
                info.lastCycle = cycle;
                if (cycle.conflicts.length > 0) info.conflicts = [...[...cycle.conflicts].reverse(), ...(info.conflicts ?? [])].slice(0, MAX_CONFLICTS_SHOWN);
                if (info.state === 'idle') this.emitSession(info);
              }
              this.setState(info, 'idle');
            },
          },
        ),
      () => undefined,
    );
  }

  /**
   * What connect and watch sessions share: the server address, trust policy and engine options,
   * progress from pull events (throttled, with a moving-average rate), state changes, stop with
   * a timeout, and the end state. `run` starts the engine loop with `peer`'s hooks; `problem`
   * says why a loop that returned normally still failed (undefined: it simply stopped).
   */
  private startPeerSession<R>(kind: 'connect' | 'watch', req: PeerRequest, run: (peer: PeerRun) => Promise<R>, problem: (result: R) => string | undefined): SessionInfo {
    this.assertOpen();
    let target: HostPort;
    try {
      target = parseHostPort(req.address);
    } catch (err) {
      throw new SessionInputError('address', (err as Error).message);
    }
    const info = this.newInfo(kind, req.folder, formatHostPort(target), req.file);
    if (req.fingerprint !== undefined) info.fingerprint = req.fingerprint;
    showTransport(info, req);
    const abort = new AbortController();
    const tracker = new ProgressTracker(this.opts.rateWindowMs ?? 3000);
    const progressEvery = this.opts.progressIntervalMs ?? 250;
    let ticker: NodeJS.Timeout | undefined;
    let lastProgressAt = 0;
    let progressDirty = false;
    const emitProgress = (final = false) => {
      info.progress = tracker.snapshot(final);
      lastProgressAt = performance.now();
      progressDirty = false;
      this.log.append({ type: 'progress', sessionId: info.id, progress: structuredClone(info.progress) });
    };
    const stopTicker = () => {
      if (ticker) clearInterval(ticker);
      ticker = undefined;
    };
    const passStarted = () => {
      tracker.reset();
      info.progress = tracker.snapshot();
      this.setState(info, 'scanning');
      stopTicker();
      ticker = setInterval(() => {
        tracker.sample();
        if (progressDirty || performance.now() - lastProgressAt >= 1000) emitProgress();
      }, progressEvery);
      ticker.unref();
    };
    const passEnded = () => {
      stopTicker();
      tracker.sample();
      emitProgress(true);
    };
    const peer: PeerRun = {
      info,
      options: {
        target,
        folder: req.folder,
        trust: this.opts.trust,
        identity: this.opts.identity,
        home: this.opts.home,
        policy: { ...(req.acceptFirst && { acceptFirst: true }), ...(req.fingerprint !== undefined && { fingerprint: req.fingerprint }) },
        streams: req.streams,
        ...(req.file !== undefined && { file: req.file }),
        ...(req.mirror && { mirror: true }),
        ...(req.rateMbps !== undefined && { rateMbps: req.rateMbps }),
        ...transportOptions(req),
        ...(this.opts.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: this.opts.handshakeTimeoutMs }),
      },
      hooks: {
        signal: abort.signal,
        onConnecting: () => this.setState(info, 'connecting'),
        onConnected: (c) => {
          info.fingerprint = c.fingerprint;
          if (c.newlyPinned) this.notice(info.id, `pinned ${c.address} with fingerprint ${c.fingerprint}`);
        },
        onEvent: (event) => {
          // Watch cycles started by a local change or the pull interval are not announced; their
          // first pull event is the first sign of them.
          if (info.state === 'idle') passStarted();
          tracker.onEvent(event);
          progressDirty = true;
          if (info.state === 'scanning' && (event.kind === 'file-start' || event.kind === 'chunk')) this.setState(info, 'transferring');
          if (event.kind === 'file-error') this.notice(info.id, event.message);
        },
        onNotice: (line) => this.notice(info.id, line),
      },
      passStarted,
      passEnded,
    };
    const done = run(peer).then(
      (result) => {
        stopTicker();
        if (isFinal(info.state)) return;
        const failed = abort.signal.aborted ? undefined : problem(result);
        if (failed !== undefined) {
          info.error = failed;
          this.setState(info, 'error');
        } else {
          this.setState(info, 'stopped');
        }
      },
      (err: unknown) => {
        stopTicker();
        if (isFinal(info.state)) return;
        if (abort.signal.aborted) this.setState(info, 'stopped');
        else this.fail(info, err);
      },
    );
    const stopTimeoutMs = this.opts.stopTimeoutMs ?? 5000;
    this.sessions.set(info.id, {
      info,
      done,
      stop: async () => {
        if (isFinal(info.state)) return;
        abort.abort();
        let timer: NodeJS.Timeout | undefined;
        // A handshake in progress does not watch the signal; do not keep the user waiting on it.
        await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, stopTimeoutMs)))]);
        clearTimeout(timer);
        stopTicker();
        if (!isFinal(info.state)) this.setState(info, 'stopped');
      },
    });
    this.emitSession(info);
    return structuredClone(info);
  }

  /** Stops a session (it stays listed, in state 'stopped'). */
  async stop(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) throw new SessionNotFoundError(id);
    await s.stop();
  }

  /** Stops a session if it runs, forgets it, and tells subscribers ('removed'). */
  async remove(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) throw new SessionNotFoundError(id);
    await s.stop();
    this.sessions.delete(id);
    this.log.append({ type: 'removed', sessionId: id });
  }

  /** Stops every session (the sidecar is shutting down). New sessions are refused from now on. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.values()].map((s) => s.stop()));
  }

  /**
   * Events after `lastEventId` (all of this session's, or every session's), then live ones until
   * the signal aborts. Without a usable lastEventId (none, from an earlier run, or already dropped
   * from the log), it starts with one 'session' event per current session, carrying the id of the
   * newest event, so a later resume continues exactly from there.
   */
  async *events(opts: { lastEventId?: string | null | undefined; sessionId?: string | undefined; signal?: AbortSignal | undefined }): AsyncGenerator<LoggedEvent> {
    const { signal, sessionId } = opts;
    const matches = (event: SessionEvent) => sessionId === undefined || eventSessionId(event) === sessionId;
    let cursor = opts.lastEventId ? this.log.seqOf(opts.lastEventId) : undefined;
    if (cursor !== undefined && cursor < this.log.oldestSeq - 1) cursor = undefined;
    if (cursor === undefined) {
      cursor = this.log.headSeq;
      yield* this.snapshot(cursor, sessionId);
    }
    while (!signal?.aborted) {
      if (cursor < this.log.oldestSeq - 1) {
        // This subscriber fell behind by more than the log holds: start over from a snapshot.
        cursor = this.log.headSeq;
        yield* this.snapshot(cursor, sessionId);
        continue;
      }
      if (cursor >= this.log.headSeq) {
        await this.log.next(signal);
        continue;
      }
      const logged = this.log.at(++cursor);
      if (logged && matches(logged.event)) yield logged;
    }
  }

  /** Taken at once (not lazily), so it shows exactly the state as of event `seq`. */
  private snapshot(seq: number, sessionId: string | undefined): LoggedEvent[] {
    const id = this.log.idOf(seq);
    return [...this.sessions.values()]
      .filter((s) => sessionId === undefined || s.info.id === sessionId)
      .map((s) => ({ id, event: { type: 'session', session: structuredClone(s.info) } }));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the sidecar is shutting down');
  }

  private newInfo(kind: SessionKind, folder: string, address: string, file: string | undefined): SessionInfo {
    return {
      id: `s${this.nextId++}`,
      kind,
      state: 'starting',
      folder,
      ...(file !== undefined && { file }),
      address,
      startedAt: new Date().toISOString(),
    };
  }

  private setState(info: SessionInfo, state: SessionState): void {
    if (info.state === state) return;
    info.state = state;
    if (state !== 'error') delete info.error;
    this.emitSession(info);
  }

  private fail(info: SessionInfo, err: unknown): void {
    info.error = describeError(err);
    info.state = 'error';
    this.emitSession(info);
  }

  private emitSession(info: SessionInfo): void {
    if (!this.sessions.has(info.id)) return;
    this.log.append({ type: 'session', session: structuredClone(info) });
  }

  private notice(sessionId: string, message: string): void {
    if (!this.sessions.has(sessionId)) return;
    this.log.append({ type: 'notice', sessionId, message });
  }
}

/** Conflicts a watch session keeps listed (newest first). */
const MAX_CONFLICTS_SHOWN = 50;

/** The session options for how a side sends, as the request gave them (absent: the defaults). */
function transportOptions(req: TransportRequest): { datagramSize?: number; congestion?: CongestionControl } {
  return { ...(req.datagramSize !== undefined && { datagramSize: req.datagramSize }), ...(req.congestion !== undefined && { congestion: req.congestion }) };
}

/** The session shows how it sends where that is not the default, so a list of sessions tells them apart. */
function showTransport(info: SessionInfo, req: TransportRequest): void {
  if (req.congestion !== undefined && req.congestion !== 'cubic') info.congestion = req.congestion;
  if (req.datagramSize !== undefined && req.datagramSize !== DATAGRAM_SIZE_DEFAULT) info.datagramSize = req.datagramSize;
}

function cycleDidWork(c: WatchCycleSummary): boolean {
  return c.filesPulled + c.filesPushed + c.conflicts.length + c.filesTrashed + c.remoteTrashed + c.failures.length > 0;
}

function isFinal(state: SessionState): boolean {
  return state === 'stopped' || state === 'error';
}

/** Why a one-pass sync did not leave the folders identical, or undefined if it did. */
function passProblem(last: PassSummary | undefined): string | undefined {
  if (!last) return 'the pass did not complete';
  if (last.failures.length > 0) {
    return `${last.failures.length} file(s) could not be synced; the folders do not match yet (first: ${last.failures[0]!.message})`;
  }
  return last.mirrorHalted;
}

export function eventSessionId(event: SessionEvent): string {
  return event.type === 'session' ? event.session.id : event.sessionId;
}
