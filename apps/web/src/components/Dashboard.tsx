'use client';
import { useSessions } from '../lib/use-sessions';
import { ConnectCard } from './ConnectCard';
import { ServeCard } from './ServeCard';
import { TrustPanel } from './TrustPanel';
import { WatchCard } from './WatchCard';

export function Dashboard() {
  const view = useSessions();
  return (
    <>
      <header className="border-b border-neutral-200 dark:border-neutral-800">
        <div className="mx-auto flex max-w-[1400px] flex-wrap items-center gap-3 px-4 py-3">
          <span aria-hidden="true" className="text-2xl text-leaf-600">
            ❧
          </span>
          <h1 className="text-xl font-semibold tracking-tight">leafsync</h1>
          <p role="status" aria-live="polite" className="ml-auto text-sm text-neutral-500 dark:text-neutral-400">
            {view.link === 'live'
              ? 'Connected to the sidecar'
              : view.link === 'retrying'
                ? `Lost the sidecar, retrying${view.linkError ? ` (${view.linkError})` : ''}`
                : 'Connecting to the sidecar…'}
          </p>
        </div>
      </header>
      <main id="main" className="mx-auto flex max-w-[1400px] flex-col gap-4 px-4 py-4">
        <div className="grid grid-cols-1 items-start gap-4 lg:grid-cols-2 xl:grid-cols-3">
          <ServeCard view={view} />
          <ConnectCard view={view} />
          <WatchCard view={view} />
        </div>
        <TrustPanel refreshKey={view.stateChanges} />
      </main>
    </>
  );
}
