/**
 * tRPC setup for the dashboard API: context, superjson, and errors that say what to fix.
 * A zod validation failure becomes BAD_REQUEST whose message names the field
 * (`folder: choose a folder`); no error ever carries a stack trace.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError } from 'zod';
import { SessionInputError, SessionNotFoundError, type SessionManager } from '../sessions/session-manager.js';

export interface ApiContext {
  sessions: SessionManager;
  /** The user's home folder: where the folder picker starts. */
  userHome: string;
}

export interface InputIssue {
  path: string;
  message: string;
}

function zodIssues(err: ZodError): InputIssue[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** `folder: choose a folder; streams: Too big: expected number to be <=64` */
export function describeIssues(issues: InputIssue[]): string {
  return issues.map((i) => `${i.path || 'input'}: ${i.message}`).join('; ');
}

const t = initTRPC.context<ApiContext>().create({
  transformer: superjson,
  // Never send stack traces, whatever NODE_ENV says.
  isDev: false,
  sse: {
    // Pings keep proxies from closing an idle stream; the client reconnects (with lastEventId) if they stop.
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 25_000 },
  },
  errorFormatter({ shape, error }) {
    const issues = error.cause instanceof ZodError ? zodIssues(error.cause) : undefined;
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      message: issues ? describeIssues(issues) : shape.message,
      data: { ...data, ...(issues && { issues }) },
    };
  },
});

/** Maps the session manager's own errors to tRPC codes; everything else passes through. */
const sessionErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof SessionInputError) throw new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
    if (cause instanceof SessionNotFoundError) throw new TRPCError({ code: 'NOT_FOUND', message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(sessionErrors);
export const createCallerFactory = t.createCallerFactory;
