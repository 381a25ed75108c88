import { TRPCError } from '@trpc/server';
import { removeClientInput, removeServerInput, type TrustView } from '@leafsync/shared';
import { formatHostPort, parseHostPort } from '../../transport/address.js';
import { publicProcedure, router } from '../trpc.js';

export const trustRouter = router({
  /** Re-read first: a serve session authorising its first client writes through its own store. */
  list: publicProcedure.query(async ({ ctx }): Promise<TrustView> => {
    await ctx.sessions.trust.refresh();
    return { servers: ctx.sessions.trust.servers(), clients: ctx.sessions.trust.clients() };
  }),

  /** Forget a pinned server (by HOST:PORT, as trust.list shows it). */
  removeServer: publicProcedure.input(removeServerInput).mutation(async ({ ctx, input }): Promise<void> => {
    const store = ctx.sessions.trust;
    let address = input.address.trim();
    try {
      address = formatHostPort(parseHostPort(address));
    } catch (err) {
      if (store.serverFingerprint(address) === undefined) throw new TRPCError({ code: 'BAD_REQUEST', message: `address: ${(err as Error).message}`, cause: err });
    }
    if (!(await store.removeServer(address))) throw new TRPCError({ code: 'NOT_FOUND', message: `nothing is pinned for ${address}` });
  }),

  /** Stop trusting a client (by fingerprint). */
  removeClient: publicProcedure.input(removeClientInput).mutation(async ({ ctx, input }): Promise<void> => {
    if (!(await ctx.sessions.trust.removeClient(input.fingerprint))) {
      throw new TRPCError({ code: 'NOT_FOUND', message: `no client with fingerprint ${input.fingerprint} is trusted` });
    }
  }),
});
