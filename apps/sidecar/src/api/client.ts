/**
 * The programmatic client: a typed tRPC client for a running sidecar (`leafsync ui`), usable
 * from Node 20 scripts and from browsers.
 *
 *   const client = createLeafsyncClient({ url: 'http://127.0.0.1:8080' });
 *   const pass = await syncOnce(client, { address: '192.168.1.20:4455', folder: '/tmp/copy', acceptFirst: true });
 */
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, type TRPCClient } from '@trpc/client';
import type { ConnectInput, PassSummary, SessionEvent, SessionInfo } from '@leafsync/shared';
import superjson from 'superjson';
import type { AppRouter } from './router.js';
import { EventSource as NodeEventSource } from 'eventsource';

export type { AppRouter } from './router.js';
export type LeafsyncClient = TRPCClient<AppRouter>;

export interface LeafsyncClientOptions {
  /** The sidecar's dashboard URL (e.g. `http://127.0.0.1:8080`); the API is under `/trpc`. */
  url: string;
  /**
   * EventSource for subscriptions. Defaults to the runtime's own (browsers), else the
   * `eventsource` package (Node 20 has none); it reconnects with Last-Event-ID by itself.
   */
  EventSource?: typeof globalThis.EventSource;
}

/** `http://host:port` or `http://host:port/` or `…/trpc` → `http://host:port/trpc`. */
export function apiUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/trpc') ? trimmed : `${trimmed}/trpc`;
}

export function createLeafsyncClient(opts: LeafsyncClientOptions): LeafsyncClient {
  const url = apiUrl(opts.url);
  const EventSourceImpl = opts.EventSource ?? globalThis.EventSource ?? NodeEventSource;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url, transformer: superjson, EventSource: EventSourceImpl }),
        false: httpBatchLink({ url, transformer: superjson }),
      }),
    ],
  });
}

/** A session that ended in 'error' (or vanished); `session` holds its last known state. */
export class SessionFailedError extends Error {
  constructor(
    message: string,
    readonly session: SessionInfo | undefined,
  ) {
    super(message);
    this.name = 'SessionFailedError';
  }
}

/**
 * One pull pass through the sidecar: starts a connect with `once: true`, follows its events,
 * and resolves with the pass summary when the session stops, or rejects with the session's
 * error in plain words (wrong fingerprint, unreachable server, files that failed…).
 */
export function syncOnce(client: LeafsyncClient, input: ConnectInput, opts: { signal?: AbortSignal } = {}): Promise<PassSummary> {
  return new Promise<PassSummary>((resolve, reject) => {
    let started: SessionInfo | undefined;
    let latest: SessionInfo | undefined;
    let pass: PassSummary | undefined;
    let settled = false;
    // Subscribe first, then start the session, so none of its events can slip past unseen. Events
    // that arrive before startConnect answers wait in `pending` until we know the session's id.
    const pending: SessionEvent[] = [];
    let subscribed!: () => void;
    const ready = new Promise<void>((r) => (subscribed = r));
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      sub.unsubscribe();
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else if (pass) resolve(pass);
      else reject(new SessionFailedError('the session stopped before a pass completed', latest));
    };
    const onAbort = () => finish(new Error('syncOnce aborted'));
    const sub = client.sessions.events.subscribe(
      {},
      {
        onStarted: () => subscribed(),
        onData: ({ data: event }) => {
          if (!started) pending.push(event);
          else handle(event);
        },
        onError: (err) => finish(err instanceof Error ? err : new Error(String(err))),
      },
    );
    function handle(event: SessionEvent): void {
      if (!started) return;
      const id = started.id;
      if (event.type === 'session' && event.session.id === id) {
        latest = event.session;
        if (latest.lastPass) pass = latest.lastPass;
        if (latest.state === 'error') finish(new SessionFailedError(latest.error ?? 'the session failed', latest));
        else if (latest.state === 'stopped') finish(undefined);
      } else if (event.type === 'pass' && event.sessionId === id) {
        pass = event.pass;
      } else if (event.type === 'removed' && event.sessionId === id) {
        finish(new SessionFailedError('the session was removed before it finished', latest));
      }
    }
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    ready
      .then(() => client.sessions.startConnect.mutate({ ...input, once: true }))
      .then((session) => {
        started = session;
        latest = session;
        handle({ type: 'session', session });
        for (const event of pending.splice(0)) handle(event);
      })
      .catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
  });
}
