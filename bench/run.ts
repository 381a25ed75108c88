/**
 * leafsync vs rsync (and plain TLS over TCP in Node) on loopback: W1–W6 of issue 6.
 *
 *   npm run bench                      # full: 1 GiB, 10,000 files, 3 runs each
 *   npm run bench -- --quick           # small sizes, 1 run each, about a minute
 *   npm run bench -- --only W1,W6 --runs 5 --profile --drop-caches --keep --big-mib 256 --files 2000 --streams 16
 *
 * See bench/README.md for what each column means and what is and is not cached.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync, fsyncSync, mkdtempSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { SeededStream, readThrough, writeSeededFile, writeSmallTree } from './lib/data.js';
import { CLI, LeafsyncServer, REPO, LAUNCH_FLAGS, leafsyncContinuous, leafsyncPull, type NodeFlags, type PassLine } from './lib/leafsync.js';
import { Measured, run, udpReceiveBufferDrops } from './lib/proc.js';
import { UdpRelay } from '../apps/sidecar/src/test-support/udp-relay.js';
import { markdownTable, median, rows, bytesHuman, seconds, type Sample, type ToolResult, type WorkloadResult } from './lib/report.js';
import { RsyncDaemon, ensureRsync, rsyncPull } from './lib/rsync.js';
import { SyncthingPair, ensureSyncthing } from './lib/syncthing.js';
import { ensureNgtcp2, ngtcp2Download } from './lib/ngtcp2.js';
import { RECENTLY_DELETED_S, createMicros, fsStateOf, noteCleanup, secondsToWaitAfterCleanup } from './lib/fs-state.js';

const MiB = 1 << 20;
const GiB = 1 << 30;

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    'drop-caches': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    workdir: { type: 'string' },
    'big-mib': { type: 'string' },
    files: { type: 'string' },
    streams: { type: 'string' },
    congestion: { type: 'string' },
    'with-syncthing': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (argv.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 9).join('\n'));
  process.exit(0);
}

const quick = argv.quick!;
const RUNS = argv.runs !== undefined ? Number(argv.runs) : quick ? 1 : 3;
const SIZES = quick
  ? { big: 64 * MiB, smallFiles: 500, insertFile: 32 * MiB }
  : { big: 1 * GiB, smallFiles: 10_000, insertFile: 256 * MiB };
if (argv['big-mib'] !== undefined) SIZES.big = Number(argv['big-mib']) * MiB;
if (argv.files !== undefined) SIZES.smallFiles = Number(argv.files);
const ONLY = new Set((argv.only ?? 'W1,W2,W3,W4,W5,W6').toUpperCase().split(',').map((s) => s.trim()));
/** W2 and W5 use the tree of 10,000 small files. */
const NEEDS_SMALL_TREE = ['W2', 'W5'].some((w) => ONLY.has(w));
const RESULTS = join(REPO, 'bench/results');
const STAMP = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, 'Z');
const PROFILE_DIR = argv.profile ? join(RESULTS, 'profiles', STAMP) : undefined;
const STREAMS = argv.streams !== undefined ? Number(argv.streams) : undefined; // leafsync's default (8) unless given
if (argv.congestion !== undefined && argv.congestion !== 'cubic' && argv.congestion !== 'bbr') throw new Error(`--congestion must be cubic or bbr, not ${argv.congestion}`);
/** Every leafsync process's congestion control (leafsync's default unless given; W6's extra row still runs bbr). */
const CONGESTION = argv.congestion;
const nodeFlags: NodeFlags & { streams?: number | undefined; congestion?: string | undefined } = { profileDir: PROFILE_DIR, streams: STREAMS, congestion: CONGESTION };

const log = (s: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const WORK = argv.workdir ?? mkdtempSync(join(os.tmpdir(), 'leafsync-bench-'));
mkdirSync(WORK, { recursive: true });
// One folder of run directories per invocation: a reused --workdir must not hand a "cold" run
// the destination an earlier bench filled (seen: W2 at 3.39 s, 1.1 MB on the wire).
mkdirSync(join(WORK, 'runs'), { recursive: true });
const RUNS_DIR = mkdtempSync(join(WORK, 'runs', `${STAMP}-`));
let seq = 0;
/** A fresh, never-used directory path (created unless `create` is false). */
function fresh(name: string, create = true): string {
  const p = join(RUNS_DIR, `${String(++seq).padStart(4, '0')}-${name}`);
  if (create) mkdirSync(p, { recursive: true });
  else mkdirSync(dirname(p), { recursive: true });
  return p;
}
const timeFile = (): string => join(RUNS_DIR, `${String(++seq).padStart(4, '0')}.time`);

// ---------------------------------------------------------------- helpers

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(4 * MiB);
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

function listFiles(root: string, skip = (_rel: string) => false): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      const rel = relative(root, abs);
      if (skip(rel)) continue;
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) out.push(rel);
    }
  };
  walk(root);
  return out.sort();
}

const internal = (rel: string): boolean => rel.startsWith('.leafsync_tmp') || rel.startsWith('.leafsync_trash') || rel === '.stfolder';

/** SHA-256 over the sorted (path, content hash) list of a tree: equal trees, equal digests. */
async function treeDigest(root: string): Promise<string> {
  const h = createHash('sha256');
  for (const rel of listFiles(root, internal)) h.update(`${rel}\0${createHash('sha256').update(readFileSync(join(root, rel))).digest('hex')}\n`);
  return h.digest('hex');
}

async function expectSameFile(copy: string, want: string, what: string): Promise<void> {
  const got = await sha256File(copy);
  if (got !== want) throw new Error(`${what}: the copy differs from the source (sha256 ${got} ≠ ${want})`);
}

async function expectSameTree(copy: string, want: string, what: string): Promise<void> {
  const got = await treeDigest(copy);
  if (got !== want) throw new Error(`${what}: the copied tree differs from the source`);
}

/** The same page-cache state for every tool before every run: warm (read through) or dropped. */
async function prepareCache(paths: string[]): Promise<void> {
  if (argv['drop-caches']) {
    await run('sync', []);
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  } else {
    await readThrough(paths);
  }
}

function allFiles(root: string): string[] {
  return listFiles(root, internal).map((r) => join(root, r));
}

/** Rotates the tool order each run, so no tool always goes first (or always follows a given one). */
function rotate<T>(xs: T[], k: number): T[] {
  const n = xs.length;
  return xs.map((_, i) => xs[(i + k) % n]!);
}

function tool(tool: string, label: string): ToolResult {
  return { tool, label, samples: [] };
}

// ---------------------------------------------------------------- one run of each tool

interface ColdSpec {
  /** Served folder. */
  src: string;
  /** Files to read (or drop) before each run. */
  warm: string[];
  /** Checks a finished copy. */
  verify: (dest: string, what: string) => Promise<void>;
  /** Removes a finished copy now (big files) or leaves it for the end (10k-file trees). */
  discard: (dest: string) => void;
}

/** leafsync with nothing cached: fresh server home (index), fresh client home, fresh destination. */
async function leafsyncCold(spec: ColdSpec, k: number, opts: { datagramSize?: number; congestion?: 'bbr'; relay?: { drop: number; seed: number } } = {}): Promise<{ sample: Sample; relay?: ReturnType<UdpRelay['stats']>; dest: string; serverHome: string; clientHome: string }> {
  const serverHome = fresh('serve-home');
  const clientHome = fresh('connect-home');
  const dest = fresh('dest', false);
  await prepareCache(spec.warm);
  const server = await LeafsyncServer.start(spec.src, serverHome, timeFile(), { ...nodeFlags, datagramSize: opts.datagramSize, congestion: opts.congestion ?? CONGESTION });
  let relay: UdpRelay | undefined;
  try {
    let address = server.address;
    if (opts.relay) {
      relay = await UdpRelay.start({ target: { host: '127.0.0.1', port: server.port }, seed: opts.relay.seed, drop: opts.relay.drop });
      address = `${relay.address.host}:${relay.address.port}`;
    }
    // Timed from the connect's spawn: the server's first scan (hashing the folder) overlaps it.
    const dropsBefore = udpReceiveBufferDrops();
    const r = await leafsyncPull(address, dest, clientHome, timeFile(), { ...nodeFlags, datagramSize: opts.datagramSize, congestion: opts.congestion ?? CONGESTION });
    const dropsAfter = udpReceiveBufferDrops();
    const stats = relay?.stats();
    const done = await server.stop();
    await spec.verify(dest, `leafsync run ${k}`);
    const sample: Sample = {
      run: k,
      wallMs: r.wallMs,
      clientRssKiB: r.usage?.maxRssKiB,
      serverRssKiB: done.usage?.maxRssKiB,
      clientCpuS: r.usage?.cpuSeconds,
      serverCpuS: done.usage?.cpuSeconds,
      // Through a relay: the UDP payload bytes it saw (handshake included). Otherwise QUIC's own
      // counters for the pass, which leave out the handshake (a few kB; see W5).
      ...(stats ? { wireBytes: stats.toServer.bytes + stats.toClient.bytes } : r.pass.wireBytes !== undefined ? { wireBytes: r.pass.wireBytes } : {}),
      detail: {
        pass: r.pass,
        ...(stats && { relay: stats }),
        ...(r.notices.length > 0 && { notices: r.notices }),
        ...(dropsBefore !== undefined && dropsAfter !== undefined && { kernelDrops: dropsAfter - dropsBefore }),
      },
    };
    return { sample, ...(stats && { relay: stats }), dest, serverHome, clientHome };
  } finally {
    await relay?.close();
    if (server.proc.running) await server.stop();
  }
}

/** Datagrams the kernel dropped during a leafsync run for want of receive-buffer room ('?' where unknown). */
function kernelDrops(sample: Sample): number | string {
  const drops = sample.detail?.kernelDrops;
  return typeof drops === 'number' ? drops : '?';
}

/** How many times a leafsync client replaced a connection whose answers kept stalling, from its notices. */
function redials(sample: Sample): number {
  const notices = (sample.detail?.notices ?? []) as string[];
  return notices.filter((line) => line.includes('continuing on a new one')).length;
}

async function rsyncCold(spec: ColdSpec, k: number, extraArgs: string[] = []): Promise<{ sample: Sample; dest: string }> {
  const dest = fresh('rsync-dest');
  await prepareCache(spec.warm);
  const daemon = await RsyncDaemon.start(spec.src, WORK, timeFile());
  try {
    const r = await rsyncPull(daemon.port, dest, timeFile(), extraArgs);
    const done = await daemon.stop();
    await spec.verify(dest, `rsync run ${k}`);
    return {
      sample: { run: k, wallMs: r.wallMs, wireBytes: r.wireBytes, clientRssKiB: r.usage?.maxRssKiB, serverRssKiB: done.usage?.maxRssKiB, clientCpuS: r.usage?.cpuSeconds, serverCpuS: done.usage?.cpuSeconds, detail: { sent: r.sent, received: r.received } },
      dest,
    };
  } finally {
    await daemon.stop();
  }
}

/**
 * A baseline pair of Node processes from bench/lib: `PEER server FILE …` sends the file to each
 * client, `PEER client PORT DEST` writes what arrives to DEST; no fsync. Plain TLS over TCP, and
 * leafsync's own QUIC transport alone (run with the leafsync command's Node flags).
 */
async function peerBaseline(name: string, peerFile: string, serverArgs: readonly string[], flags: readonly string[], file: string, k: number, want: string): Promise<Sample> {
  const peer = join(REPO, 'bench/lib', peerFile);
  const dest = join(fresh(`${peerFile.replace('.mjs', '')}-dest`), 'copy.bin');
  await prepareCache([file]);
  const server = new Measured(process.execPath, [...flags, peer, 'server', file, ...serverArgs], timeFile());
  const line = await server.waitForLine((l) => l.includes('"port"'), `the ${name} server to listen`, 10_000);
  const port = (JSON.parse(line) as { port: number }).port;
  const client = new Measured(process.execPath, [...flags, peer, 'client', String(port), dest], timeFile());
  const c = await client.done;
  const s = await server.stop();
  if (c.code !== 0) throw new Error(`${name} client failed: ${c.stderr}`);
  await expectSameFile(dest, want, `${name} run ${k}`);
  rmSync(dest, { force: true });
  return { run: k, wallMs: c.wallMs, clientRssKiB: c.usage?.maxRssKiB, serverRssKiB: s.usage?.maxRssKiB, clientCpuS: c.usage?.cpuSeconds, serverCpuS: s.usage?.cpuSeconds, detail: JSON.parse(c.stdout.trim().split('\n').pop()!) as Record<string, unknown> };
}

/** MB/s of one tool's median run over the big file (W1, W6). */
function bigMBps(t: ToolResult): number {
  return SIZES.big / 1e6 / (median(t.samples.map((s) => s.wallMs)) / 1000);
}

/** One ngtcp2 download of `file` (see lib/ngtcp2.ts), checked like every copy. */
async function ngtcp2Baseline(file: string, tls: { key: string; cert: string }, k: number, want: string): Promise<Sample> {
  await prepareCache([file]);
  const { server, client, dest } = await ngtcp2Download(file, fresh('ngtcp2'), tls, { server: timeFile(), client: timeFile() });
  await expectSameFile(dest, want, `ngtcp2 run ${k}`);
  rmSync(dest, { force: true });
  return { run: k, wallMs: client.wallMs, clientRssKiB: client.usage?.maxRssKiB, serverRssKiB: server.usage?.maxRssKiB, clientCpuS: client.usage?.cpuSeconds, serverCpuS: server.usage?.cpuSeconds };
}

// ---------------------------------------------------------------- persistent (incremental) series

/**
 * A leafsync pair that stays up for a series of "sync again" runs, as in real use: one serve
 * process (its index warm, start-up scan finished before the first run), one client home (index
 * and pin warm), one destination. Each timed run is a fresh `connect --once` process.
 */
class LeafsyncSeries {
  private constructor(
    readonly server: LeafsyncServer,
    readonly clientHome: string,
    readonly dest: string,
    /** `connect` flags of every run of this series (e.g. --in-place). */
    readonly flags: readonly string[],
  ) {}

  static async start(src: string, dest: string, serverHome: string, clientHome: string, flags: readonly string[] = []): Promise<LeafsyncSeries> {
    const server = await LeafsyncServer.start(src, serverHome, timeFile(), nodeFlags);
    await server.settle();
    const s = new LeafsyncSeries(server, clientHome, dest, flags);
    // Untimed: pins the server, fills the client's index of `dest`, proves the pair is in step.
    await leafsyncPull(server.address, dest, clientHome, timeFile(), { ...nodeFlags, flags });
    await server.settle();
    return s;
  }

  async timed(k: number, relay = false): Promise<{ sample: Sample; relay?: ReturnType<UdpRelay['stats']> }> {
    const cpu0 = this.server.cpuNow();
    let r;
    let stats: ReturnType<UdpRelay['stats']> | undefined;
    if (relay) {
      const rel = await UdpRelay.start({ target: { host: '127.0.0.1', port: this.server.port }, seed: k });
      try {
        r = await leafsyncPull(`${rel.address.host}:${rel.address.port}`, this.dest, this.clientHome, timeFile(), { ...nodeFlags, flags: this.flags });
        stats = rel.stats();
      } finally {
        await rel.close();
      }
    } else {
      r = await leafsyncPull(this.server.address, this.dest, this.clientHome, timeFile(), { ...nodeFlags, flags: this.flags });
    }
    const sample: Sample = {
      run: k,
      wallMs: r.wallMs,
      clientRssKiB: r.usage?.maxRssKiB,
      // The server's high-water mark so far (it has been up since the series started).
      serverRssKiB: this.server.peakRssKiBNow(),
      clientCpuS: r.usage?.cpuSeconds,
      serverCpuS: this.server.cpuNow() - cpu0,
      ...(stats && { wireBytes: stats.toServer.bytes + stats.toClient.bytes }),
      detail: { pass: r.pass, ...(stats && { relay: stats }) },
    };
    return { sample, ...(stats && { relay: stats }) };
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}

/** One way of running leafsync in a W3/W4 series: its row in the table and its pair of processes. */
interface LeafsyncVariant {
  tool: ToolResult;
  series: LeafsyncSeries;
}

/**
 * One round of W3/W4 after an edit of `source`: each tool in rotated order (or, on the extra
 * wire run k === RUNS, each leafsync variant alone through the clean relay) syncs the file with
 * the same page-cache preparation, and every copy is checked by SHA-256 against the edited source.
 */
async function syncEditedFile(o: {
  id: string;
  k: number;
  source: string;
  sourceDir: string;
  leafsync: LeafsyncVariant[];
  dests: { rs: string; st: string };
  tools: { rs: ToolResult; stq: ToolResult };
  stFolder: string | undefined;
}): Promise<void> {
  const { id, k, source, dests, stFolder } = o;
  const { rs, stq } = o.tools;
  const wireRun = k === RUNS;
  const name = basename(source);
  const want = await sha256File(source);
  const others = stFolder ? [rs, stq] : [rs];
  const order = wireRun ? o.leafsync.map((v) => v.tool) : rotate([...o.leafsync.map((v) => v.tool), ...others], k);
  for (const tr of order) {
    log(`${id} run ${k + 1}/${RUNS}: ${tr.tool}${wireRun ? ' through the clean relay, for wire bytes' : ''}`);
    const variant = o.leafsync.find((v) => v.tool === tr);
    if (variant) {
      const dest = join(variant.series.dest, name);
      await prepareCache([source, dest]);
      const r = await variant.series.timed(k, wireRun);
      if (wireRun) tr.relayWire = relayWire(r.relay!, r.sample.wallMs);
      else tr.samples.push(r.sample);
      await expectSameFile(dest, want, `${id} ${tr.tool} run ${k}`);
    } else if (tr === stq) {
      await prepareCache([source, join(dests.st, name)]);
      stq.samples.push(await syncthingAgain(syncthing!, stFolder!, statSync(source).size, k));
      await expectSameFile(join(dests.st, name), want, `${id} syncthing run ${k}`);
    } else {
      await prepareCache([source, join(dests.rs, name)]);
      rs.samples.push(await rsyncAgain(o.sourceDir, dests.rs, k));
      await expectSameFile(join(dests.rs, name), want, `${id} rsync run ${k}`);
    }
    log(`  ${((wireRun ? tr.relayWire!.wallMs : tr.samples.at(-1)!.wallMs) / 1000).toFixed(2)} s`);
  }
}

async function rsyncAgain(src: string, dest: string, k: number): Promise<Sample> {
  const daemon = await RsyncDaemon.start(src, WORK, timeFile());
  try {
    const r = await rsyncPull(daemon.port, dest, timeFile());
    const done = await daemon.stop();
    return { run: k, wallMs: r.wallMs, wireBytes: r.wireBytes, clientRssKiB: r.usage?.maxRssKiB, serverRssKiB: done.usage?.maxRssKiB, clientCpuS: r.usage?.cpuSeconds, serverCpuS: done.usage?.cpuSeconds, detail: { sent: r.sent, received: r.received } };
  } finally {
    await daemon.stop();
  }
}

const CONTINUOUS_INTERVAL_S = 0.5;

/** `n` passes (after a discarded first one) of one long-running connect, through a clean relay. */
async function continuousPasses(series: LeafsyncSeries, n: number): Promise<Sample[]> {
  const relay = await UdpRelay.start({ target: { host: '127.0.0.1', port: series.server.port }, seed: 7 });
  const proc = leafsyncContinuous(`${relay.address.host}:${relay.address.port}`, series.dest, series.clientHome, timeFile(), CONTINUOUS_INTERVAL_S, nodeFlags);
  const passes: Array<{ pass: PassLine; wire: number; serverCpu: number }> = [];
  proc.onLine = (line) => {
    if (!line.includes('"pass"')) return;
    const st = relay.stats();
    passes.push({ pass: JSON.parse(line) as PassLine, wire: st.toServer.bytes + st.toClient.bytes, serverCpu: series.server.cpuNow() });
  };
  try {
    await proc.waitForLine(() => passes.length >= n + 1, `${n + 1} passes of a running connect`, 120_000);
  } finally {
    await proc.stop('SIGTERM');
    await relay.close();
  }
  const out: Sample[] = [];
  for (let i = 1; i <= n; i++) {
    const p = passes[i]!;
    out.push({ run: i - 1, wallMs: p.pass.elapsedMs, wireBytes: p.wire - passes[i - 1]!.wire, serverCpuS: p.serverCpu - passes[i - 1]!.serverCpu, detail: { pass: p.pass } });
  }
  return out;
}

function relayWire(stats: ReturnType<UdpRelay['stats']>, wallMs: number): NonNullable<ToolResult['relayWire']> {
  return {
    bytes: stats.toServer.bytes + stats.toClient.bytes,
    toServer: stats.toServer.bytes,
    toClient: stats.toClient.bytes,
    datagrams: stats.toServer.datagrams + stats.toClient.datagrams,
    wallMs,
  };
}

// ---------------------------------------------------------------- Syncthing (--with-syncthing)

let syncthing: SyncthingPair | undefined;
let syncthingVersion = '';

/** A cold copy: a new folder on both instances (the sender scans it afresh), timed until complete. */
async function syncthingCold(pair: SyncthingPair, src: string, bytes: number, spec: ColdSpec, k: number): Promise<{ sample: Sample; dest: string; folder: string }> {
  const dest = fresh('syncthing-dest');
  await prepareCache(spec.warm);
  const cpu0 = [pair.sender.cpu(), pair.receiver.cpu()] as const;
  const wire0 = await pair.wireBytes();
  const t0 = performance.now();
  const folder = await pair.addFolder(src, dest);
  await pair.syncNow(folder, bytes);
  const wallMs = performance.now() - t0;
  const sample: Sample = {
    run: k,
    wallMs,
    wireBytes: (await pair.wireBytes()) - wire0,
    clientRssKiB: pair.receiver.peakRssKiB(),
    serverRssKiB: pair.sender.peakRssKiB(),
    clientCpuS: pair.receiver.cpu() - cpu0[1],
    serverCpuS: pair.sender.cpu() - cpu0[0],
  };
  await spec.verify(dest, `syncthing run ${k}`);
  return { sample, dest, folder };
}

/** Sync again: rescan on the sender, timed until the receiver is complete. */
async function syncthingAgain(pair: SyncthingPair, folder: string, bytes: number, k: number): Promise<Sample> {
  const cpu0 = [pair.sender.cpu(), pair.receiver.cpu()] as const;
  const wire0 = await pair.wireBytes();
  const t0 = performance.now();
  await pair.syncNow(folder, bytes);
  const wallMs = performance.now() - t0;
  return {
    run: k,
    wallMs,
    wireBytes: (await pair.wireBytes()) - wire0,
    clientRssKiB: pair.receiver.peakRssKiB(),
    serverRssKiB: pair.sender.peakRssKiB(),
    clientCpuS: pair.receiver.cpu() - cpu0[1],
    serverCpuS: pair.sender.cpu() - cpu0[0],
  };
}

// ---------------------------------------------------------------- workloads

const results: WorkloadResult[] = [];
const targets: Array<{ target: string; met: boolean | undefined; measured: string }> = [];

function record(w: WorkloadResult): void {
  results.push(w);
  console.log(`\n${markdownTable([w])}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`work dir ${WORK}; runs ${RUNS}; sizes ${JSON.stringify(SIZES)}; cache ${argv['drop-caches'] ? 'dropped before each run' : 'warm (source read through before each run)'}`);
  const rsyncVersion = await ensureRsync(log);
  const fsState = fsStateOf(WORK);
  const wait = quick ? 0 : secondsToWaitAfterCleanup(RESULTS, fsState);
  if (wait > 0) {
    log(`waiting ${wait} s: the last bench deleted its files less than ${RECENTLY_DELETED_S / 60} minutes ago, and until then creating files on ${fsState.description} is slower (see bench/lib/fs-state.ts)`);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
  /** Microseconds per file created, at the start and before W2 (the files are kept: deleting them would slow what follows). */
  const createCost: Array<[string, number]> = [['at the start', createMicros(WORK)]];
  const loadStart = os.loadavg();

  // Data, generated once and shared by every tool.
  const dataDir = join(WORK, 'data');
  const bigDir = join(dataDir, 'big');
  const bigFile = join(bigDir, 'big.bin');
  const smallDir = join(dataDir, 'small');
  const insDir = join(dataDir, 'insert');
  const insFile = join(insDir, 'insert.bin');
  let t = performance.now();
  const needBig = ['W1', 'W3', 'W6'].some((w) => ONLY.has(w));
  if (needBig) writeSeededFile(bigFile, SIZES.big, 'big');
  let small = { files: 0, bytes: 0 };
  if (NEEDS_SMALL_TREE) small = writeSmallTree(smallDir, SIZES.smallFiles, 'small');
  if (ONLY.has('W4')) writeSeededFile(insFile, SIZES.insertFile, 'insert');
  await run('sync', []);
  log(`generated data in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  let bigSha = needBig ? await sha256File(bigFile) : '';
  const smallDigest = NEEDS_SMALL_TREE ? await treeDigest(smallDir) : '';

  // A TLS identity for the plain-TLS and ngtcp2 baselines: the same ECDSA P-256 kind leafsync uses.
  const tlsHome = fresh('tls-home');
  await run(CLI, ['--home', tlsHome, 'id']);
  const tlsPem = { key: join(tlsHome, 'identity.key.pem'), cert: join(tlsHome, 'identity.cert.pem') };
  const ngtcp2Version = ONLY.has('W1') ? await ensureNgtcp2(log) : '';

  // Syncthing shares hard-linked copies of the data: it writes a .stfolder marker into every
  // folder it shares, which must not show up in the other tools' copies.
  const stDir = join(dataDir, 'syncthing');
  const stBig = join(stDir, 'big');
  const stSmall = join(stDir, 'small');
  const stIns = join(stDir, 'insert');
  if (argv['with-syncthing']) {
    syncthingVersion = await ensureSyncthing(log);
    mkdirSync(stDir, { recursive: true });
    for (const [from, to] of [[bigDir, stBig], [smallDir, stSmall], [insDir, stIns]] as const) if (existsSync(from)) await run('cp', ['-al', from, to]);
    syncthing = await SyncthingPair.start(join(WORK, 'syncthing'), 'quic', timeFile);
    log(`started ${syncthingVersion}: two instances over QUIC on 127.0.0.1, discovery/relays/NAT off`);
  }
  const stLabel = 'Syncthing over QUIC (from the rescan until the sender sees the receiver complete)';

  const bigSpec: ColdSpec = {
    src: bigDir,
    warm: [bigFile],
    verify: (dest, what) => expectSameFile(join(dest, 'big.bin'), bigSha, what),
    discard: (dest) => rmSync(dest, { recursive: true, force: true }),
  };
  const failed: string[] = [];
  /** Runs one workload; a failure is reported and the bench goes on with the next one. */
  const step = async (id: string, body: () => Promise<void>): Promise<void> => {
    try {
      await body();
    } catch (err) {
      failed.push(`${id}: ${(err as Error).message}`);
      log(`${id} FAILED: ${(err as Error).stack ?? String(err)}`);
    }
    writeReport(false);
  };
  let w1LeafsyncMBps = NaN;
  let w1RelayMBps = NaN;
  let w1RelayKernelDrops: number | string = '?';

  if (ONLY.has('W1')) await step('W1', async () => {
    log(`W1: cold copy of one ${bytesHuman(SIZES.big)} file`);
    const w: WorkloadResult = { id: 'W1', title: `cold copy of one ${SIZES.big / MiB} MiB file`, dataBytes: SIZES.big, tools: [], notes: [] };
    const ls = tool('leafsync', 'leafsync (1350-byte datagrams, default)');
    const ls8k = tool('leafsync-8192', 'leafsync --datagram-size 8192 (both sides; extra row)');
    const rs = tool('rsync', 'rsync daemon');
    const rsF = tool('rsync-fsync', 'rsync daemon --fsync (extra row: leafsync fsyncs, rsync by default does not)');
    const tls = tool('tls', 'plain TLS 1.3 over TCP in Node (baseline, no fsync)');
    const quic = tool('quic', "leafsync's QUIC transport alone, 1350-byte datagrams (baseline: one stream, no hashing, staging or fsync)");
    const ng = tool('ngtcp2', 'QUIC in C: ngtcp2\'s example server and client, 1350-byte datagrams (baseline: one HTTP/3 GET, no fsync)');
    const stq = tool('syncthing', stLabel);
    const order = syncthing ? [ls, rs, stq, ls8k, tls, quic, ng, rsF] : [ls, rs, ls8k, tls, quic, ng, rsF];
    for (let k = 0; k < RUNS; k++) {
      for (const tr of rotate(order, k)) {
        log(`W1 run ${k + 1}/${RUNS}: ${tr.tool}`);
        if (tr === ls || tr === ls8k) {
          const r = await leafsyncCold(bigSpec, k, tr === ls8k ? { datagramSize: 8192 } : {});
          tr.samples.push(r.sample);
          bigSpec.discard(r.dest);
        } else if (tr === rs || tr === rsF) {
          const r = await rsyncCold(bigSpec, k, tr === rsF ? ['--fsync'] : []);
          tr.samples.push(r.sample);
          bigSpec.discard(r.dest);
        } else if (tr === stq) {
          const r = await syncthingCold(syncthing!, stBig, SIZES.big, bigSpec, k);
          stq.samples.push(r.sample);
          await syncthing!.removeFolder(r.folder);
          bigSpec.discard(r.dest);
        } else if (tr === tls) {
          tr.samples.push(await peerBaseline('TLS', 'tls-peer.mjs', [tlsPem.key, tlsPem.cert], [], bigFile, k, bigSha));
        } else if (tr === ng) {
          tr.samples.push(await ngtcp2Baseline(bigFile, tlsPem, k, bigSha));
        } else {
          tr.samples.push(await peerBaseline('QUIC', 'quic-peer.mjs', [tlsHome], LAUNCH_FLAGS, bigFile, k, bigSha));
        }
        log(`  ${(tr.samples.at(-1)!.wallMs / 1000).toFixed(2)} s`);
      }
    }
    log('W1: one more leafsync run through a clean relay (0% drop) to count UDP bytes on the wire');
    const wire = await leafsyncCold(bigSpec, RUNS, { relay: { drop: 0, seed: 1 } });
    bigSpec.discard(wire.dest);
    ls.relayWire = relayWire(wire.relay!, wire.sample.wallMs);
    w.tools.push(ls, ls8k, rs, rsF, tls, quic, ng, ...(syncthing ? [stq] : []));
    w1LeafsyncMBps = bigMBps(ls);
    w1RelayMBps = SIZES.big / 1e6 / (wire.sample.wallMs / 1000);
    w1RelayKernelDrops = kernelDrops(wire.sample);
    const tlsMBps = bigMBps(tls);
    const quicMBps = bigMBps(quic);
    const ngMBps = bigMBps(ng);
    w.notes.push(
      `leafsync wire bytes: one extra run through a clean in-process UDP relay (${(wire.sample.wallMs / 1000).toFixed(2)} s, ${w1RelayMBps.toFixed(0)} MB/s through the relay; ${ls.relayWire.datagrams} datagrams); UDP payload bytes both ways, so QUIC headers, ACKs and the handshake count. rsync: --stats "Total bytes sent + received" (application bytes; no TCP/IP headers).`,
      `leafsync at 1350-byte datagrams moves ${((w1LeafsyncMBps / tlsMBps) * 100).toFixed(1)}% of plain TLS-over-TCP-in-Node throughput (${w1LeafsyncMBps.toFixed(0)} vs ${tlsMBps.toFixed(0)} MB/s); at 8192-byte datagrams ${((bigMBps(ls8k) / tlsMBps) * 100).toFixed(1)}%.`,
      `leafsync's QUIC transport alone (the same transport and Node flags, two processes, the file sent on one stream and written out, no hashing, staging file or fsync) moves ${quicMBps.toFixed(0)} MB/s: leafsync's W1 runs at ${((w1LeafsyncMBps / quicMBps) * 100).toFixed(0)}% of that; the rest is the engine (the server hashing the file first, the client checking and writing every chunk, the fsync and rename).`,
      `QUIC in C (${ngtcp2Version}, Debian's gtlsserver and gtlsclient: GnuTLS, one HTTP/3 GET of the file, both held to 1350-byte UDP payloads, the copy written without fsync) moves ${ngMBps.toFixed(0)} MB/s here: leafsync's transport alone runs at ${((quicMBps / ngMBps) * 100).toFixed(0)}% of that, its W1 at ${((w1LeafsyncMBps / ngMBps) * 100).toFixed(0)}%.`,
      'Cold: every leafsync run starts a new server with an empty home (no index cache), so the server hashes the file inside the timed window (from the connect spawn to its exit); the destination is new.',
      `Datagrams the kernel dropped because a UDP receive buffer was full (machine-wide /proc/net/snmp RcvbufErrors during each run; each one is a loss to QUIC): leafsync runs ${ls.samples.map(kernelDrops).join(', ')}; the clean-relay run ${kernelDrops(wire.sample)}.`,
    );
    record(w);
    const r0 = rows(w)[0]!;
    targets.push({ target: 'W1 ≤ 6 s for 1 GiB at 1350-byte datagrams (≥ 180 MB/s)', met: quick ? undefined : r0.wallMedianS <= 6, measured: `${r0.wallMedianS.toFixed(2)} s, ${r0.mbPerS?.toFixed(0)} MB/s` });
    targets.push({
      target: 'W1 peak RSS of either side ≤ 150 MiB',
      met: (r0.clientPeakRssMiB ?? Infinity) <= 150 && (r0.serverPeakRssMiB ?? Infinity) <= 150,
      measured: `client ${r0.clientPeakRssMiB?.toFixed(0)} MiB, server ${r0.serverPeakRssMiB?.toFixed(0)} MiB`,
    });
    targets.push({ target: 'W1 CPU seconds per GiB (report)', met: undefined, measured: `client ${r0.cpuSPerGiB?.client.toFixed(2)}, server ${r0.cpuSPerGiB?.server.toFixed(2)}` });
  });


  let w2Last: { leafsync?: { dest: string; serverHome: string; clientHome: string }; rsync?: string; syncthing?: { folder: string; dest: string } } = {};
  if (ONLY.has('W2') || ONLY.has('W5')) await step('W2', async () => {
    const smallSpec: ColdSpec = {
      src: smallDir,
      warm: allFiles(smallDir),
      verify: (dest, what) => expectSameTree(dest, smallDigest, what),
      discard: () => {}, // trees are deleted after all runs (deleting 10k files slows creating the next 10k here)
    };
    const n = ONLY.has('W2') ? RUNS : 1;
    createCost.push(['before W2', createMicros(WORK)]);
    log(`W2: cold copy of ${small.files} files (${bytesHuman(small.bytes)})${ONLY.has('W2') ? '' : ' (one untimed run to set up W5)'}`);
    const w: WorkloadResult = { id: 'W2', title: `cold copy of ${small.files} files of 1–64 KiB in nested folders`, dataBytes: small.bytes, tools: [], notes: [] };
    const ls = tool('leafsync', 'leafsync');
    const rs = tool('rsync', 'rsync daemon');
    const stq = tool('syncthing', stLabel);
    for (let k = 0; k < n; k++) {
      for (const tr of rotate(syncthing ? [ls, rs, stq] : [ls, rs], k)) {
        log(`W2 run ${k + 1}/${n}: ${tr.tool}`);
        if (tr === stq) {
          if (w2Last.syncthing) await syncthing!.removeFolder(w2Last.syncthing.folder);
          const r = await syncthingCold(syncthing!, stSmall, small.bytes, smallSpec, k);
          stq.samples.push(r.sample);
          w2Last.syncthing = { folder: r.folder, dest: r.dest };
        } else if (tr === ls) {
          const r = await leafsyncCold(smallSpec, k);
          ls.samples.push(r.sample);
          w2Last.leafsync = { dest: r.dest, serverHome: r.serverHome, clientHome: r.clientHome };
        } else {
          const r = await rsyncCold(smallSpec, k);
          rs.samples.push(r.sample);
          w2Last.rsync = r.dest;
        }
        log(`  ${(tr.samples.at(-1)!.wallMs / 1000).toFixed(2)} s`);
      }
    }
    if (ONLY.has('W2')) {
      w.tools.push(ls, rs, ...(syncthing ? [stq] : []));
      w.notes.push('Cold, as W1. leafsync wire bytes: QUIC\'s own counters for each pass (sent + received UDP payload, without the handshake), as the pass line reports them.');
      record(w);
      const r0 = rows(w)[0]!;
      targets.push({ target: 'W2 ≤ 5 s for 10,000 small files', met: quick ? undefined : r0.wallMedianS <= 5, measured: `${r0.wallMedianS.toFixed(2)} s (rsync ${rows(w)[1]!.wallMedianS.toFixed(2)} s)` });
    }
  });

  if (ONLY.has('W5')) await step('W5', async () => {
    log('W5: sync again over W2’s tree with nothing changed');
    const w: WorkloadResult = { id: 'W5', title: `sync again, nothing changed, over W2’s ${small.files} files`, tools: [], notes: [] };
    const ls = tool('leafsync', 'leafsync');
    const rs = tool('rsync', 'rsync daemon');
    const lsc = tool('leafsync-continuous', 'leafsync, next pass of a running `connect` (extra row)');
    const stq = tool('syncthing', stLabel);
    const series = await LeafsyncSeries.start(smallDir, w2Last.leafsync!.dest, w2Last.leafsync!.serverHome, w2Last.leafsync!.clientHome);
    /** Node's own start-up, right after each new-process run: the floor under that row this hour. */
    const nodeStartMs: number[] = [];
    try {
      for (let k = 0; k < RUNS; k++) {
        for (const tr of rotate(syncthing && w2Last.syncthing ? [ls, rs, stq] : [ls, rs], k)) {
          log(`W5 run ${k + 1}/${RUNS}: ${tr.tool}`);
          if (tr === stq) {
            await prepareCache(smallDirFiles());
            stq.samples.push(await syncthingAgain(syncthing!, w2Last.syncthing!.folder, small.bytes, k));
          } else if (tr === ls) {
            await prepareCache(smallDirFiles());
            ls.samples.push((await series.timed(k)).sample);
            nodeStartMs.push(nodeStartUpMs());
          } else {
            await prepareCache(smallDirFiles());
            rs.samples.push(await rsyncAgain(smallDir, w2Last.rsync!, k));
          }
          log(`  ${(tr.samples.at(-1)!.wallMs / 1000).toFixed(2)} s`);
        }
      }
      const wire = await series.timed(RUNS, true);
      ls.relayWire = relayWire(wire.relay!, wire.sample.wallMs);
      log('W5: passes of one running `connect` (no new process, no new handshake), through a clean relay');
      await prepareCache(smallDirFiles());
      lsc.samples.push(...(await continuousPasses(series, RUNS)));
      const pass = wire.sample.detail?.pass as { chunksFetched: number } | undefined;
      w.notes.push(
        `Both sides warm, as in real use: one leafsync server stays up for the series (index cache warm, start-up scan finished), one client home (pin and index warm, after one untimed pass); each timed run is a new \`connect --once\` process (Node start-up, identity load, QUIC+TLS handshake, scan of ${small.files} files on each side). rsync: a new client process against its daemon each run. The wire count (one extra run through a clean relay) includes the QUIC handshake with both certificates; chunks fetched: ${pass?.chunksFetched ?? '?'}.`,
      );
    } finally {
      await series.stop();
    }
    w.tools.push(ls, rs, lsc, ...(stq.samples.length ? [stq] : []));
    w.notes.push(
      `The continuous row: one \`connect --interval ${CONTINUOUS_INTERVAL_S}\` process through a clean relay; its first pass is discarded, each later pass is one sample: wall = the pass's own elapsedMs, wire = relay bytes between the previous pass line and this one (so it includes any keep-alive in the ${CONTINUOUS_INTERVAL_S} s pause). Both leafsync rows send the folder root last synced to (a new process reads it from the client home), so an unchanged folder costs one small round trip; this row also skips Node start-up, module loading and the QUIC handshake.`,
    );
    const nodeStartS = median(nodeStartMs) / 1000;
    w.notes.push(
      `Node's own start-up (\`node ${LAUNCH_FLAGS.join(' ')} -e 0\`, timed right after each new-process run): ${seconds(nodeStartS)} s median (${seconds(Math.min(...nodeStartMs) / 1000)}–${seconds(Math.max(...nodeStartMs) / 1000)}), part of every leafsync run in the first row; rsync is a C program.`,
    );
    record(w);
    const r0 = rows(w)[0]!;
    const rc = rows(w)[2]!;
    targets.push({ target: 'W5 (running connect, next pass) ≤ 0.3 s and ≤ 2 KiB on the wire', met: rc.wallMedianS <= 0.3 && (rc.wireBytes ?? Infinity) <= 2048, measured: `${seconds(rc.wallMedianS)} s, ${rc.wireBytes} B` });
    const passWire = median(ls.samples.map((x) => (x.detail?.pass as { wireBytes?: number } | undefined)?.wireBytes ?? NaN));
    targets.push({
      target: 'W5 ≤ 0.3 s and ≤ 2 KiB on the wire (new `connect --once` process)',
      met: r0.wallMedianS <= 0.3 && (r0.wireBytes ?? Infinity) <= 2048,
      measured: `${r0.wallMedianS.toFixed(2)} s (Node's own start-up ${seconds(nodeStartS)} s of it), ${r0.wireBytes} B UDP incl. the QUIC handshake (the pass alone, by QUIC's own counters: ${Number.isFinite(passWire) ? `${passWire} B` : 'not reported'}); rsync ${rows(w)[1]!.wallMedianS.toFixed(2)} s, ${rows(w)[1]!.wireBytes} B`,
    });
  });
  function nodeStartUpMs(): number {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...LAUNCH_FLAGS, '-e', '0']);
    if (r.status !== 0) throw new Error(`node -e 0 exited ${r.status ?? r.signal}`);
    return performance.now() - t0;
  }
  function smallDirFiles(): string[] {
    return allFiles(smallDir);
  }

  if (ONLY.has('W3')) await step('W3', async () => {
    const offset = Math.floor(SIZES.big / 2 / MiB) * MiB;
    log(`W3: overwrite 1 MiB at ${offset / MiB} MiB (chunk-aligned) of the ${SIZES.big / MiB} MiB file, sync again`);
    const w: WorkloadResult = { id: 'W3', title: `overwrite 1 MiB (chunk-aligned) in the middle of the ${SIZES.big / MiB} MiB file, sync again`, tools: [], notes: [] };
    const ls = tool('leafsync', 'leafsync');
    const rs = tool('rsync', 'rsync daemon (delta algorithm)');
    const stq = tool('syncthing', stLabel);
    const lsi = tool('leafsync --in-place', 'leafsync --in-place (changed chunks written over the file, with an undo journal)');
    const lsDest = fresh('w3-leafsync-dest');
    const lsiDest = fresh('w3-leafsync-in-place-dest');
    const rsDest = fresh('w3-rsync-dest');
    const stDest = fresh('w3-syncthing-dest');
    copyFileSync(bigFile, join(lsDest, 'big.bin'));
    copyFileSync(bigFile, join(lsiDest, 'big.bin'));
    copyFileSync(bigFile, join(rsDest, 'big.bin'));
    if (syncthing) copyFileSync(bigFile, join(stDest, 'big.bin'));
    await run('sync', []);
    // Untimed: both instances index the folder and agree before the first edit.
    const stFolder = syncthing ? await syncthing.addFolder(stBig, stDest) : undefined;
    if (stFolder) await syncthing!.syncNow(stFolder, SIZES.big);
    const series = await LeafsyncSeries.start(bigDir, lsDest, fresh('w3-serve-home'), fresh('w3-connect-home'));
    const inPlaceSeries = await LeafsyncSeries.start(bigDir, lsiDest, fresh('w3-in-place-serve-home'), fresh('w3-in-place-connect-home'), ['--in-place']).catch(async (err: unknown) => {
      await series.stop();
      throw err;
    });
    const leafsync = [
      { tool: ls, series },
      { tool: lsi, series: inPlaceSeries },
    ];
    try {
      // Prime rsync the same way (untimed): its destination matches the source before the first edit.
      await rsyncAgain(bigDir, rsDest, -1);
      for (let k = 0; k <= RUNS; k++) {
        overwrite(bigFile, offset, new SeededStream(`w3-${k}`).next(MiB)); // Syncthing's copy is a hard link: edited too
        await syncEditedFile({ id: 'W3', k, source: bigFile, sourceDir: bigDir, leafsync, dests: { rs: rsDest, st: stDest }, tools: { rs, stq }, stFolder });
      }
    } finally {
      await series.stop();
      await inPlaceSeries.stop();
    }
    if (stFolder) await syncthing!.removeFolder(stFolder);
    w.tools.push(ls, rs, ...(stFolder ? [stq] : []), lsi);
    w.notes.push(
      'Each run writes a different seeded 1 MiB at the same chunk-aligned offset (once, then both tools sync it). leafsync: one server up for the series (index warm before the first edit), so the server re-hashes the edited file inside the timed window, as it must; the client\'s index of its copy is warm. Source and both copies are read through the page cache before each run. The wire run is one more edit synced by each leafsync variant only, through a clean relay. leafsync (default) seeds a new copy from its old one and re-hashes, flushes and renames it; --in-place writes the changed chunk over the file after journalling the old one (a separate server and copy, so each variant\'s server re-hashes the edit in its own timed run).',
    );
    record(w);
    const [copyRow, rsyncRow] = rows(w);
    const inPlaceRow = rows(w).at(-1)!;
    targets.push({
      target: 'W3 ≤ 2 s and ≤ 1.2 MiB on the wire',
      met: quick ? undefined : inPlaceRow.wallMedianS <= 2 && (inPlaceRow.wireBytes ?? Infinity) <= 1.2 * MiB,
      measured: `--in-place ${inPlaceRow.wallMedianS.toFixed(2)} s, ${bytesHuman(inPlaceRow.wireBytes)}; default (whole copy) ${copyRow!.wallMedianS.toFixed(2)} s, ${bytesHuman(copyRow!.wireBytes)} (rsync ${rsyncRow!.wallMedianS.toFixed(2)} s, ${bytesHuman(rsyncRow!.wireBytes)})`,
    });
    for (const d of [lsDest, lsiDest, rsDest, stDest]) rmSync(d, { recursive: true, force: true });
  });

  if (ONLY.has('W4')) await step('W4', async () => {
    log(`W4: insert 100 bytes near the start of a ${SIZES.insertFile / MiB} MiB file, sync again`);
    const w: WorkloadResult = { id: 'W4', title: `insert 100 bytes near the start of a ${SIZES.insertFile / MiB} MiB file, sync again`, tools: [], notes: [] };
    const ls = tool('leafsync', 'leafsync (fixed 1 MiB chunks)');
    const rs = tool('rsync', 'rsync daemon (delta algorithm)');
    const stq = tool('syncthing', stLabel);
    const lsDest = fresh('w4-leafsync-dest');
    const rsDest = fresh('w4-rsync-dest');
    const stDest = fresh('w4-syncthing-dest');
    copyFileSync(insFile, join(lsDest, 'insert.bin'));
    copyFileSync(insFile, join(rsDest, 'insert.bin'));
    if (syncthing) copyFileSync(insFile, join(stDest, 'insert.bin'));
    await run('sync', []);
    const stFolder = syncthing ? await syncthing.addFolder(stIns, stDest) : undefined;
    if (stFolder) await syncthing!.syncNow(stFolder, SIZES.insertFile);
    const series = await LeafsyncSeries.start(insDir, lsDest, fresh('w4-serve-home'), fresh('w4-connect-home'));
    try {
      await rsyncAgain(insDir, rsDest, -1);
      for (let k = 0; k <= RUNS; k++) {
        insertBytes(insFile, 4096, new SeededStream(`w4-${k}`).next(100));
        if (stFolder) {
          // The new version was renamed in: hard-link it into Syncthing's folder too.
          rmSync(join(stIns, 'insert.bin'));
          linkSync(insFile, join(stIns, 'insert.bin'));
        }
        await syncEditedFile({ id: 'W4', k, source: insFile, sourceDir: insDir, leafsync: [{ tool: ls, series }], dests: { rs: rsDest, st: stDest }, tools: { rs, stq }, stFolder });
      }
    } finally {
      await series.stop();
    }
    if (stFolder) await syncthing!.removeFolder(stFolder);
    w.tools.push(ls, rs, ...(stFolder ? [stq] : []));
    w.notes.push(
      `Each run inserts 100 new seeded bytes at offset 4096 (the file is rewritten beside the folder and renamed in). Fixed 1 MiB chunks: every chunk after the insertion point shifts, so leafsync re-sends almost the whole file (${bytesHuman(ls.relayWire?.bytes)} on the wire for a ${SIZES.insertFile / MiB} MiB file); rsync's rolling checksum finds the shifted blocks and sends about 100 bytes plus its block checksums. Reported as measured; not a target.`,
    );
    record(w);
  });

  if (ONLY.has('W6')) await step('W6', async () => {
    log('W6: W1 through the relay dropping 2% of datagrams (each direction, seeded)');
    bigSha = await sha256File(bigFile); // W3 edited it in place meanwhile
    const w: WorkloadResult = { id: 'W6', title: `W1 with 2% of datagrams dropped`, dataBytes: SIZES.big, tools: [], notes: [] };
    const ls = tool('leafsync', 'leafsync via relay, 2% drop');
    const lsBbr = tool('leafsync-bbr', 'leafsync --congestion bbr (both sides; extra row)');
    for (let k = 0; k < RUNS; k++) {
      // Alternated, and each run of either gets the same loss pattern (seed).
      for (const tr of k % 2 === 0 ? [ls, lsBbr] : [lsBbr, ls]) {
        log(`W6 run ${k + 1}/${RUNS}: ${tr.tool}`);
        const r = await leafsyncCold(bigSpec, k, { relay: { drop: 0.02, seed: 1000 + k }, ...(tr === lsBbr && { congestion: 'bbr' as const }) });
        tr.samples.push(r.sample);
        bigSpec.discard(r.dest);
        log(`  ${(r.sample.wallMs / 1000).toFixed(2)} s, dropped ${r.relay!.toServer.dropped + r.relay!.toClient.dropped} of ${r.relay!.toServer.datagrams + r.relay!.toClient.datagrams} datagrams (the kernel ${kernelDrops(r.sample)} more), ${redials(r.sample)} new connections`);
      }
    }
    w.tools.push(ls, lsBbr);
    const mbps = bigMBps(ls);
    w.notes.push(`Connections the client replaced after answers kept stalling on one (its notice \`continuing on a new one\`), per run: ${ls.samples.map(redials).join(', ')} (default), ${lsBbr.samples.map(redials).join(', ')} (bbr).`);
    const bbrMbps = bigMBps(lsBbr);
    w.notes.push(
      Number.isFinite(w1LeafsyncMBps)
        ? `Every run completed and the copy was identical (SHA-256 checked). Throughput ${mbps.toFixed(0)} MB/s = ${(mbps / w1LeafsyncMBps).toFixed(2)}× W1 direct (${w1LeafsyncMBps.toFixed(0)} MB/s) and ${(mbps / w1RelayMBps).toFixed(2)}× W1 through the same relay with no drop (${w1RelayMBps.toFixed(0)} MB/s, though the kernel dropped ${w1RelayKernelDrops} of its datagrams for want of buffer room). The relay runs in the bench process and costs CPU on this 2-core machine, so the second ratio separates the loss from that cost, as far as the clean run lost nothing of its own.`
        : `Every run completed and the copy was identical (SHA-256 checked); ${mbps.toFixed(0)} MB/s. W1 was not run, so there is no ratio.`,
      `The default congestion control is CUBIC, which cuts its window at every loss, random or not. The extra row runs both sides with --congestion bbr (BBRv1, which does not take random loss for congestion): ${bbrMbps.toFixed(0)} MB/s${Number.isFinite(w1LeafsyncMBps) ? ` = ${(bbrMbps / w1LeafsyncMBps).toFixed(2)}× W1 direct` : ''}. The target is judged on the default.`,
    );
    record(w);
    targets.push({ target: 'W6 completes, identical, ≥ 0.5× the same run’s W1 throughput', met: Number.isFinite(w1LeafsyncMBps) ? mbps / w1LeafsyncMBps >= 0.5 : undefined, measured: `${mbps.toFixed(0)} MB/s: ${(mbps / w1LeafsyncMBps).toFixed(2)}× W1 direct, ${(mbps / w1RelayMBps).toFixed(2)}× W1 via clean relay` });
  });

  await syncthing?.stop();
  writeReport(true);
  if (failed.length > 0) process.exitCode = 1;

  // ---------------------------------------------------------------- report
  function writeReport(final: boolean): void {
    const loadEnd = os.loadavg();
    const machine = {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      memGiB: +(os.totalmem() / GiB).toFixed(1),
      kernel: os.release(),
      node: process.version,
      rsync: rsyncVersion,
      ...(syncthingVersion && { syncthing: syncthingVersion }),
      loadAvgStart: loadStart.map((x) => +x.toFixed(2)),
      loadAvgEnd: loadEnd.map((x) => +x.toFixed(2)),
      fileSystem: fsState.description,
      createMicros: Object.fromEntries(createCost.map(([when, us]) => [when, +us.toFixed(1)])),
    };
    const md = [
      `# leafsync bench — ${new Date().toISOString()}${quick ? ' (--quick: small sizes, not the targets)' : ''}${final ? '' : ' (partial: still running)'}`,
      '',
      `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}, ${machine.rsync}${syncthingVersion ? `, ${syncthingVersion}` : ''}. Load average (1/5/15 min) at start ${machine.loadAvgStart.join(' / ')}, at end ${machine.loadAvgEnd.join(' / ')}. Loopback (127.0.0.1). File system ${machine.fileSystem}; creating an empty file took ${createCost.map(([when, us]) => `${us.toFixed(0)} µs ${when}`).join(', ')}. Runs per tool: ${RUNS}, tools alternated. Page cache: ${argv['drop-caches'] ? 'dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every run' : 'warm: the source (and, for W3/W4, the tool\'s own copy) read through just before every run'}. Total ${((Date.now() - started) / 1000).toFixed(0)} s.`,
      '',
      markdownTable(results),
      '',
      '## Notes',
      '',
      ...results.flatMap((w) => w.notes.map((n) => `- **${w.id}** ${n}`)),
      '',
      '## Targets (issue 6)',
      '',
      '| target | measured | met |',
      '| --- | --- | --- |',
      ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === undefined ? (quick ? 'n/a (--quick)' : 'report') : t.met ? 'yes' : '**no**'} |`),
      '',
      ...(failed.length > 0 ? ['## Failed', '', ...failed.map((f) => `- ${f}`), ''] : []),
    ].join('\n');
    mkdirSync(RESULTS, { recursive: true });
    const json = { when: new Date().toISOString(), quick, runs: RUNS, sizes: SIZES, machine, dropCaches: argv['drop-caches'], workloads: results, rows: results.flatMap(rows), targets, failed, final };
    for (const name of [`bench-${STAMP}`, 'latest']) {
      writeFileSync(join(RESULTS, `${name}.md`), md);
      writeFileSync(join(RESULTS, `${name}.json`), JSON.stringify(json, null, 2));
    }
    if (final) {
      console.log(md);
      log(`wrote ${join(RESULTS, `bench-${STAMP}.md`)} and .json${PROFILE_DIR ? `; CPU profiles in ${PROFILE_DIR}` : ''}`);
    }
  }
}

/** Writes `bytes` at `offset` in place and fsyncs (the file's mtime moves, its size does not). */
function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A new version of `path` with `bytes` inserted at `at`: written beside the folder, renamed in. */
function insertBytes(path: string, at: number, bytes: Buffer): void {
  const old = readFileSync(path);
  const tmp = join(dirname(dirname(path)), `.insert-${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, old, 0, at);
    writeSync(fd, bytes);
    writeSync(fd, old, at, old.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (statSync(path).size !== old.length + bytes.length) throw new Error('insert failed');
}

try {
  await main();
} finally {
  await syncthing?.stop();
  if (!argv.keep && argv.workdir === undefined) {
    log(`removing ${WORK}`);
    rmSync(WORK, { recursive: true, force: true });
    // Only W2's trees free inodes by the ten thousand; deleting W1's few big files slows nothing.
    if (NEEDS_SMALL_TREE) noteCleanup(RESULTS);
  } else log(`kept ${WORK}`);
}
