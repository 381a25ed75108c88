import type { FileFailure } from '@leafsync/shared';

/** Files a pass or cycle could not sync and why (the first ten, then a count). */
export function FailureList({ failures }: { failures: FileFailure[] }) {
  if (failures.length === 0) return null;
  return (
    <ul className="mt-1 list-disc pl-5 text-red-800 dark:text-red-300">
      {failures.slice(0, 10).map((f) => (
        <li key={f.path}>
          <span className="font-mono">{f.path}</span>: {f.message}
        </li>
      ))}
      {failures.length > 10 && <li>…and {failures.length - 10} more</li>}
    </ul>
  );
}
