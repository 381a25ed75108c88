import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ensureDebianPackages } from './debian.js';
import { Measured, type Finished } from './proc.js';

/**
 * Debian's ngtcp2 example server and client (`gtlsserver`, `gtlsclient`: QUIC in C over GnuTLS,
 * serving files over HTTP/3). W1 runs them as a baseline: what a QUIC stack written in C moves on
 * this machine at leafsync's default datagram size, next to leafsync's own transport in Node.
 */
export function ensureNgtcp2(log: (s: string) => void): Promise<string> {
  return ensureDebianPackages(['ngtcp2-server', 'ngtcp2-client'], ['dpkg-query', '-W', '-f=ngtcp2 ${Version}\n', 'ngtcp2-server', 'ngtcp2-client'], log);
}

/** The UDP payload both example programs are held to: leafsync's default datagram size. */
const MAX_UDP_PAYLOAD = 1350;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const { port } = s.address();
  await new Promise<void>((res) => s.close(res));
  return port;
}

/** gtlsserver prints nothing when ready: its socket shows up in /proc/net/udp. */
async function waitForUdp(port: number, server: Measured, timeoutMs: number): Promise<void> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const deadline = Date.now() + timeoutMs;
  while (!readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[1] === local)) {
    if (!server.running) throw new Error(`gtlsserver exited before listening: ${server.stderr}`);
    if (Date.now() > deadline) throw new Error(`gtlsserver did not listen on UDP ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * One download of `file` from a new gtlsserver (document root `scratch/htdocs`, holding a link to
 * the file) into `scratch/download/`, both sides under GNU time. The key and certificate are
 * PEM files, as a leafsync home's identity files are.
 */
export async function ngtcp2Download(file: string, scratch: string, tls: { key: string; cert: string }, timeFiles: { server: string; client: string }): Promise<{ server: Finished; client: Finished; dest: string }> {
  const htdocs = join(scratch, 'htdocs');
  const download = join(scratch, 'download');
  mkdirSync(htdocs, { recursive: true });
  mkdirSync(download, { recursive: true });
  const name = basename(file);
  symlinkSync(file, join(htdocs, name));
  const port = await freeUdpPort();
  const payload = `--max-udp-payload-size=${MAX_UDP_PAYLOAD}`;
  const server = new Measured('gtlsserver', ['-q', '-d', htdocs, payload, '127.0.0.1', String(port), tls.key, tls.cert], timeFiles.server);
  try {
    await waitForUdp(port, server, 10_000);
    const client = await new Measured(
      'gtlsclient',
      ['-q', '--no-quic-dump', '--no-http-dump', '--exit-on-all-streams-close', payload, `--download=${download}`, '127.0.0.1', String(port), `https://127.0.0.1:${port}/${name}`],
      timeFiles.client,
    ).done;
    if (client.code !== 0) throw new Error(`gtlsclient exited ${client.code ?? client.signal}: ${client.stderr.trim().slice(-2000)}`);
    return { server: await server.stop(), client, dest: join(download, name) };
  } finally {
    await server.stop();
  }
}
