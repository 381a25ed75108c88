import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Measured, cpuSecondsOf, peakRssKiBOf, type Finished, type Usage } from './proc.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The `leafsync` command as users run it (npm links its `bin` here). */
export const CLI = join(REPO, 'apps/sidecar/bin/leafsync');
/** What the command runs; a profiled run starts Node on it directly, without the start-up snapshot (`--cpu-prof` cannot go through NODE_OPTIONS). */
const BUNDLE = join(REPO, 'apps/sidecar/dist/bundle/leafsync.cjs');

export interface NodeFlags {
  /** Directory for `node --cpu-prof` output; profiles are written when each process exits. */
  profileDir?: string | undefined;
}

/** The Node flags the command starts Node with (the `flags=` line of bin/leafsync). */
export const LAUNCH_FLAGS = (/^flags="([^"]*)"$/m.exec(readFileSync(CLI, 'utf8'))?.[1] ?? '').split(' ').filter(Boolean);

let profiles = 0;
/** The program and arguments that run `leafsync ARGS`: the command itself, or Node profiling its bundle. */
function leafsyncCommand(flags: NodeFlags, tag: string, args: string[]): [string, string[]] {
  if (!flags.profileDir) return [CLI, args];
  // A folder per process: its worker threads write profiles too, and a fixed --cpu-prof-name
  // would let the last thread to exit overwrite the others.
  const dir = join(flags.profileDir, `${String(++profiles).padStart(3, '0')}-${tag}`);
  return [process.execPath, [...LAUNCH_FLAGS, '--cpu-prof', '--cpu-prof-dir', dir, BUNDLE, ...args]];
}

/** `leafsync serve DIR --json` on 127.0.0.1, under GNU time. */
export class LeafsyncServer {
  private constructor(
    readonly proc: Measured,
    readonly port: number,
    readonly fingerprint: string,
  ) {}

  static async start(dir: string, home: string, timeFile: string, opts: { datagramSize?: number | undefined; congestion?: string | undefined } & NodeFlags = {}): Promise<LeafsyncServer> {
    const args = ['--home', home, 'serve', dir, '--port', '0', '--bind', '127.0.0.1', '--json'];
    if (opts.datagramSize !== undefined) args.push('--datagram-size', String(opts.datagramSize));
    if (opts.congestion !== undefined) args.push('--congestion', opts.congestion);
    const proc = new Measured(...leafsyncCommand(opts, 'serve', args), timeFile);
    const line = await proc.waitForLine((l) => l.includes('"listening"'), 'leafsync serve to listen', 30_000);
    const ev = JSON.parse(line) as { port: number; fingerprint: string };
    return new LeafsyncServer(proc, ev.port, ev.fingerprint);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** CPU seconds the server has used so far (for per-run deltas on a long-running server). */
  cpuNow(): number {
    const pid = this.proc.workerPid();
    return pid === undefined ? NaN : (cpuSecondsOf(pid) ?? NaN);
  }

  peakRssKiBNow(): number {
    const pid = this.proc.workerPid();
    return pid === undefined ? NaN : (peakRssKiBOf(pid) ?? NaN);
  }

  /** Waits until the server stops using CPU (its start-up scan is done): `quietMs` with no new CPU ticks. */
  async settle(quietMs = 500, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = this.cpuNow();
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const now = this.cpuNow();
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) return;
    }
  }

  stop(): Promise<Finished> {
    return this.proc.stop('SIGTERM');
  }
}

export interface PassLine {
  files: number;
  filesChanged: number;
  chunksFetched: number;
  bytesFetched: number;
  elapsedMs: number;
  failures: unknown[];
  /** QUIC's own count of bytes sent + received during the pass (not the handshake); newer builds only. */
  wireBytes?: number;
}

export interface ConnectResult {
  wallMs: number;
  usage: Usage | undefined;
  pass: PassLine;
  /** What the client told its user on stderr (`leafsync: …`), without the prefix. */
  notices: string[];
}

/** One `leafsync connect --once --json` pull, timed from spawn to exit (a user's wall time). */
export async function leafsyncPull(
  address: string,
  dest: string,
  home: string,
  timeFile: string,
  opts: { datagramSize?: number | undefined; congestion?: string | undefined; streams?: number | undefined; timeoutMs?: number; flags?: readonly string[] } & NodeFlags = {},
): Promise<ConnectResult> {
  const args = ['--home', home, 'connect', address, dest, '--accept-first', '--once', '--json', ...(opts.flags ?? [])];
  if (opts.datagramSize !== undefined) args.push('--datagram-size', String(opts.datagramSize));
  if (opts.congestion !== undefined) args.push('--congestion', opts.congestion);
  if (opts.streams !== undefined) args.push('--streams', String(opts.streams));
  const proc = new Measured(...leafsyncCommand(opts, 'connect', args), timeFile);
  const timer = setTimeout(() => void proc.stop('SIGKILL'), opts.timeoutMs ?? 600_000);
  const f = await proc.done;
  clearTimeout(timer);
  const passes = f.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string } & PassLine)
    .filter((e) => e.event === 'pass');
  const pass = passes.at(-1);
  if (f.code !== 0 || pass === undefined) {
    throw new Error(`leafsync connect exited ${f.code ?? f.signal}: ${f.stderr.trim().slice(-2000)}`);
  }
  const notices = f.stderr.split('\n').filter((l) => l.startsWith('leafsync: ')).map((l) => l.slice('leafsync: '.length));
  return { wallMs: f.wallMs, usage: f.usage, pass, notices };
}

/** A `connect --json` that keeps running (continuous passes every `intervalS`), under GNU time. */
export function leafsyncContinuous(address: string, dest: string, home: string, timeFile: string, intervalS: number, opts: { congestion?: string | undefined } & NodeFlags = {}): Measured {
  const args = ['--home', home, 'connect', address, dest, '--accept-first', '--json', '--interval', String(intervalS)];
  if (opts.congestion !== undefined) args.push('--congestion', opts.congestion);
  return new Measured(...leafsyncCommand(opts, 'connect-continuous', args), timeFile);
}
