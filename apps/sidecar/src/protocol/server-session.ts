import type { QuicConnection, QuicStream } from '../transport/types.js';
import type { FileSummary, RelPath, RemoteFolder } from '../engine/types.js';
import { bytesEqual, folderRoot } from '../engine/merkle.js';
import { encodeFrame, encodeFrameAround, readFrames } from './frame-codec.js';
import { PushReceiver, type PushTarget } from './push-receiver.js';
import { fingerprintOf } from '../transport/identity.js';
import {
  ENTRIES_PER_BATCH,
  MAX_ENTRIES,
  MAX_UNREADABLE,
  HASHES_PER_BATCH,
  HASH_BYTES,
  MAX_REQUEST_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  RequestRefusedError,
  expectMessage,
  request,
  type ErrorMessage,
  type Request,
} from './messages.js';

export interface ServedFolder {
  /** The folder's read side; one instance is shared by every connection so its hash cache is too. */
  source: RemoteFolder;
  /** Present when the folder accepts pushes (`serve --allow-push`); otherwise it is read-only. */
  push?: PushTarget;
  /** With `serve --file`, the one path that may be asked about. */
  servedFile?: RelPath;
  log?: (line: string) => void;
}

/** Errors whose message is meant for the peer; anything else is reported as an internal error. */
function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

interface ConnectionState {
  conn: QuicConnection;
  greeted: boolean;
  /** Set once the client said hello in push mode and its certificate is authorised. */
  pusher?: PushReceiver;
}

/** Serves every stream the client opens on `conn` until the connection closes. */
export async function serveConnection(conn: QuicConnection, folder: ServedFolder): Promise<void> {
  const state: ConnectionState = { conn, greeted: false };
  const inFlight = new Set<Promise<void>>();
  for await (const stream of conn.incomingStreams()) {
    const task = serveStream(stream, folder, state).finally(() => inFlight.delete(task));
    inFlight.add(task);
  }
  await Promise.all(inFlight);
}

async function serveStream(stream: QuicStream, folder: ServedFolder, state: ConnectionState): Promise<void> {
  try {
    const frames = readFrames(stream, MAX_REQUEST_BYTES);
    const first = await frames.next();
    if (first.done) throw new ProtocolError('stream closed before a request');
    const req = expectMessage(request, first.value, 'request');
    if (req.t !== 'hello') {
      if (!state.greeted) throw new ProtocolError('request before hello');
      await stream.write(encodeFrame({ t: 'accepted' }));
    }
    await answer(stream, req, folder, state);
    await stream.end();
  } catch (err) {
    try {
      await stream.write(encodeFrame(errorFor(err, folder)));
      await stream.end();
    } catch {
      stream.reset();
    }
  }
}

/** The error message a failed request (or one file of a batch) is answered with; internal errors are logged, not told. */
function errorFor(err: unknown, folder: ServedFolder): ErrorMessage {
  const code = errorCode(err);
  if (code === undefined) folder.log?.(`internal error serving a request: ${(err as Error).stack ?? String(err)}`);
  return { t: 'error', code: code ?? 'INTERNAL', message: code === undefined ? 'internal error on the server' : (err as Error).message };
}

function checkServed(folder: ServedFolder, path: RelPath): void {
  if (folder.servedFile !== undefined && path !== folder.servedFile) {
    throw new RequestRefusedError('NOT_SERVED', `this server shares only "${folder.servedFile}", not "${path}"`);
  }
}

async function answer(stream: QuicStream, req: Request, folder: ServedFolder, state: ConnectionState): Promise<void> {
  const send = (message: unknown) => stream.write(encodeFrame(message));
  const sendChunk = async (i: number, data: Uint8Array) => {
    const [head, bytes] = encodeFrameAround({ t: 'chunk', i }, 'data', data);
    // Both writes are queued at once; awaiting them together keeps either failure handled.
    await Promise.all([stream.write(head), stream.write(bytes)]);
  };
  switch (req.t) {
    case 'hello': {
      if (req.v !== PROTOCOL_VERSION) {
        throw new RequestRefusedError('VERSION', `the client speaks protocol v${req.v}, this server speaks v${PROTOCOL_VERSION}: run the same leafsync version on both sides`);
      }
      if (req.mode === 'push') state.pusher = await authorisePusher(state.conn, folder);
      state.greeted = true;
      await send({ t: 'welcome', v: PROTOCOL_VERSION, ...(folder.servedFile !== undefined && { file: folder.servedFile }) });
      return;
    }
    case 'summary': {
      if (req.only !== undefined) checkServed(folder, req.only);
      const summary = await folder.source.summary();
      const entries = req.only === undefined ? summary.entries : summary.entries.filter((e) => e.path === req.only);
      if (req.only !== undefined && !entries.some((e) => e.type === 'file')) {
        // Not in the listing: let the source say why (ignored, internal, not a file, missing).
        await folder.source.chunkHashes(req.only);
        throw new RequestRefusedError('NOT_FOUND', `the server has no file "${req.only}"`);
      }
      const root = req.only === undefined ? summary.root : folderRoot(entries);
      // The client already has this exact folder: one small answer instead of the whole listing.
      if (req.known !== undefined && bytesEqual(req.known, root)) {
        await send({ t: 'summary-head', root, count: 0, unchanged: true });
        return;
      }
      if (entries.length > MAX_ENTRIES) {
        throw new RequestRefusedError('TOO_MANY_ENTRIES', `this folder has ${entries.length} entries, more than the ${MAX_ENTRIES} one listing may hold; serve a subfolder instead`);
      }
      const unreadable = req.only === undefined ? (summary.unreadable ?? []) : [];
      if (unreadable.length > MAX_UNREADABLE) {
        throw new RequestRefusedError(
          'TOO_MANY_UNREADABLE',
          `the server could not read ${unreadable.length} files or folders (${unreadable.slice(0, 3).join(', ')}, …), more than one listing may name; fix their permissions or exclude them in .leafsyncignore`,
        );
      }
      await send({ t: 'summary-head', root, count: entries.length, ...(unreadable.length > 0 && { unreadable }) });
      for (let at = 0; at < entries.length; at += ENTRIES_PER_BATCH) {
        await send({ t: 'entries', entries: entries.slice(at, at + ENTRIES_PER_BATCH).map(toWireEntry) });
      }
      return;
    }
    case 'hashes': {
      checkServed(folder, req.path);
      const hashes = await folder.source.chunkHashes(req.path);
      await send({ t: 'hashes-head', count: hashes.length });
      for (let at = 0; at < hashes.length; at += HASHES_PER_BATCH) {
        const batch = hashes.slice(at, at + HASHES_PER_BATCH);
        const packed = Buffer.allocUnsafe(batch.length * HASH_BYTES);
        batch.forEach((h, i) => packed.set(h, i * HASH_BYTES));
        await send({ t: 'hash-batch', hashes: packed });
      }
      return;
    }
    case 'chunks': {
      checkServed(folder, req.path);
      await folder.source.fetchChunks(req.path, req.indices, sendChunk);
      return;
    }
    case 'first-chunks': {
      for (const path of req.paths) {
        let sent = false;
        try {
          checkServed(folder, path);
          await folder.source.fetchChunks(path, [0], async (i, data) => {
            sent = true;
            await sendChunk(i, data);
          });
        } catch (err) {
          // After its chunk, an error would be taken for the next file's answer: end the whole answer.
          if (sent) throw err;
          await send(errorFor(err, folder));
        }
      }
      return;
    }
    case 'push': {
      checkServed(folder, req.entry.path);
      const { chunks, bytes } = await pusherOf(state).push(req.entry, req.base);
      await send({ t: 'pushed', chunks, bytes });
      return;
    }
    case 'delete': {
      checkServed(folder, req.path);
      await pusherOf(state).delete(req.path, req.base);
      await send({ t: 'deleted' });
      return;
    }
  }
}

async function authorisePusher(conn: QuicConnection, folder: ServedFolder): Promise<PushReceiver> {
  if (folder.push === undefined) {
    throw new RequestRefusedError('READ_ONLY', 'this server is read-only: start it with `leafsync serve --allow-push` to accept pushes');
  }
  const cert = conn.peerCertificate();
  if (cert === undefined) throw new RequestRefusedError('NOT_AUTHORISED', 'pushing needs a client certificate; this client presented none');
  const fingerprint = fingerprintOf(cert);
  if (!(await folder.push.authorise(fingerprint))) {
    throw new RequestRefusedError(
      'NOT_AUTHORISED',
      `this server does not accept pushes from client ${fingerprint}. On the server, after checking that fingerprint with \`leafsync id\` on this client, run \`leafsync trust add-client ${fingerprint}\``,
    );
  }
  folder.log?.(`client ${fingerprint.slice(0, 16)}… authorised to push`);
  return new PushReceiver(conn, folder.push, fingerprint);
}

function pusherOf(state: ConnectionState): PushReceiver {
  if (state.pusher === undefined) throw new RequestRefusedError('NOT_AUTHORISED', 'push before an authorised hello in push mode');
  return state.pusher;
}

function toWireEntry(e: FileSummary): FileSummary {
  return { path: e.path, type: e.type, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode, root: e.root };
}
