'use client';
import type { TrustView } from '@leafsync/shared';
import { useCallback, useEffect, useState } from 'react';

import { api, errorText } from '../lib/trpc';
import { card, dangerButton, secondaryButton } from './ui';

/** Pinned servers and authorised clients from trust.json, each removable. */
export function TrustPanel({ refreshKey }: { refreshKey: number }) {
  const [trust, setTrust] = useState<TrustView>();
  const [error, setError] = useState<string>();

  const load = useCallback(() => {
    api.trust.list.query().then(
      (t) => {
        setTrust(t);
        setError(undefined);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, []);

  useEffect(load, [load, refreshKey]);

  async function remove(action: () => Promise<unknown>) {
    try {
      await action();
      load();
    } catch (err) {
      setError(errorText(err));
    }
  }

  return (
    <section aria-labelledby="trust-title" className={card} data-card="trust">
      <header className="flex flex-wrap items-center gap-2">
        <h2 id="trust-title" className="flex-1 text-lg font-semibold">
          Trust
        </h2>
        <button type="button" className={secondaryButton} onClick={load}>
          Refresh
        </button>
      </header>
      {error && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        <div className="min-w-0">
          <h3 className="text-sm font-semibold">Pinned servers</h3>
          <p className="text-xs text-neutral-500">Servers this peer connects to, by address and certificate fingerprint.</p>
          <TrustList
            empty="No pinned servers yet."
            items={(trust?.servers ?? []).map((s) => ({
              key: s.address,
              title: s.address,
              fingerprint: s.fingerprint,
              pinnedAt: s.pinnedAt,
              removeLabel: `Remove pinned server ${s.address}`,
              onRemove: () => remove(() => api.trust.removeServer.mutate({ address: s.address })),
            }))}
          />
        </div>
        <div className="min-w-0">
          <h3 className="text-sm font-semibold">Authorised clients</h3>
          <p className="text-xs text-neutral-500">Peers allowed to push to this one.</p>
          <TrustList
            empty="No authorised clients."
            items={(trust?.clients ?? []).map((c) => ({
              key: c.fingerprint,
              title: `Client ${c.fingerprint.slice(0, 16)}…`,
              fingerprint: c.fingerprint,
              pinnedAt: c.pinnedAt,
              removeLabel: `Remove authorised client ${c.fingerprint}`,
              onRemove: () => remove(() => api.trust.removeClient.mutate({ fingerprint: c.fingerprint })),
            }))}
          />
        </div>
      </div>
    </section>
  );
}

interface Item {
  key: string;
  title: string;
  fingerprint: string;
  pinnedAt: string;
  removeLabel: string;
  onRemove: () => void;
}

function TrustList({ items, empty }: { items: Item[]; empty: string }) {
  if (items.length === 0) return <p className="mt-2 text-sm text-neutral-500">{empty}</p>;
  return (
    <ul className="mt-2 flex flex-col gap-2">
      {items.map((i) => (
        <li key={i.key} className="flex flex-wrap items-center gap-2 rounded-md border border-neutral-200 p-2 dark:border-neutral-800">
          <div className="min-w-0 flex-1">
            <p className="truncate font-mono text-sm">{i.title}</p>
            <p className="break-all font-mono text-xs text-neutral-500">{i.fingerprint}</p>
            <p className="text-xs text-neutral-500">pinned {new Date(i.pinnedAt).toLocaleString()}</p>
          </div>
          <button type="button" className={dangerButton} onClick={i.onRemove} aria-label={i.removeLabel}>
            Remove
          </button>
        </li>
      ))}
    </ul>
  );
}
