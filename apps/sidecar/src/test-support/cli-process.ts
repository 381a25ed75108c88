import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The built CLI, exactly as `npx leafsync` runs it. Tests run after `npm run build` (turbo orders it). */
export const CLI = fileURLToPath(new URL('../../bin/leafsync.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export async function runCli(args: string[], opts: { home: string; timeoutMs?: number }): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, '--home', opts.home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - started };
}

export interface ServeProcess {
  child: ChildProcess;
  host: string;
  port: number;
  fingerprint: string;
  address: string;
  stop(): Promise<void>;
}

/** Starts `leafsync serve --json` and waits for its "listening" line. */
export async function startServeProcess(t: { after(fn: () => Promise<void>): void }, home: string, folder: string, extra: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, '--home', home, 'serve', folder, '--bind', '127.0.0.1', '--port', '0', '--json', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  t.after(stop);
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l as string),
    once(child, 'exit').then(() => {
      throw new Error(`serve exited before listening: ${stderr}`);
    }),
  ]);
  const event = JSON.parse(first) as { event: string; host: string; port: number; fingerprint: string };
  if (event.event !== 'listening') throw new Error(`unexpected first line: ${first}`);
  return { child, host: event.host, port: event.port, fingerprint: event.fingerprint, address: `${event.host}:${event.port}`, stop };
}

/** The JSON pass lines a `connect --json` printed. */
export function passLines(run: CliRun): Array<{ event: string; files: number; filesChanged: number; chunksFetched: number; bytesFetched: number; elapsedMs: number }> {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === 'pass');
}
