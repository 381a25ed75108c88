import { tracked, TRPCError } from '@trpc/server';
import { connectInput, eventsInput, serveInput, sessionIdInput, watchInput, type SessionEvent, type SessionInfo } from '@leafsync/shared';
import { fileOption } from '../../sessions/local-paths.js';
import { publicProcedure, router } from '../trpc.js';

/** `file` as typed in the dashboard, checked like the CLI's --file (relative, inside the folder). */
function fileField(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return fileOption(file);
  } catch (err) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `file: ${(err as Error).message}`, cause: err });
  }
}

export const sessionsRouter = router({
  list: publicProcedure.query(({ ctx }): SessionInfo[] => ctx.sessions.list()),

  /** Share a folder (accepting pushes with allowPush); resolves once it listens (or with state 'error' and the reason). */
  startServe: publicProcedure.input(serveInput).mutation(({ ctx, input }) => ctx.sessions.startServe({ ...input, file: fileField(input.file) })),

  /** Pull a server's folder; resolves at once (state 'starting'), then follow sessions.events. */
  startConnect: publicProcedure.input(connectInput).mutation(({ ctx, input }) => ctx.sessions.startConnect({ ...input, file: fileField(input.file) })),

  /** Two-way sync with a server that accepts pushes; resolves at once (state 'starting'), then follow sessions.events. */
  watch: publicProcedure.input(watchInput).mutation(({ ctx, input }) => ctx.sessions.startWatch({ ...input, file: fileField(input.file) })),

  stop: publicProcedure.input(sessionIdInput).mutation(async ({ ctx, input }): Promise<void> => {
    await ctx.sessions.stop(input.id);
  }),

  /** Stops the session if it runs, forgets it, and emits 'removed'. */
  remove: publicProcedure.input(sessionIdInput).mutation(async ({ ctx, input }): Promise<void> => {
    await ctx.sessions.remove(input.id);
  }),

  /**
   * Every session event (or one session's), each tracked by an id. A client that reconnects with
   * the last id it saw gets every event after it, then live ones. Without one (or with an id the
   * log no longer holds) it starts with a 'session' event per current session.
   */
  events: publicProcedure.input(eventsInput).subscription(async function* ({ ctx, input, signal }) {
    for await (const { id, event } of ctx.sessions.events({ lastEventId: input.lastEventId, sessionId: input.sessionId, signal })) {
      yield tracked(id, event satisfies SessionEvent);
    }
  }),
});
