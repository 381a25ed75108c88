import type { PassSummary } from '@leafsync/shared';

import { formatBytes, formatDuration } from '../lib/format';
import { FailureList } from './FailureList';

/** The last pass in one sentence, then any files that failed and why. */
export function PassSummaryView({ pass }: { pass: PassSummary }) {
  return (
    <div className="text-sm">
      <h4 className="text-xs font-semibold uppercase tracking-wide text-neutral-500">Last pass</h4>
      <p className="mt-0.5" data-testid="last-pass">
        {pass.filesChanged} of {pass.files} file{pass.files === 1 ? '' : 's'} updated, {formatBytes(pass.bytesFetched)} fetched
        in {formatDuration(pass.elapsedMs / 1000)}
        {pass.filesTrashed > 0 && `, ${pass.filesTrashed} moved to .leafsync_trash`}
        {pass.failures.length > 0 ? `, ${pass.failures.length} failed.` : '.'}
      </p>
      {pass.mirrorHalted && <p className="mt-1 text-amber-800 dark:text-amber-300">Mirror deletes paused: {pass.mirrorHalted}</p>}
      <FailureList failures={pass.failures} />
    </div>
  );
}
