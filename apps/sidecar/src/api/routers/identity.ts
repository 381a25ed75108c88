import { publicProcedure, router } from '../trpc.js';

export const identityRouter = router({
  /** This peer's fingerprint, as `leafsync id` prints it. */
  get: publicProcedure.query(({ ctx }) => ({ fingerprint: ctx.sessions.identity.fingerprint })),
});
