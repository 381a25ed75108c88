import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where this peer keeps its identity, trust store and caches: --home, else LEAFSYNC_HOME, else ~/.leafsync. */
export function resolveHome(flag?: string): string {
  if (flag) return resolve(flag);
  const env = process.env.LEAFSYNC_HOME;
  if (env) return resolve(env);
  return join(homedir(), '.leafsync');
}
