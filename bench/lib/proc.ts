import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export const TIME = '/usr/bin/time';
export const CLK_TCK = 100; // Linux USER_HZ; /proc/PID/stat counts in these

/** What GNU time reports for a process and the children it waited for. */
export interface Usage {
  maxRssKiB: number;
  cpuSeconds: number; // user + system
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  stdout: string;
  stderr: string;
  usage: Usage | undefined;
}

/**
 * Datagrams the kernel has dropped since boot, machine-wide, because a UDP socket's receive
 * buffer was full (`RcvbufErrors` in /proc/net/snmp); undefined where that is not available.
 */
export function udpReceiveBufferDrops(): number | undefined {
  if (!existsSync('/proc/net/snmp')) return undefined;
  const [names, values] = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('Udp:'))
    .map((line) => line.trim().split(/\s+/));
  const at = names?.indexOf('RcvbufErrors') ?? -1;
  const drops = at < 0 ? NaN : Number(values?.[at]);
  return Number.isFinite(drops) ? drops : undefined;
}

function parseTimeFile(path: string): Usage | undefined {
  if (!existsSync(path)) return undefined;
  // GNU time may prefix "Command exited with non-zero status N" / "Command terminated by signal N".
  const last = readFileSync(path, 'utf8').trim().split('\n').pop() ?? '';
  const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(last.trim());
  if (!m) return undefined;
  return { maxRssKiB: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]) };
}

/**
 * A process run under GNU time (`-f "%M %U %S"`), so its peak RSS and CPU (including children it
 * reaped, e.g. rsync's forked receiver) are exact rather than polled. Lines of stdout can be
 * watched while it runs.
 */
export class Measured {
  readonly child: ChildProcess;
  readonly started = performance.now();
  stdout = '';
  stderr = '';
  readonly lines: string[] = [];
  /** Called synchronously for each stdout line as it arrives (e.g. to snapshot counters). */
  onLine: ((line: string) => void) | undefined;
  private waiters: Array<() => void> = [];
  readonly done: Promise<Finished>;

  constructor(cmd: string, args: string[], private readonly timeFile: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    const useTime = existsSync(TIME);
    this.child = useTime
      ? spawn(TIME, ['-f', '%M %U %S', '-o', timeFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
      : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.stdout += line + '\n';
      this.lines.push(line);
      this.onLine?.(line);
      for (const w of this.waiters.splice(0)) w();
    });
    this.done = once(this.child, 'exit').then(([code, signal]) => {
      const wallMs = performance.now() - this.started;
      for (const w of this.waiters.splice(0)) w();
      return { code: code as number | null, signal: signal as NodeJS.Signals | null, wallMs, stdout: this.stdout, stderr: this.stderr, usage: parseTimeFile(this.timeFile) };
    });
  }

  /** The pid doing the work (GNU time's child when wrapped). */
  workerPid(): number | undefined {
    const pid = this.child.pid;
    if (pid === undefined) return undefined;
    if (!existsSync(TIME)) return pid;
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      return kids.length ? Number(kids[0]) : undefined;
    } catch {
      return undefined;
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLine(match: (line: string) => boolean, what: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`process exited before ${what}; stderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  /** Signals the worker (not GNU time, which would die without reporting) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<Finished> {
    if (this.running) {
      const pid = this.workerPid();
      if (pid !== undefined) process.kill(pid, signal);
      else this.child.kill(signal);
      const timer = setTimeout(() => {
        const p = this.workerPid();
        if (p !== undefined) process.kill(p, 'SIGKILL');
        else this.child.kill('SIGKILL');
      }, graceMs);
      const f = await this.done;
      clearTimeout(timer);
      return f;
    }
    return this.done;
  }
}

/** CPU seconds (user + system) a live process has used so far, from /proc/PID/stat. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Peak RSS (VmHWM) of a live process, in KiB. */
export function peakRssKiBOf(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
