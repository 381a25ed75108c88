import type { SessionState } from '@leafsync/shared';

const styles: Record<SessionState, string> = {
  starting: 'bg-neutral-100 text-neutral-700 dark:bg-neutral-800 dark:text-neutral-200',
  listening: 'bg-leaf-100 text-leaf-900 dark:bg-leaf-900 dark:text-leaf-50',
  connecting: 'bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-50',
  scanning: 'bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-50',
  transferring: 'bg-blue-100 text-blue-900 dark:bg-blue-900 dark:text-blue-50',
  idle: 'bg-leaf-100 text-leaf-900 dark:bg-leaf-900 dark:text-leaf-50',
  error: 'bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-50',
  stopped: 'bg-neutral-200 text-neutral-700 dark:bg-neutral-800 dark:text-neutral-300',
};

/** The session's state as a coloured word (the word itself carries the meaning). */
export function StateBadge({ state }: { state: SessionState }) {
  return (
    <span
      data-state={state}
      className={`inline-flex h-6 items-center rounded-full px-2.5 text-xs font-semibold uppercase tracking-wide ${styles[state]}`}
    >
      {state}
    </span>
  );
}
