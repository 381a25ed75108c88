import type { PassSummary } from '@leafsync/shared';

const MB = 1024 * 1024;

/** One human line per pass, with the numbers a person checks: what changed, what travelled, how fast. */
export function describePass(r: PassSummary): string {
  const seconds = r.elapsedMs / 1000;
  const speed = seconds > 0 ? r.bytesFetched / MB / seconds : 0;
  const moved = r.bytesFetched > 0 ? `, ${(r.bytesFetched / MB).toFixed(1)} MiB in ${r.chunksFetched} chunks at ${speed.toFixed(1)} MiB/s` : '';
  const head = r.failures.length === 0 ? 'in sync' : `${r.failures.length} file(s) failed`;
  const trashed = r.filesTrashed > 0 ? `, ${r.filesTrashed} moved to .leafsync_trash` : '';
  const lines = [`${head}: ${r.files} files, ${r.filesChanged} changed${trashed}${moved} (${seconds.toFixed(2)} s)`];
  if (r.mirrorHalted !== undefined) lines.push(`  mirror: ${r.mirrorHalted}`);
  for (const f of r.failures) lines.push(`  ${f.path}: ${f.message}`);
  return lines.join('\n');
}
