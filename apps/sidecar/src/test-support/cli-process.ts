import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The built CLI's launcher, exactly as `npx leafsync` runs it. Tests run after `npm run build` (turbo orders it). */
export const CLI = fileURLToPath(new URL('../../bin/leafsync', import.meta.url));

/** Another user to run a CLI process as (tests as root run the side that must not read everything as nobody). */
export interface RunAs {
  uid: number;
  gid: number;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI to its end (as another user with `as`). */
export async function runCli(args: string[], opts: { home: string; timeoutMs?: number; as?: RunAs }): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(CLI, ['--home', opts.home, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts.as });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - started };
}

/** A CLI process that keeps running: its JSON lines can be awaited as they arrive. */
export class CliChild {
  readonly child: ChildProcess;
  readonly events: Array<Record<string, unknown>> = [];
  stderr = '';
  private waiters: Array<() => void> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(home: string, args: string[], as?: RunAs) {
    this.child = spawn(CLI, ['--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...as });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) this.events.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = once(this.child, 'exit').then(([code, signal]) => {
      for (const w of this.waiters.splice(0)) w();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first event (old or new) that matches; rejects if the process exits or time runs out. */
  async waitFor(match: (e: Record<string, unknown>) => boolean, what: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (!this.running) throw new Error(`process exited before ${what}; stderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

export interface ServeProcess {
  cli: CliChild;
  host: string;
  port: number;
  fingerprint: string;
  address: string;
  stop(): Promise<void>;
}

/** Starts `leafsync serve --json` (as another user with `as`) and waits for its "listening" line. */
export async function startServeProcess(
  t: { after(fn: () => Promise<void>): void },
  home: string,
  folder: string,
  extra: string[] = [],
  as?: RunAs,
): Promise<ServeProcess> {
  const cli = new CliChild(home, ['serve', folder, '--bind', '127.0.0.1', '--port', '0', '--json', ...extra], as);
  const stop = async () => {
    await cli.kill('SIGTERM');
  };
  t.after(stop);
  const event = (await cli.waitFor((e) => e.event === 'listening', 'the listening line', 30_000)) as { host: string; port: number; fingerprint: string };
  return { cli, host: event.host, port: event.port, fingerprint: event.fingerprint, address: `${event.host}:${event.port}`, stop };
}

/** Starts a `connect --json` that keeps running (no --once); killed when the test ends. */
export function startConnectProcess(t: { after(fn: () => Promise<void>): void }, home: string, args: string[]): CliChild {
  const cli = new CliChild(home, ['connect', ...args, '--json']);
  t.after(async () => {
    await cli.kill('SIGKILL');
  });
  return cli;
}

/** The JSON pass lines a `connect --json` printed. */
export function passLines(run: CliRun): Array<{ event: string; files: number; filesChanged: number; chunksFetched: number; bytesFetched: number; elapsedMs: number }> {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === 'pass');
}
