import type { ConflictCopy, WatchCycleSummary } from '@leafsync/shared';

import { formatBytes, formatDuration } from '../lib/format';
import { FailureList } from './FailureList';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const triggers: Record<WatchCycleSummary['trigger'], string> = {
  start: 'on connecting',
  local: 'after a local change',
  interval: 'on the pull interval',
};

/**
 * A watch session's last cycle: what came in and what went out (files and bytes), then the
 * files changed on both sides (both versions kept) and any failures.
 */
export function CycleSummaryView({ cycle, conflicts }: { cycle?: WatchCycleSummary | undefined; conflicts?: ConflictCopy[] | undefined }) {
  return (
    <div className="flex flex-col gap-2 text-sm">
      {cycle && (
        <div>
          <h4 className="text-xs font-semibold uppercase tracking-wide text-neutral-500">Last cycle</h4>
          <dl className="mt-0.5 grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-0.5" data-testid="last-cycle">
            <dt className="text-neutral-500">Pulled</dt>
            <dd data-stat="pulled">
              {plural(cycle.filesPulled, 'file')}, {formatBytes(cycle.bytesFetched)}
            </dd>
            <dt className="text-neutral-500">Pushed</dt>
            <dd data-stat="pushed">
              {plural(cycle.filesPushed, 'file')}, {formatBytes(cycle.bytesPushed)}
            </dd>
          </dl>
          <p className="mt-0.5 text-neutral-600 dark:text-neutral-400">
            {plural(cycle.files, 'file')} here; ran {triggers[cycle.trigger]} in {formatDuration(cycle.elapsedMs / 1000)}
            {cycle.filesTrashed > 0 && `, ${cycle.filesTrashed} deleted there moved to .leafsync_trash here`}
            {cycle.remoteTrashed > 0 && `, ${cycle.remoteTrashed} deleted here moved to the peer's .leafsync_trash`}
            {cycle.failures.length > 0 ? `, ${cycle.failures.length} failed.` : '.'}
          </p>
          <FailureList failures={cycle.failures} />
        </div>
      )}
      {conflicts && conflicts.length > 0 && (
        <div className="rounded-md border border-amber-300 bg-amber-50 p-2 text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100">
          <h4 className="text-xs font-semibold uppercase tracking-wide">
            Changed on both sides
          </h4>
          <p className="text-xs">The peer&apos;s version kept the name; yours was kept beside it and pushed.</p>
          <ul className="mt-1 flex flex-col gap-0.5" aria-label="Conflicts" data-testid="conflicts">
            {conflicts.map((c) => (
              <li key={`${c.path}\u0000${c.copy}`} className="[overflow-wrap:anywhere]">
                kept both: <span className="font-mono">{c.path}</span> → <span className="font-mono">{c.copy}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
