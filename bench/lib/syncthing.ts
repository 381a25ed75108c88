import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureDebianPackages } from './debian.js';
import { Measured, cpuSecondsOf, peakRssKiBOf, run } from './proc.js';

/**
 * Two Syncthing instances on 127.0.0.1 (Debian's package): discovery, relays, NAT traversal,
 * usage reporting, crash reporting and upgrades off; they reach each other by a fixed QUIC (or
 * TCP) address. Folders are added per run through the REST API, so a cold copy is a new folder
 * on both sides (the sender hashes it afresh, as leafsync's fresh server home does).
 */

/** Installs Debian's Syncthing if it is missing; answers its name and version ("syncthing v1.19.2-ds1"). */
export async function ensureSyncthing(log: (s: string) => void): Promise<string> {
  return (await ensureDebianPackages(['syncthing'], ['syncthing', '--version'], log)).split(' ').slice(0, 2).join(' ');
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

export type SyncthingTransport = 'quic' | 'tcp';

class Instance {
  readonly proc: Measured;
  constructor(
    readonly home: string,
    readonly deviceId: string,
    readonly guiPort: number,
    readonly apiKey: string,
    readonly listen: string,
    timeFile: string,
  ) {
    this.proc = new Measured('syncthing', ['serve', '--home', home, '--no-browser', '--no-restart', '--logfile=-'], timeFile, {
      // STMONITORED: run as one process (no monitor parent), so its pid is the one doing the work.
      env: { ...process.env, STNOUPGRADE: '1', STNODEFAULTFOLDER: '1', STMONITORED: 'yes' },
    });
  }

  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.guiPort}${path}`, {
      method,
      headers: { 'X-API-Key': this.apiKey, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`syncthing ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async waitUp(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.api('GET', '/rest/system/ping');
        return;
      } catch (err) {
        if (!this.proc.running) throw new Error(`syncthing exited: ${this.proc.stderr.slice(-2000)}${this.proc.stdout.slice(-2000)}`);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  cpu(): number {
    const pid = this.proc.workerPid();
    return pid === undefined ? NaN : (cpuSecondsOf(pid) ?? NaN);
  }

  peakRssKiB(): number {
    const pid = this.proc.workerPid();
    return pid === undefined ? NaN : (peakRssKiBOf(pid) ?? NaN);
  }
}

async function generate(home: string, transport: SyncthingTransport, timeFile: string): Promise<Generated> {
  const out = await run('syncthing', ['generate', '--home', home, '--no-default-folder', '--skip-port-probing']);
  const id = /Device ID:\s*([A-Z0-9-]+)/.exec(out.stdout + out.stderr)?.[1];
  if (!id) throw new Error(`syncthing generate printed no device ID:\n${out.stdout}${out.stderr}`);
  const guiPort = await freePort();
  const listenPort = await freePort();
  const listen = `${transport}://127.0.0.1:${listenPort}`;
  const configPath = join(home, 'config.xml');
  let xml = readFileSync(configPath, 'utf8');
  const apiKey = /<apikey>([^<]+)<\/apikey>/.exec(xml)?.[1];
  if (!apiKey) throw new Error('no apikey in the generated config');
  const set = (tag: string, value: string) => {
    const re = new RegExp(`<${tag}>[^<]*</${tag}>`);
    if (!re.test(xml)) throw new Error(`no <${tag}> in the generated config`);
    xml = xml.replace(re, `<${tag}>${value}</${tag}>`);
  };
  xml = xml.replace(/(<gui [^>]*>\s*<address>)[^<]*(<\/address>)/, `$1127.0.0.1:${guiPort}$2`);
  set('listenAddress', listen);
  set('globalAnnounceEnabled', 'false');
  set('localAnnounceEnabled', 'false');
  set('relaysEnabled', 'false');
  set('natEnabled', 'false');
  set('startBrowser', 'false');
  set('urAccepted', '-1');
  set('autoUpgradeIntervalH', '0');
  set('crashReportingEnabled', 'false');
  set('reconnectionIntervalS', '1');
  writeFileSync(configPath, xml);
  return { home, id, guiPort, apiKey, listen, configPath, timeFile };
}

interface Generated {
  home: string;
  id: string;
  guiPort: number;
  apiKey: string;
  listen: string;
  configPath: string;
  timeFile: string;
}

/** Writes `peer` into `self`'s config as a known device at its fixed address (before either starts). */
function addPeer(self: Generated, peer: Generated, name: string): void {
  const xml = readFileSync(self.configPath, 'utf8');
  const device = [
    `    <device id="${peer.id}" name="${name}" compression="never" introducer="false" skipIntroductionRemovals="false" introducedBy="">`,
    `        <address>${peer.listen}</address>`,
    '        <paused>false</paused>',
    '        <autoAcceptFolders>false</autoAcceptFolders>',
    '    </device>',
    '',
  ].join('\n');
  // After this instance's own <device> element, which the generated config lists first.
  const at = xml.indexOf('</device>') + '</device>\n'.length;
  writeFileSync(self.configPath, xml.slice(0, at) + device + xml.slice(at));
}

interface Completion {
  completion: number;
  needBytes: number;
  needItems: number;
  needDeletes: number;
  globalBytes: number;
}

interface ReceiverStatus {
  globalBytes: number;
  inSyncBytes: number;
  needBytes: number;
  needTotalItems: number;
  state: string;
}

interface Connections {
  total: { inBytesTotal: number; outBytesTotal: number };
}

export class SyncthingPair {
  private folders = 0;
  private constructor(
    readonly sender: Instance,
    readonly receiver: Instance,
  ) {}

  static async start(scratch: string, transport: SyncthingTransport, timeFile: () => string): Promise<SyncthingPair> {
    const ga = await generate(join(scratch, 'st-sender'), transport, timeFile());
    const gb = await generate(join(scratch, 'st-receiver'), transport, timeFile());
    // Each knows the other before it starts, so both dial at once instead of waiting for a retry.
    addPeer(ga, gb, 'receiver');
    addPeer(gb, ga, 'sender');
    const a = new Instance(ga.home, ga.id, ga.guiPort, ga.apiKey, ga.listen, ga.timeFile);
    const b = new Instance(gb.home, gb.id, gb.guiPort, gb.apiKey, gb.listen, gb.timeFile);
    const pair = new SyncthingPair(a, b);
    try {
      await Promise.all([a.waitUp(), b.waitUp()]);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const c = await a.api<{ connections: Record<string, { connected: boolean }> }>('GET', '/rest/system/connections');
        if (c.connections[b.deviceId]?.connected) break;
        if (Date.now() > deadline) throw new Error(`the two Syncthing instances did not connect within 60 s; sender log:\n${a.proc.stdout.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      await pair.stop();
      throw err;
    }
    return pair;
  }

  /** A new folder shared sender → receiver (send-only → receive-only); returns its id. */
  async addFolder(src: string, dest: string): Promise<string> {
    const id = `bench-${++this.folders}`;
    const folder = (path: string, type: string) => ({
      id,
      label: id,
      path,
      type,
      devices: [{ deviceID: this.sender.deviceId }, { deviceID: this.receiver.deviceId }],
      rescanIntervalS: 3600,
      fsWatcherEnabled: false,
      ignorePerms: false,
      autoNormalize: true,
      maxConflicts: 0,
    });
    await this.receiver.api('POST', '/rest/config/folders', folder(dest, 'receiveonly'));
    await this.sender.api('POST', '/rest/config/folders', folder(src, 'sendonly'));
    return id;
  }

  async wireBytes(): Promise<number> {
    const c = await this.sender.api<Connections>('GET', '/rest/system/connections');
    return c.total.inBytesTotal + c.total.outBytesTotal;
  }

  /**
   * Rescans `folder` on the sender (the call returns when the scan is done) and waits until the
   * sender sees the receiver at 100% with nothing needed.
   */
  async syncNow(folder: string, expectBytes: number, timeoutMs = 600_000): Promise<void> {
    const f = encodeURIComponent(folder);
    await this.sender.api('POST', `/rest/db/scan?folder=${f}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.sender.api<Completion>('GET', `/rest/db/completion?folder=${f}&device=${this.receiver.deviceId}`);
      if (c.completion >= 100 && c.needBytes === 0 && c.needItems === 0 && c.needDeletes === 0) {
        // The sender's view can be 100% before the receiver announced the folder at all.
        const r = await this.receiver.api<ReceiverStatus>('GET', `/rest/db/status?folder=${f}`);
        // Syncthing counts each folder as 128 bytes, so the global size is at least the file bytes.
        if (r.globalBytes >= expectBytes && r.inSyncBytes === r.globalBytes && r.needBytes === 0 && r.needTotalItems === 0) return;
      }
      if (Date.now() > deadline) throw new Error(`syncthing did not complete ${folder}: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async removeFolder(folder: string): Promise<void> {
    await this.sender.api('DELETE', `/rest/config/folders/${encodeURIComponent(folder)}`).catch(() => {});
    await this.receiver.api('DELETE', `/rest/config/folders/${encodeURIComponent(folder)}`).catch(() => {});
  }

  async stop(): Promise<void> {
    await Promise.all([this.sender, this.receiver].map((i) => i.api('POST', '/rest/system/shutdown').catch(() => {})));
    await Promise.all([this.sender.proc.done, this.receiver.proc.done].map((p) => Promise.race([p, new Promise((r) => setTimeout(r, 10_000))])));
    for (const i of [this.sender, this.receiver]) if (i.proc.running) await i.proc.stop('SIGKILL');
  }
}
