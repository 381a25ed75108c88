import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { appRouter } from './router.js';
import type { ApiContext } from './trpc.js';

/** Where the API is mounted on the dashboard's origin. */
export const API_BASE_PATH = '/trpc/';

export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** A request listener for everything under /trpc/ (queries, batched calls, SSE subscriptions). */
export function createApiHandler(ctx: ApiContext): ApiHandler {
  return createHTTPHandler({
    router: appRouter,
    basePath: API_BASE_PATH,
    createContext: () => ctx,
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR') process.stderr.write(`leafsync: api ${path ?? '?'}: ${error.message}\n`);
    },
  });
}
