import assert from 'node:assert/strict';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { SessionEvent, WatchCycleSummary } from '@leafsync/shared';
import { startUi, type RunningUi } from '../cli/ui-command.js';
import { loadOrCreateIdentity } from '../transport/identity.js';
import { TrustStore } from '../transport/trust-store.js';
import { SessionManager } from '../sessions/session-manager.js';
import { hashTree, seededBytes, tempDirs, writeTree } from '../test-support/trees.js';
import { UdpRelay } from '../test-support/udp-relay.js';
import { createLeafsyncClient, type LeafsyncClient } from './client.js';
import { createApiHandler } from './http-handler.js';

async function startSidecar(t: TestContext): Promise<{ ui: RunningUi; client: LeafsyncClient; dirs: { home: string; web: string; user: string } }> {
  const [home, web, user] = await tempDirs(t, 'home', 'web', 'user');
  await writeFile(join(web, 'index.html'), '<!doctype html><h1>dashboard</h1>');
  const ui = await startUi({ host: '127.0.0.1', port: 0, home, webRoot: web, userHome: user, announce: false });
  t.after(() => ui.close());
  return { ui, client: createLeafsyncClient({ url: ui.url }), dirs: { home, web, user } };
}

/** Runs a call that must fail with BAD_REQUEST; returns its message. */
async function badRequest(call: () => Promise<unknown>): Promise<{ message: string; data: Record<string, unknown> }> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof TRPCClientError, `expected a TRPCClientError, got ${String(err)}`);
    const data = err.data as Record<string, unknown>;
    assert.equal(data.code, 'BAD_REQUEST', err.message);
    assert.equal(data.httpStatus, 400);
    assert.equal(data.stack, undefined, 'no stack trace is sent');
    assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace in the message');
    return { message: err.message, data };
  }
  assert.fail('the call succeeded');
}

/** A raw HTTP request to the sidecar, with full control of Host and other headers. */
function raw(url: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('input validation', () => {
  test('every procedure with input answers bad input with a BAD_REQUEST that names the field', async (t) => {
    const { client, dirs } = await startSidecar(t);
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['startServe folder', () => client.sessions.startServe.mutate({ folder: '   ' }), /^folder: choose a folder/],
      ['startServe port', () => client.sessions.startServe.mutate({ folder: dirs.user, port: 70000 }), /^port: /],
      ['startServe file', () => client.sessions.startServe.mutate({ folder: dirs.user, file: '../etc/passwd' }), /^file: /],
      ['startConnect address empty', () => client.sessions.startConnect.mutate({ address: '', folder: dirs.user }), /^address: enter the server as HOST:PORT/],
      ['startConnect address shape', () => client.sessions.startConnect.mutate({ address: 'no-port', folder: dirs.user }), /^address: .*HOST:PORT/],
      ['startConnect fingerprint', () => client.sessions.startConnect.mutate({ address: '127.0.0.1:4455', folder: dirs.user, fingerprint: 'abc' }), /^fingerprint: a fingerprint is 64 hex characters/],
      ['startConnect streams', () => client.sessions.startConnect.mutate({ address: '127.0.0.1:4455', folder: dirs.user, streams: 0 }), /^streams: /],
      ['startConnect rate', () => client.sessions.startConnect.mutate({ address: '127.0.0.1:4455', folder: dirs.user, rateMbps: -1 }), /^rateMbps: /],
      ['startConnect two fields', () => client.sessions.startConnect.mutate({ address: '', folder: '' }), /^address: .*; folder: /],
      ['startServe datagramSize', () => client.sessions.startServe.mutate({ folder: dirs.user, datagramSize: 1000 }), /^datagramSize: a datagram size is at least 1200 bytes/],
      ['startServe congestion', () => client.sessions.startServe.mutate({ folder: dirs.user, congestion: 'reno' as 'bbr' }), /^congestion: /],
      ['watch datagramSize', () => client.sessions.watch.mutate({ address: '127.0.0.1:4455', folder: dirs.user, datagramSize: 70_000 }), /^datagramSize: a datagram size is at most 65527 bytes/],
      ['startServe acceptFirstClient without allowPush', () => client.sessions.startServe.mutate({ folder: dirs.user, acceptFirstClient: true }), /^acceptFirstClient: authorising the first client needs allowPush/],
      ['watch address shape', () => client.sessions.watch.mutate({ address: 'no-port', folder: dirs.user }), /^address: .*HOST:PORT/],
      ['watch pull interval', () => client.sessions.watch.mutate({ address: '127.0.0.1:4455', folder: dirs.user, pullIntervalSeconds: 0 }), /^pullIntervalSeconds: /],
      ['watch debounce', () => client.sessions.watch.mutate({ address: '127.0.0.1:4455', folder: dirs.user, debounceMs: 1.5 }), /^debounceMs: /],
      ['watch file', () => client.sessions.watch.mutate({ address: '127.0.0.1:4455', folder: dirs.user, file: '/abs' }), /^file: /],
      ['stop', () => client.sessions.stop.mutate({ id: '' }), /^id: /],
      ['remove', () => client.sessions.remove.mutate({ id: 42 as unknown as string }), /^id: /],
      ['fs.list', () => client.fs.list.query({ path: 7 as unknown as string }), /^path: /],
      ['trust.removeServer empty', () => client.trust.removeServer.mutate({ address: '' }), /^address: /],
      ['trust.removeServer shape', () => client.trust.removeServer.mutate({ address: 'nonsense' }), /^address: /],
      ['trust.removeClient', () => client.trust.removeClient.mutate({ fingerprint: 'xyz' }), /^fingerprint: a fingerprint is 64 hex characters/],
    ];
    for (const [name, call, expected] of cases) {
      const { message, data } = await badRequest(call);
      assert.match(message, expected, name);
      if (!/file|address: "|shape/.test(name)) assert.ok(Array.isArray(data.issues), `${name}: zod issues are listed for forms`);
    }
    // No session was created by any of them.
    assert.deepEqual(await client.sessions.list.query(), []);
  });

  test('a subscription with bad input fails with BAD_REQUEST too', async (t) => {
    const { client } = await startSidecar(t);
    const err = await new Promise<unknown>((resolve) => {
      const sub = client.sessions.events.subscribe({ sessionId: 5 as unknown as string }, {
        onError: (e) => {
          sub.unsubscribe();
          resolve(e);
        },
        onData: () => resolve(new Error('got data')),
      });
    });
    assert.ok(err instanceof TRPCClientError);
    assert.equal((err.data as { code?: string } | undefined)?.code, 'BAD_REQUEST');
    assert.match(err.message, /^sessionId: /);
  });

  test('unknown sessions and pins are NOT_FOUND, in words', async (t) => {
    const { client } = await startSidecar(t);
    await assert.rejects(client.sessions.stop.mutate({ id: 's999' }), (e: TRPCClientError<never>) => (e.data as unknown as { code: string }).code === 'NOT_FOUND' && /no session with id s999/.test(e.message));
    await assert.rejects(client.trust.removeServer.mutate({ address: '10.0.0.1:4455' }), /nothing is pinned for 10\.0\.0\.1:4455/);
  });
});

describe('origin guards on /trpc', () => {
  test('a foreign Host (DNS rebinding) and a foreign Origin are refused before the API runs', async (t) => {
    const { ui } = await startSidecar(t);
    const port = new URL(ui.url).port;
    const good = await raw(ui.url, '/trpc/identity.get', { headers: { Host: `127.0.0.1:${port}` } });
    assert.equal(good.status, 200);
    assert.match(good.body, /fingerprint/);

    const rebound = await raw(ui.url, '/trpc/identity.get', { headers: { Host: `attacker.example:${port}` } });
    assert.equal(rebound.status, 421);
    assert.doesNotMatch(rebound.body, /fingerprint/);

    const foreign = await raw(ui.url, '/trpc/identity.get', { headers: { Host: `127.0.0.1:${port}`, Origin: 'http://attacker.example' } });
    assert.equal(foreign.status, 403);
    assert.doesNotMatch(foreign.body, /fingerprint/);

    // A state-changing call from a foreign page: refused, and no session was started.
    const body = JSON.stringify({ json: { folder: '/', port: 0, bind: '127.0.0.1' } });
    const post = await raw(ui.url, '/trpc/sessions.startServe', {
      method: 'POST',
      headers: { Host: `127.0.0.1:${port}`, Origin: 'http://attacker.example', 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(post.status, 403);
    const reboundPost = await raw(ui.url, '/trpc/sessions.startServe', {
      method: 'POST',
      headers: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}`, 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(reboundPost.status, 421);
    // A form POST (no preflight in browsers) is refused; so is a cross-site fetch without Origin.
    const form = await raw(ui.url, '/trpc/sessions.startServe', { method: 'POST', headers: { Host: `127.0.0.1:${port}`, 'Content-Type': 'text/plain' }, body });
    assert.equal(form.status, 415);
    const crossSite = await raw(ui.url, '/trpc/identity.get', { headers: { Host: `127.0.0.1:${port}`, 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(crossSite.status, 403);
    // SSE subscriptions are guarded the same way.
    const sse = await raw(ui.url, '/trpc/sessions.events?input=%7B%22json%22%3A%7B%7D%7D', { headers: { Host: `rebind.example:${port}`, Accept: 'text/event-stream' } });
    assert.equal(sse.status, 421);
    assert.equal(ui.sessions.list().length, 0);

    // Same-origin requests work (what the dashboard sends).
    const same = await raw(ui.url, '/trpc/identity.get', { headers: { Host: `127.0.0.1:${port}`, Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(same.status, 200);
  });

  test('the static dashboard is still served next to the API', async (t) => {
    const { ui } = await startSidecar(t);
    const page = await raw(ui.url, '/', { headers: { Host: new URL(ui.url).host } });
    assert.equal(page.status, 200);
    assert.match(page.body, /dashboard/);
  });
});

/** Collects tracked events of a subscription until `until` says stop. */
function collect(client: LeafsyncClient, input: { lastEventId?: string; sessionId?: string }, until: (events: Array<{ id: string; event: SessionEvent }>) => boolean): Promise<Array<{ id: string; event: SessionEvent }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ id: string; event: SessionEvent }> = [];
    const sub = client.sessions.events.subscribe(input, {
      onData: ({ id, data }) => {
        events.push({ id, event: data });
        if (until(events)) {
          sub.unsubscribe();
          resolve(events);
        }
      },
      onError: (err) => {
        sub.unsubscribe();
        reject(err);
      },
    });
  });
}

const seqOf = (id: string) => Number(id.split('-')[1]);

describe('sessions.events', () => {
  test('a client that disconnects and resubscribes with lastEventId misses no event', async (t) => {
    const { ui, client, dirs } = await startSidecar(t);
    // Some history: a serve session started (starting, listening).
    const first = await client.sessions.startServe.mutate({ folder: dirs.user, port: 0, bind: '127.0.0.1' });
    assert.equal(first.state, 'listening');

    // Fresh subscriber: a snapshot of current sessions, then live events.
    const live = collect(client, {}, (ev) => ev.some((e) => e.event.type === 'session' && e.event.session.state === 'stopped'));
    await new Promise((r) => setTimeout(r, 200));
    await client.sessions.stop.mutate({ id: first.id });
    const seen = await live;
    assert.equal(seen[0]!.event.type, 'session');
    assert.equal(seen[0]!.event.type === 'session' && seen[0]!.event.session.state, 'listening', 'the snapshot shows the current state');
    const lastSeen = seen.at(-1)!.id;

    // While disconnected: many events (sessions started, stopped, removed).
    for (let i = 0; i < 5; i++) {
      const s = await client.sessions.startServe.mutate({ folder: dirs.user, port: 0, bind: '127.0.0.1' });
      await client.sessions.remove.mutate({ id: s.id });
    }
    await client.sessions.remove.mutate({ id: first.id });
    const headSeq = ui.sessions.log.headSeq;

    const resumed = await collect(client, { lastEventId: lastSeen }, (ev) => seqOf(ev.at(-1)!.id) === headSeq);
    const ids = resumed.map((e) => seqOf(e.id));
    assert.deepEqual(ids, Array.from({ length: headSeq - seqOf(lastSeen) }, (_, i) => seqOf(lastSeen) + 1 + i), 'ids are contiguous after lastEventId');
    assert.equal(resumed.filter((e) => e.event.type === 'removed').length, 6);
    assert.equal(resumed.at(-1)!.event.type, 'removed');
  });

  test('the fetch EventSource reconnects on its own with Last-Event-ID after the stream drops', async (t) => {
    const [home, user] = await tempDirs(t, 'home', 'user');
    const sessions = new SessionManager({ home, identity: await loadOrCreateIdentity(home), trust: await TrustStore.load(home) });
    t.after(() => sessions.close());
    const handler = createApiHandler({ sessions, userHome: user });
    const sockets = new Set<Socket>();
    const server: Server = createServer(handler);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }));
    const client = createLeafsyncClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });

    const received: string[] = [];
    const states: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const sub = client.sessions.events.subscribe({}, {
        onData: ({ id }) => {
          received.push(id);
          if (received.length === 10) {
            sub.unsubscribe();
            resolve();
          }
        },
        onConnectionStateChange: (s) => states.push(s.state),
        onError: reject,
      });
    });
    const notice = (i: number) => sessions.log.append({ type: 'notice', sessionId: 'x', message: `n${i}` });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) notice(i);
    await new Promise((r) => setTimeout(r, 300));
    // Cut every connection (the SSE stream with it), then log events while the client is away.
    for (const s of sockets) s.destroy();
    for (let i = 3; i < 10; i++) notice(i);
    await done;
    assert.deepEqual(received.map(seqOf), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(states.filter((s) => s === 'connecting').length >= 2, `reconnected (states: ${states.join(',')})`);
  });

  test('sessionId narrows the stream to one session', async (t) => {
    const { client, dirs } = await startSidecar(t);
    const a = await client.sessions.startServe.mutate({ folder: dirs.user, port: 0, bind: '127.0.0.1' });
    const b = await client.sessions.startServe.mutate({ folder: dirs.user, port: 0, bind: '127.0.0.1' });
    const onlyB = collect(client, { sessionId: b.id }, (ev) => ev.some((e) => e.event.type === 'removed'));
    await new Promise((r) => setTimeout(r, 200));
    await client.sessions.remove.mutate({ id: a.id });
    await client.sessions.remove.mutate({ id: b.id });
    const events = await onlyB;
    assert.ok(events.length >= 3);
    for (const { event } of events) assert.equal(event.type === 'session' ? event.session.id : event.sessionId, b.id);
  });
});

describe('connect sessions', () => {
  test('a one-pass connect with inPlace writes the one changed chunk of a big file over the local copy', async (t) => {
    const { client } = await startSidecar(t);
    const [served, mine] = await tempDirs(t, 'served', 'mine');
    const original = seededBytes('big', 16 * 1024 * 1024);
    await writeTree(served, { 'big.bin': Buffer.concat([original.subarray(0, 5 * 1024 * 1024), seededBytes('edit', 1024 * 1024), original.subarray(6 * 1024 * 1024)]) });
    await writeTree(mine, { 'big.bin': original });
    const ino = (await stat(join(mine, 'big.bin'))).ino;
    const serve = await client.sessions.startServe.mutate({ folder: served, port: 0, bind: '127.0.0.1' });
    const session = await client.sessions.startConnect.mutate({ address: serve.address, folder: mine, acceptFirst: true, once: true, inPlace: true });
    const ended = async () => (await client.sessions.list.query()).find((s) => s.id === session.id)!;
    for (let info = await ended(); info.state !== 'stopped' && info.state !== 'error'; info = await ended()) await new Promise((r) => setTimeout(r, 50));
    const info = await ended();
    assert.equal(info.state, 'stopped', info.error);
    assert.equal(info.lastPass?.chunksFetched, 1);
    assert.deepEqual(await hashTree(mine), await hashTree(served));
    assert.equal((await stat(join(mine, 'big.bin'))).ino, ino, 'updated in place');
  });
});

describe('how a side sends', () => {
  test('a serve started with BBR and 8192-byte datagrams sends a pull through a lossy link in datagrams over 1350 bytes, and both sessions say how they send', async (t) => {
    const { client } = await startSidecar(t);
    const [served, mine] = await tempDirs(t, 'served', 'mine');
    await writeTree(served, { 'a.bin': seededBytes('a', 3 * 1024 * 1024 + 5), 'sub/b.txt': 'small' });
    const serve = await client.sessions.startServe.mutate({ folder: served, port: 0, bind: '127.0.0.1', congestion: 'bbr', datagramSize: 8192 });
    assert.equal(serve.state, 'listening', serve.error);
    assert.deepEqual([serve.congestion, serve.datagramSize], ['bbr', 8192]);
    const [host, port] = [serve.address.slice(0, serve.address.lastIndexOf(':')), Number(serve.address.slice(serve.address.lastIndexOf(':') + 1))];
    const relay = await UdpRelay.start({ target: { host, port }, drop: 0.02, seed: 9 });
    t.after(() => relay.close());
    const session = await client.sessions.startConnect.mutate({ address: `${relay.address.host}:${relay.address.port}`, folder: mine, acceptFirst: true, once: true, congestion: 'bbr' });
    assert.deepEqual([session.congestion, session.datagramSize], ['bbr', undefined], 'the default size is not shown');
    const ended = async () => (await client.sessions.list.query()).find((s) => s.id === session.id)!;
    for (let info = await ended(); info.state !== 'stopped' && info.state !== 'error'; info = await ended()) await new Promise((r) => setTimeout(r, 50));
    const info = await ended();
    assert.equal(info.state, 'stopped', info.error);
    assert.deepEqual(await hashTree(mine), await hashTree(served));
    const { toClient } = relay.stats();
    assert.ok(toClient.dropped > 0, 'the link lost datagrams');
    assert.ok(toClient.bytes / toClient.datagrams > 1350, `the server sent ${toClient.bytes} bytes in ${toClient.datagrams} datagrams`);
    const plain = await client.sessions.startServe.mutate({ folder: served, port: 0, bind: '127.0.0.1' });
    assert.deepEqual([plain.congestion, plain.datagramSize], [undefined, undefined], 'the defaults are not shown');
  });
});

describe('watch sessions', () => {
  test('a watch through the API pushes a new file to a serve that accepts pushes, and a conflict shows in its last cycle', async (t) => {
    const { ui, client } = await startSidecar(t);
    const [served, mine, scratch] = await tempDirs(t, 'served', 'mine', 'scratch');
    await writeTree(served, { 'notes.txt': 'first version\n' });
    const serve = await client.sessions.startServe.mutate({ folder: served, port: 0, bind: '127.0.0.1', allowPush: true, acceptFirstClient: true });
    assert.equal(serve.state, 'listening');
    assert.equal(serve.allowPush, true);
    // Each wait resumes from the event log as it was before the action, so a fast cycle is never missed.
    const mark = () => ui.sessions.log.idOf(ui.sessions.log.headSeq);
    let started = mark();
    // A long pull interval: every cycle after the first is started by a local change.
    const watch = await client.sessions.watch.mutate({ address: serve.address, folder: mine, acceptFirst: true, pullIntervalSeconds: 120, debounceMs: 100 });
    assert.equal(watch.kind, 'watch');
    const cycleWhere = (from: string, pred: (c: WatchCycleSummary) => boolean) =>
      collect(client, { lastEventId: from, sessionId: watch.id }, (ev) => ev.some((e) => e.event.type === 'cycle' && pred(e.event.cycle))).then(
        (ev) => ev.flatMap((e) => (e.event.type === 'cycle' && pred(e.event.cycle) ? [e.event.cycle] : []))[0]!,
      );

    const first = await cycleWhere(started, (c) => c.trigger === 'start');
    assert.equal(first.filesPulled, 1);

    // A file created on the watch side arrives on the served side, byte for byte.
    started = mark();
    // Written elsewhere and moved in, so no cycle can catch it half-written and push it in two goes.
    await writeFile(join(scratch, 'new.bin'), seededBytes('new', 2 * 1024 * 1024 + 7));
    await mkdir(join(mine, 'docs'));
    await rename(join(scratch, 'new.bin'), join(mine, 'docs/new.bin'));
    const push = await cycleWhere(started, (c) => c.filesPushed > 0);
    assert.equal(push.filesPushed, 1);
    assert.equal(push.bytesPushed, 2 * 1024 * 1024 + 7);
    assert.equal((await hashTree(served)).get('docs/new.bin'), (await hashTree(mine)).get('docs/new.bin'));

    // Both sides edit notes.txt: the server's version takes the name, ours is kept beside it (and pushed).
    started = mark();
    await writeFile(join(served, 'notes.txt'), 'edited on the server\n');
    await writeFile(join(mine, 'notes.txt'), 'edited here\n');
    const cycle = await cycleWhere(started, (c) => c.conflicts.length > 0);
    assert.equal(cycle.conflicts.length, 1);
    const { path, copy } = cycle.conflicts[0]!;
    assert.equal(path, 'notes.txt');
    assert.notEqual(copy, path);
    const { readFile } = await import('node:fs/promises');
    assert.equal(await readFile(join(mine, 'notes.txt'), 'utf8'), 'edited on the server\n');
    assert.equal(await readFile(join(mine, copy), 'utf8'), 'edited here\n');
    assert.equal(await readFile(join(served, copy), 'utf8'), 'edited here\n');
    assert.deepEqual(await hashTree(served), await hashTree(mine));
    // The session carries that cycle and its conflicts; the empty cycle that the watcher's echo of
    // our own rename starts does not replace them.
    await new Promise((r) => setTimeout(r, 600));
    const info = (await client.sessions.list.query()).find((s) => s.id === watch.id)!;
    assert.deepEqual(info.lastCycle?.conflicts, [{ path, copy }]);
    assert.deepEqual(info.conflicts, [{ path, copy }]);

    await client.sessions.stop.mutate({ id: watch.id });
    const stopped = (await client.sessions.list.query()).find((s) => s.id === watch.id)!;
    assert.equal(stopped.state, 'stopped');
  });
});

describe('fs and identity', () => {
  test('fs.list defaults to the home folder, lists folders first and flags hidden and internal names', async (t) => {
    const { client, dirs } = await startSidecar(t);
    await mkdir(join(dirs.user, 'b-folder'));
    await mkdir(join(dirs.user, '.leafsync_trash'));
    await writeFile(join(dirs.user, 'a.txt'), 'hello');
    await writeFile(join(dirs.user, '.hidden'), '');
    const listing = await client.fs.list.query({});
    assert.equal(listing.path, dirs.user);
    assert.equal(listing.parent, join(dirs.user, '..'));
    assert.deepEqual(
      listing.entries.map((e) => [e.name, e.type, e.hidden, e.internal, e.size]),
      [
        ['.leafsync_trash', 'dir', true, true, undefined],
        ['b-folder', 'dir', false, false, undefined],
        ['.hidden', 'file', true, false, 0],
        ['a.txt', 'file', false, false, 5],
      ],
    );
    const missing = await client.fs.list.query({ path: join(dirs.user, 'nope') });
    assert.deepEqual(missing.entries, []);
    assert.match(missing.error ?? '', /folder not found/);
    const root = await client.fs.list.query({ path: '/' });
    assert.equal(root.parent, undefined);
    const links = await client.fs.quickLinks.query();
    assert.deepEqual(links[0], { label: 'Home', path: dirs.user });
    assert.ok(links.some((l) => l.path === '/'));
  });

  test('identity.get is the fingerprint leafsync id prints', async (t) => {
    const { client, dirs } = await startSidecar(t);
    const identity = await loadOrCreateIdentity(dirs.home);
    assert.deepEqual(await client.identity.get.query(), { fingerprint: identity.fingerprint });
  });
});
