import { fsRouter } from './routers/fs.js';
import { identityRouter } from './routers/identity.js';
import { sessionsRouter } from './routers/sessions.js';
import { trustRouter } from './routers/trust.js';
import { router } from './trpc.js';

export const appRouter = router({
  identity: identityRouter,
  sessions: sessionsRouter,
  fs: fsRouter,
  trust: trustRouter,
});

/** The dashboard API's type; apps/web imports only this (`@leafsync/sidecar/router`). */
export type AppRouter = typeof appRouter;
