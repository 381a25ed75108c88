/**
 * TEMPORARY: a stand-in for `@leafsync/sidecar/router` until the sidecar exports its AppRouter.
 * Only its type is imported (nothing here reaches the browser bundle). Delete this file once the
 * real router lands and trpc.ts imports the type from the sidecar.
 */
import {
  connectInput,
  eventsInput,
  listDirInput,
  removeClientInput,
  removeServerInput,
  serveInput,
  sessionIdInput,
  type DirListing,
  type QuickLink,
  type SessionEvent,
  type SessionInfo,
  type TrustView,
} from '@leafsync/shared';
import { initTRPC, tracked } from '@trpc/server';
import superjson from 'superjson';

const t = initTRPC.create({ transformer: superjson });
declare function stub<T>(): T;

const appRouter = t.router({
  identity: t.router({ get: t.procedure.query(() => stub<{ fingerprint: string }>()) }),
  sessions: t.router({
    list: t.procedure.query(() => stub<SessionInfo[]>()),
    startServe: t.procedure.input(serveInput).mutation(() => stub<SessionInfo>()),
    startConnect: t.procedure.input(connectInput).mutation(() => stub<SessionInfo>()),
    stop: t.procedure.input(sessionIdInput).mutation(() => undefined),
    remove: t.procedure.input(sessionIdInput).mutation(() => undefined),
    events: t.procedure.input(eventsInput).subscription(async function* () {
      yield tracked('0', stub<SessionEvent>());
    }),
  }),
  fs: t.router({
    list: t.procedure.input(listDirInput).query(() => stub<DirListing>()),
    quickLinks: t.procedure.query(() => stub<QuickLink[]>()),
  }),
  trust: t.router({
    list: t.procedure.query(() => stub<TrustView>()),
    removeServer: t.procedure.input(removeServerInput).mutation(() => undefined),
    removeClient: t.procedure.input(removeClientInput).mutation(() => undefined),
  }),
});

export type AppRouter = typeof appRouter;
