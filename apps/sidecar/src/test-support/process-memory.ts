import { readFileSync } from 'node:fs';

/**
 * Resident set size of another process, from /proc (Linux, where these tests and CI run);
 * undefined once the process is gone. Sampled by tests that must prove a peer's memory stays
 * bounded under a flood, which process.memoryUsage() cannot do for a child.
 */
export function rssBytes(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}
