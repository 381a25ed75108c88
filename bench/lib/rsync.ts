import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { ensureDebianPackages } from './debian.js';
import { Measured, type Finished, type Usage } from './proc.js';

/** Installs Debian's rsync if it is missing; answers its version line. */
export function ensureRsync(log: (s: string) => void): Promise<string> {
  return ensureDebianPackages(['rsync'], ['rsync', '--version'], log);
}

async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`rsync daemon did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `rsync --daemon --no-detach` on 127.0.0.1 serving `dir` as module `mod`, under GNU time, so its
 * peak RSS and CPU include the child it forks for each connection (it reaps them).
 */
export class RsyncDaemon {
  private constructor(
    readonly proc: Measured,
    readonly port: number,
  ) {}

  static async start(dir: string, scratch: string, timeFile: string): Promise<RsyncDaemon> {
    const port = await freeTcpPort();
    const conf = join(scratch, `rsyncd-${port}.conf`);
    writeFileSync(
      conf,
      [
        'use chroot = no',
        'uid = 0',
        'gid = 0',
        `log file = ${join(scratch, `rsyncd-${port}.log`)}`,
        '[mod]',
        `path = ${dir}`,
        'read only = yes',
        '',
      ].join('\n'),
    );
    const proc = new Measured('rsync', ['--daemon', '--no-detach', '--address', '127.0.0.1', '--port', String(port), '--config', conf], timeFile);
    await waitForTcp(port, 10_000);
    return new RsyncDaemon(proc, port);
  }

  stop(): Promise<Finished> {
    return this.proc.stop('SIGTERM');
  }
}

export interface RsyncResult {
  wallMs: number;
  usage: Usage | undefined;
  wireBytes: number;
  sent: number;
  received: number;
}

function statNumber(stdout: string, label: string): number {
  const m = new RegExp(`${label}:\\s*([\\d,]+)`).exec(stdout);
  return m ? Number(m[1]!.replace(/,/g, '')) : NaN;
}

/** `rsync -a --stats rsync://127.0.0.1:P/mod/ DEST/` (delta transfer: the default against a daemon). */
export async function rsyncPull(port: number, dest: string, timeFile: string, extraArgs: string[] = []): Promise<RsyncResult> {
  const proc = new Measured('rsync', ['-a', '--stats', ...extraArgs, `rsync://127.0.0.1:${port}/mod/`, `${dest}/`], timeFile);
  const f = await proc.done;
  if (f.code !== 0) throw new Error(`rsync exited ${f.code ?? f.signal}: ${f.stderr.trim().slice(-2000)}`);
  const sent = statNumber(f.stdout, 'Total bytes sent');
  const received = statNumber(f.stdout, 'Total bytes received');
  return { wallMs: f.wallMs, usage: f.usage, wireBytes: sent + received, sent, received };
}
