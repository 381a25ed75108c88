'use client';
import type { SessionInfo } from '@leafsync/shared';
import { useState } from 'react';

import { api, errorText } from '../lib/trpc';
import { isEnded, type ThroughputHistory } from '../lib/use-sessions';
import { CycleSummaryView } from './CycleSummaryView';
import { PassSummaryView } from './PassSummaryView';
import { ProgressView } from './ProgressView';
import { StateBadge } from './StateBadge';
import { ThroughputChart } from './ThroughputChart';
import { dangerButton, secondaryButton } from './ui';

interface Props {
  session: SessionInfo;
  notice?: string;
  history?: ThroughputHistory;
}

/** One running (or finished) session: state, where, errors in words, progress, chart, Stop. */
export function SessionPanel({ session: s, notice, history }: Props) {
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string>();
  const ended = isEnded(s);
  const title = s.kind === 'serve' ? `Serving ${s.file ?? s.folder}` : s.kind === 'watch' ? `Two-way sync with ${s.address}` : `Syncing from ${s.address}`;

  async function run(action: 'stop' | 'remove') {
    setBusy(true);
    setActionError(undefined);
    try {
      if (action === 'stop') await api.sessions.stop.mutate({ id: s.id });
      else await api.sessions.remove.mutate({ id: s.id });
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section
      aria-label={`${s.kind} session ${s.address}`}
      data-session-id={s.id}
      data-state={s.state}
      className="flex min-w-0 flex-col gap-3 rounded-md border border-neutral-200 p-3 dark:border-neutral-800"
    >
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="min-w-0 flex-1 truncate text-sm font-semibold" title={title}>
          {title}
        </h3>
        <span aria-live="polite" aria-atomic="true">
          <span className="sr-only">State: </span>
          <StateBadge state={s.state} />
        </span>
      </div>

      <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-sm">
        {s.kind === 'serve' ? (
          <>
            <dt className="text-neutral-500">Listening on</dt>
            <dd className="truncate font-mono" data-testid="listen-address">
              {s.address}
            </dd>
            <dt className="text-neutral-500">Pushes</dt>
            <dd data-testid="serve-pushes">{s.allowPush ? 'accepted from authorised clients' : 'refused (read-only)'}</dd>
          </>
        ) : (
          <>
            <dt className="text-neutral-500">Server</dt>
            <dd className="truncate font-mono">{s.address}</dd>
          </>
        )}
        <dt className="text-neutral-500">Folder</dt>
        <dd className="truncate font-mono" title={s.folder}>
          {s.folder}
        </dd>
        {s.file && (
          <>
            <dt className="text-neutral-500">File</dt>
            <dd className="truncate font-mono">{s.file}</dd>
          </>
        )}
        {(s.congestion || s.datagramSize) && (
          <>
            <dt className="text-neutral-500">Sends with</dt>
            <dd data-testid="session-transport">{[s.congestion?.toUpperCase(), s.datagramSize && `${s.datagramSize}-byte datagrams`].filter(Boolean).join(', ')}</dd>
          </>
        )}
        {s.kind !== 'serve' && s.fingerprint && (
          <>
            <dt className="text-neutral-500">Fingerprint</dt>
            <dd className="break-all font-mono text-xs">{s.fingerprint}</dd>
          </>
        )}
      </dl>

      {s.error && (
        <p role="alert" className="rounded-md border border-red-300 bg-red-50 p-2 text-sm [overflow-wrap:anywhere] text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          {s.error}
        </p>
      )}
      {notice && !s.error && <p className="text-sm [overflow-wrap:anywhere] text-neutral-600 dark:text-neutral-400">{notice}</p>}

      {s.progress && !ended && (s.state === 'transferring' || s.state === 'scanning') && (
        <ProgressView progress={s.progress} />
      )}
      {s.lastPass && <PassSummaryView pass={s.lastPass} />}
      {s.kind === 'watch' && (s.lastCycle || s.conflicts) && <CycleSummaryView cycle={s.lastCycle} conflicts={s.conflicts} />}
      {s.kind !== 'serve' && history && (!ended || history.mbps.some((v) => v > 0)) && <ThroughputChart history={history} label={title} />}

      {actionError && (
        <p role="alert" className="text-sm [overflow-wrap:anywhere] text-red-700 dark:text-red-300">
          {actionError}
        </p>
      )}
      <div className="flex flex-wrap gap-2">
        {!ended && (
          <button type="button" className={dangerButton} disabled={busy} onClick={() => run('stop')}>
            Stop
          </button>
        )}
        {ended && (
          <button type="button" className={secondaryButton} disabled={busy} onClick={() => run('remove')}>
            Remove
          </button>
        )}
      </div>
    </section>
  );
}
