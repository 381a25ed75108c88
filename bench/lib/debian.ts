import { run } from './proc.js';

/**
 * The first line `probe` prints about its version, installing Debian's `packages` with apt-get
 * first if the probe fails (the bench runs as root on these machines; a fresh one may need
 * `apt-get update` before it finds them).
 */
export async function ensureDebianPackages(packages: readonly string[], probe: readonly [string, ...string[]], log: (s: string) => void): Promise<string> {
  const [cmd, ...args] = probe;
  const version = async (): Promise<string | undefined> => {
    const r = await run(cmd, args).catch(() => undefined);
    return r?.code === 0 ? (r.stdout.trim() || r.stderr.trim()).split('\n')[0]!.trim() : undefined;
  };
  const have = await version();
  if (have !== undefined) return have;
  log(`${packages.join(' ')}: not installed, installing with apt-get`);
  let r = await run('apt-get', ['install', '-y', ...packages]);
  if (r.code !== 0) {
    await run('apt-get', ['update']);
    r = await run('apt-get', ['install', '-y', ...packages]);
  }
  if (r.code !== 0) throw new Error(`apt-get install -y ${packages.join(' ')} failed:\n${r.stderr}`);
  const now = await version();
  if (now === undefined) throw new Error(`${packages.join(' ')} installed, but \`${probe.join(' ')}\` still fails`);
  return now;
}
