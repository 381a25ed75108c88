import type { PassSummary, WatchCycleSummary } from '@leafsync/shared';

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

/** One human line per watch cycle that did something; quiet cycles print nothing. */
export function describeCycle(r: WatchCycleSummary): string | undefined {
  const parts = [
    r.filesPulled > 0 && `${r.filesPulled} pulled (${(r.bytesFetched / MB).toFixed(1)} MiB)`,
    r.filesPushed > 0 && `${r.filesPushed} pushed (${(r.bytesPushed / MB).toFixed(1)} MiB)`,
    r.conflicts.length > 0 && `${r.conflicts.length} conflict(s) kept`,
    r.filesTrashed > 0 && `${r.filesTrashed} moved to .leafsync_trash`,
    r.remoteTrashed > 0 && `${r.remoteTrashed} moved to the server's trash`,
    r.failures.length > 0 && `${r.failures.length} file(s) failed`,
  ].filter((p): p is string => typeof p === 'string');
  if (parts.length === 0 && r.trigger !== 'start') return undefined;
  const lines = [`${parts.length === 0 ? 'in sync' : parts.join(', ')}: ${r.files} files (${(r.elapsedMs / 1000).toFixed(2)} s)`];
  for (const c of r.conflicts) lines.push(`  conflict: ${c.path} changed on both sides; this side's version is kept as ${c.copy}`);
  for (const f of r.failures) lines.push(`  ${f.path}: ${f.message}`);
  return lines.join('\n');
}
