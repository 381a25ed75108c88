import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { TrustStore, normaliseFingerprint } from '../transport/trust-store.js';
import { formatHostPort, parseHostPort, parsePort } from '../transport/address.js';
import type { HostPort } from '../transport/types.js';
import { CONGESTION_CONTROLS, DATAGRAM_SIZE_MAX, DATAGRAM_SIZE_MIN, type CongestionControl } from '@leafsync/shared/transport';
import { resolveHome } from '../sessions/home.js';
import { fileOption } from '../sessions/local-paths.js';
import { CliError, createOutput, type Output } from './output.js';
import { describeCycle, describePass } from './describe-pass.js';
import { PassProgress } from './pass-progress.js';

/** commander calls these for option values; throwing InvalidArgumentError makes it print one clear line. */
function asArgument<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

const streamsOption = asArgument((v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error('streams must be a whole number from 1 to 64');
  return n;
});

const datagramOption = asArgument((v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < DATAGRAM_SIZE_MIN || n > DATAGRAM_SIZE_MAX) throw new Error(`--datagram-size must be a whole number of bytes from ${DATAGRAM_SIZE_MIN} to ${DATAGRAM_SIZE_MAX}`);
  return n;
});

/** See CongestionControl: CUBIC by default; BBR for lossy links, where CUBIC backs off at every lost datagram. */
function congestionOption(what: string): Option {
  return new Option('--congestion <algorithm>', `congestion control for ${what}: cubic (default) shares a link fairly; bbr keeps its rate under random loss (Wi-Fi, long lossy paths) but takes more than its share`).choices(
    CONGESTION_CONTROLS,
  );
}

const rateOption = asArgument((v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error('--rate-mbps must be a positive number of megabits per second');
  return n;
});

const secondsOption = asArgument((v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error('expected a number of seconds');
  return n;
});

const positiveSecondsOption = asArgument((v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error('expected a positive number of seconds');
  return n;
});

const msOption = asArgument((v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new Error('expected a whole number of milliseconds from 0 to 600000');
  return n;
});

// Each command imports its engine only when it runs: `leafsync id` or `trust list` should not
// pay for loading QUIC, SQLite and the API server.
function buildProgram(): Command {
  const program = new Command('leafsync')
    .description('peer-to-peer folder sync over QUIC')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--home <dir>', 'where identity and trust live (default: $LEAFSYNC_HOME or ~/.leafsync)')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (line, write) => write(line.replace(/^error:/, 'leafsync: error:')) });

  const home = () => resolveHome(program.opts<{ home?: string }>().home);

  program
    .command('serve')
    .description('share a folder (or one file in it) on one UDP port: read-only unless --allow-push')
    .argument('<folder>', 'folder to share')
    .option('--port <port>', 'UDP port (0 picks a free one)', asArgument(parsePort), 4455)
    .option('--bind <address>', 'address to listen on', '0.0.0.0')
    .option('--file <path>', 'share only this file (relative to the folder)', asArgument(fileOption))
    .option('--datagram-size <bytes>', 'largest UDP payload to send (default 1350; larger only on paths that carry it, e.g. 8192 on a LAN with jumbo frames or loopback)', datagramOption)
    .addOption(congestionOption('what the server sends (the data of a pull)'))
    .option('--allow-push', 'accept pushes (from `leafsync watch`) by clients authorised with `trust add-client`')
    .option('--accept-first-client', 'with --allow-push and no authorised client yet, authorise the first one that pushes')
    .option('--json', 'print machine-readable lines')
    .action(async (folder: string, o: ServeFlags) => {
      if (o.acceptFirstClient && !o.allowPush) throw new CliError('--accept-first-client needs --allow-push', 2);
      const out = createOutput(!!o.json);
      const [identity, { startServe }] = await Promise.all([loadOrCreateIdentity(home()), import('../sessions/serve-session.js')]);
      const running = await startServe({
        folder,
        bind: o.bind,
        port: o.port,
        identity,
        home: home(),
        ...(o.datagramSize !== undefined && { datagramSize: o.datagramSize }),
        ...(o.congestion !== undefined && { congestion: o.congestion }),
        ...(o.file !== undefined && { file: o.file }),
        ...(o.allowPush && { allowPush: true }),
        ...(o.acceptFirstClient && { acceptFirstClient: true }),
        log: out.notice,
      });
      const address = formatHostPort(running.address);
      out.result(
        { event: 'listening', host: running.address.host, port: running.address.port, fingerprint: running.fingerprint, folder: running.folder, ...(o.file !== undefined && { file: o.file }) },
        `serving ${o.file ? `${o.file} in ` : ''}${running.folder} on ${address} (UDP, ${o.allowPush ? 'authorised clients may push' : 'read-only'})\nfingerprint ${running.fingerprint}`,
      );
      await untilSignal();
      await running.close();
    });

  withPeerOptions(program.command('connect').description("pull a server's folder into a local folder and keep it identical"), {
    folder: 'local destination folder (created if its parent exists)',
    file: 'sync only this file (relative to the folder)',
    mirror: 'move local files the server does not have to .leafsync_trash (never deleted)',
    rate: 'limit the transfer rate, in megabits per second, across all streams',
  })
    .option('--in-place', 'update a large file by writing its changed chunks over it, not by replacing it whole (faster for small changes; an undo journal puts the old version back after a failure or crash)')
    .option('--interval <seconds>', 'pause between passes', secondsOption, 2)
    .option('--once', 'do one pass and exit: 0 when the folders match, 1 otherwise')
    .option('--json', 'print one JSON line per pass')
    .action(async (target: HostPort, folder: string, o: ConnectFlags) => {
      const out = createOutput(!!o.json);
      const h = home();
      const [peer, { runConnect }] = await Promise.all([peerSessionOptions(h, target, folder, o), import('../sessions/connect-session.js')]);
      const progress = new PassProgress((bytes) => out.result({ event: 'progress', bytesFetched: bytes }, `${(bytes / 1048576).toFixed(1)} MiB fetched`), out.json);
      const last = await untilStopped((signal) =>
        runConnect(
          { ...peer, ...(o.inPlace && { inPlace: true }) },
          {
            once: !!o.once,
            intervalMs: o.interval * 1000,
            signal,
            onConnected: (c) => notePinned(out, c),
            onPass: (r) => {
              progress.passDone();
              out.result({ event: 'pass', ...r }, describePass(r));
            },
            onEvent: progress.onEvent,
            onNotice: out.notice,
          },
        ),
      );
      progress.stop();
      if (o.once && last && last.failures.length > 0) {
        throw new CliError(`${last.failures.length} file(s) could not be synced; the folders do not match yet (first: ${last.failures[0]!.message})`);
      }
      if (o.once && last?.mirrorHalted !== undefined) throw new CliError(last.mirrorHalted);
    });

  withPeerOptions(program.command('watch').description('two-way sync: push local changes to a server started with --allow-push, pull its changes'), {
    folder: 'local folder (created if its parent exists)',
    file: 'watch and sync only this file (relative to the folder)',
    mirror: "propagate deletes both ways, each into that side's .leafsync_trash (never deleted)",
    rate: 'limit the transfer rate, in megabits per second, each way',
  })
    .option('--pull-interval <seconds>', 'pull remote changes at least this often', positiveSecondsOption, 10)
    .option('--debounce-ms <ms>', 'quiet time after the last local change before pushing', msOption, 500)
    .option('--json', 'print one JSON line per cycle')
    .action(async (target: HostPort, folder: string, o: WatchFlags) => {
      const out = createOutput(!!o.json);
      const h = home();
      const [peer, { runWatch }] = await Promise.all([peerSessionOptions(h, target, folder, o), import('../sessions/watch-session.js')]);
      await untilStopped((signal) =>
        runWatch(
          { ...peer, pullIntervalMs: o.pullInterval * 1000, debounceMs: o.debounceMs },
          {
            signal,
            onConnected: (c) => {
              notePinned(out, c);
              out.notice(`watching ${folder}; this client's fingerprint is ${peer.identity.fingerprint}`);
            },
            onCycle: (r) => {
              const line = describeCycle(r);
              if (out.json || line !== undefined) out.result({ event: 'cycle', ...r }, line ?? '');
            },
            onNotice: out.notice,
          },
        ),
      );
    });

  const trust = program.command('trust').description('pinned servers and authorised clients');
  trust
    .command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const store = await TrustStore.load(home());
      if (o.json) {
        process.stdout.write(JSON.stringify({ servers: store.servers(), clients: store.clients() }) + '\n');
        return;
      }
      const servers = store.servers();
      const clients = store.clients();
      if (servers.length === 0 && clients.length === 0) process.stdout.write('nothing pinned yet\n');
      for (const s of servers) process.stdout.write(`server  ${s.address}  ${s.fingerprint}\n`);
      for (const c of clients) process.stdout.write(`client  ${c.fingerprint}\n`);
    });
  trust
    .command('add')
    .argument('<host:port>', 'server address', asArgument(parseHostPort))
    .argument('<fingerprint>', "the server's fingerprint", asArgument(normaliseFingerprint))
    .action(async (target, fingerprint: string) => {
      const store = await TrustStore.load(home());
      await store.pinServer(formatHostPort(target), fingerprint);
      process.stdout.write(`pinned ${formatHostPort(target)} ${fingerprint}\n`);
    });
  trust
    .command('remove')
    .argument('<host:port>', 'server address', asArgument(parseHostPort))
    .action(async (target) => {
      const store = await TrustStore.load(home());
      const address = formatHostPort(target);
      if (!(await store.removeServer(address))) throw new CliError(`nothing is pinned for ${address} (see \`leafsync trust list\`)`);
      process.stdout.write(`removed ${address}\n`);
    });

  trust
    .command('add-client')
    .description('authorise a client to push to this peer when it serves with --allow-push')
    .argument('<fingerprint>', "the client's fingerprint, as `leafsync id` prints it there", asArgument(normaliseFingerprint))
    .action(async (fingerprint: string) => {
      const store = await TrustStore.load(home());
      await store.addClient(fingerprint);
      process.stdout.write(`authorised client ${fingerprint}\n`);
    });
  trust
    .command('remove-client')
    .argument('<fingerprint>', "the client's fingerprint", asArgument(normaliseFingerprint))
    .action(async (fingerprint: string) => {
      const store = await TrustStore.load(home());
      if (!(await store.removeClient(fingerprint))) throw new CliError(`client ${fingerprint} is not authorised (see \`leafsync trust list\`)`);
      process.stdout.write(`removed client ${fingerprint}\n`);
    });

  program
    .command('id')
    .description("print this peer's fingerprint")
    .action(async () => {
      const identity = await loadOrCreateIdentity(home());
      process.stdout.write(identity.fingerprint + '\n');
    });

  program
    .command('ui')
    .description('run the dashboard')
    .option('--port <port>', 'HTTP port', asArgument(parsePort), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (o: { port: number; host: string }) => {
      const { startUi } = await import('./ui-command.js');
      const running = await startUi({ host: o.host, port: o.port, home: home() });
      await untilSignal();
      await running.close();
    });

  return program;
}

interface ServeFlags {
  port: number;
  bind: string;
  file?: string;
  datagramSize?: number;
  congestion?: CongestionControl;
  allowPush?: boolean;
  acceptFirstClient?: boolean;
  json?: boolean;
}

/** The options connect and watch share: which server, how to trust it, what and how fast to sync. */
interface PeerFlags {
  acceptFirst?: boolean;
  fingerprint?: string;
  file?: string;
  mirror?: boolean;
  streams: number;
  rateMbps?: number;
  datagramSize?: number;
  congestion?: CongestionControl;
  timeout: number;
}

interface WatchFlags extends PeerFlags {
  pullInterval: number;
  debounceMs: number;
  json?: boolean;
}

interface ConnectFlags extends PeerFlags {
  inPlace?: boolean;
  interval: number;
  once?: boolean;
  json?: boolean;
}

/** connect's and watch's arguments and shared options; `help` words what differs between the two. */
function withPeerOptions(command: Command, help: { folder: string; file: string; mirror: string; rate: string }): Command {
  return command
    .argument('<host:port>', 'the server, e.g. 192.168.1.20:4455', asArgument(parseHostPort))
    .argument('<folder>', help.folder)
    .option('--accept-first', 'trust the server on first use and pin its fingerprint')
    .option('--fingerprint <hex>', "the server's fingerprint, as `leafsync id` prints it there", asArgument(normaliseFingerprint))
    .option('--file <path>', help.file, asArgument(fileOption))
    .option('--mirror', help.mirror)
    .option('--streams <n>', 'chunk requests in flight at once (1-64)', streamsOption, 8)
    .option('--rate-mbps <n>', help.rate, rateOption)
    .option('--datagram-size <bytes>', 'largest UDP payload to send (default 1350)', datagramOption)
    .addOption(congestionOption('what this side sends (the data of a push)'))
    .addOption(new Option('--timeout <seconds>', 'give up connecting after this long').argParser(secondsOption).default(10).hideHelp());
}

async function peerSessionOptions(home: string, target: HostPort, folder: string, o: PeerFlags) {
  const [identity, trust] = await Promise.all([loadOrCreateIdentity(home), TrustStore.load(home)]);
  return {
    target,
    folder,
    home,
    trust,
    identity,
    policy: { ...(o.acceptFirst && { acceptFirst: true }), ...(o.fingerprint !== undefined && { fingerprint: o.fingerprint }) },
    streams: o.streams,
    ...(o.mirror && { mirror: true }),
    ...(o.rateMbps !== undefined && { rateMbps: o.rateMbps }),
    ...(o.datagramSize !== undefined && { datagramSize: o.datagramSize }),
    ...(o.congestion !== undefined && { congestion: o.congestion }),
    handshakeTimeoutMs: o.timeout * 1000,
    ...(o.file !== undefined && { file: o.file }),
  };
}

/** From package.json, read at run time: the sources, tsc's build and the bundle all sit two folders below it. */
function packageVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

/**
 * Runs a session until it ends or Ctrl-C (or SIGTERM) aborts the signal it is given, which stops
 * it cleanly: transfers in progress keep what they have for the next run.
 */
async function untilStopped<T>(session: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    return await session(stop.signal);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

function notePinned(out: Output, c: { newlyPinned: boolean; address: string; fingerprint: string }): void {
  if (c.newlyPinned) out.notice(`pinned ${c.address} with fingerprint ${c.fingerprint}`);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve()).once('SIGTERM', () => resolve());
  });
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its one line (or the help text).
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`leafsync: error: ${message}\n`);
    const known = err instanceof CliError || typeof (err as { code?: unknown }).code === 'string';
    if (!known && process.env.LEAFSYNC_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
