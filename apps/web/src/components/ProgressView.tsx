import type { SessionProgress } from '@leafsync/shared';

import { formatBytes, formatDuration, formatSpeed, percent } from '../lib/format';

/** Overall and per-file progress of a pass: bars with bytes done/total, speed, ETA, files. */
export function ProgressView({ progress }: { progress: SessionProgress }) {
  return (
    <div className="flex flex-col gap-2">
      <dl className="grid grid-cols-2 gap-x-3 gap-y-1 text-sm">
        <Stat name="Speed" value={formatSpeed(progress.bytesPerSecond)} />
        <Stat name="ETA" value={progress.etaSeconds === undefined ? '—' : formatDuration(progress.etaSeconds)} />
        <Stat name="Files" value={`${progress.filesDone} / ${progress.filesTotal}`} />
        <Stat name="Bytes" value={`${formatBytes(progress.bytesDone)} / ${formatBytes(progress.bytesTotal)}`} />
      </dl>
      <Bar label="Total" done={progress.bytesDone} total={progress.bytesTotal} />
      {progress.files.length > 0 && (
        <ul aria-label="Files in transfer" className="flex flex-col gap-1.5">
          {progress.files.map((f) => (
            <li key={f.path}>
              <Bar label={f.path} done={f.bytesDone} total={f.bytesTotal} small />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Stat({ name, value }: { name: string; value: string }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-neutral-500 dark:text-neutral-400">{name}</dt>
      <dd className="truncate font-medium tabular-nums" data-stat={name.toLowerCase()}>
        {value}
      </dd>
    </div>
  );
}

function Bar({ label, done, total, small }: { label: string; done: number; total: number; small?: boolean }) {
  const pct = percent(done, total);
  return (
    <div className="min-w-0">
      <div className="flex justify-between gap-2 text-xs text-neutral-600 dark:text-neutral-400">
        <span className="truncate font-mono" title={label}>
          {label}
        </span>
        <span className="shrink-0 tabular-nums">
          {formatBytes(done)} / {formatBytes(total)}
        </span>
      </div>
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct)}
        aria-valuetext={`${formatBytes(done)} of ${formatBytes(total)}`}
        className={`mt-0.5 overflow-hidden rounded-full bg-neutral-200 dark:bg-neutral-800 ${small ? 'h-1.5' : 'h-2.5'}`}
      >
        <div className="h-full rounded-full bg-leaf-600 transition-[width] duration-300" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
