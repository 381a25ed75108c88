/**
 * The dashboard's typed tRPC client. Queries and mutations go through one batched HTTP link;
 * subscriptions use Server-Sent Events (httpSubscriptionLink), which reconnect on their own and
 * resume from the last tracked event id. Everything lives on the sidecar's own origin at /trpc.
 */
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import superjson from 'superjson';

import type { AppRouter } from '@leafsync/sidecar/router';

const url = '/trpc';

export const api = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: httpSubscriptionLink({ url, transformer: superjson }),
      false: httpBatchLink({ url, transformer: superjson }),
    }),
  ],
});

/** A thrown value as one line a person can read (tRPC and zod errors included). */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    // zod issues arrive as a JSON array in the message of a BAD_REQUEST.
    try {
      const issues: unknown = JSON.parse(err.message);
      if (Array.isArray(issues)) {
        const msgs = issues
          .map((i: unknown) => (i && typeof i === 'object' && 'message' in i ? String(i.message) : ''))
          .filter(Boolean);
        if (msgs.length > 0) return msgs.join('; ');
      }
    } catch {
      // not JSON: the message is already words
    }
    return err.message;
  }
  return String(err);
}
