import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { SessionEvent } from '@leafsync/shared';
import { startUi, type RunningUi } from '../cli/ui-command.js';
import { hashTree, seededBytes, tempDirs, writeTree } from '../test-support/trees.js';
import { createLeafsyncClient, SessionFailedError, syncOnce, type LeafsyncClient } from './client.js';

async function sidecar(t: TestContext, name: string): Promise<{ ui: RunningUi; client: LeafsyncClient }> {
  const [home, web] = await tempDirs(t, `${name}-home`, `${name}-web`);
  await writeFile(join(web, 'index.html'), '<!doctype html>');
  const ui = await startUi({ host: '127.0.0.1', port: 0, home, webRoot: web, userHome: home, announce: false });
  t.after(() => ui.close());
  return { ui, client: createLeafsyncClient({ url: ui.url }) };
}

/** Every event of the sidecar, recorded from the start, for asserting on state sequences. */
function record(client: LeafsyncClient, t: TestContext): SessionEvent[] {
  const events: SessionEvent[] = [];
  const sub = client.sessions.events.subscribe({}, { onData: ({ data }) => events.push(data) });
  t.after(() => sub.unsubscribe());
  return events;
}

test('the programmatic client drives a full sync between two real sidecars over QUIC', async (t) => {
  const [served, copy] = await tempDirs(t, 'served', 'copy');
  await writeTree(served, {
    'big.bin': seededBytes('big', 5 * 1024 * 1024 + 123),
    'docs/readme.txt': 'hello from the server\n',
    'docs/deeper/notes.md': seededBytes('notes', 70_000),
    'empty-dir': null,
    'zero.bin': Buffer.alloc(0),
  });
  const server = await sidecar(t, 'server');
  const client = await sidecar(t, 'client');
  const serveSession = await server.client.sessions.startServe.mutate({ folder: served, port: 0, bind: '127.0.0.1' });
  assert.equal(serveSession.state, 'listening');
  assert.match(serveSession.address, /^127\.0\.0\.1:\d+$/);
  const { fingerprint } = await server.client.identity.get.query();
  assert.equal(serveSession.fingerprint, fingerprint);

  const events = record(client.client, t);
  await new Promise((r) => setTimeout(r, 200));
  const pass = await syncOnce(client.client, { address: serveSession.address, folder: copy, fingerprint, streams: 4 });
  assert.deepEqual(pass.failures, []);
  assert.equal(pass.files, 4);
  assert.equal(pass.filesChanged, 4);
  assert.deepEqual(await hashTree(copy), await hashTree(served));

  const [session] = await client.client.sessions.list.query();
  assert.ok(session);
  assert.equal(session.kind, 'connect');
  assert.equal(session.state, 'stopped', 'a once connect ends stopped');
  assert.equal(session.fingerprint, fingerprint);
  assert.deepEqual(session.lastPass, pass);
  assert.equal(session.progress?.filesDone, 4);
  assert.equal(session.progress?.bytesDone, session.progress?.bytesTotal);

  // The states went connecting → scanning → transferring → stopped, in that order.
  await new Promise((r) => setTimeout(r, 100));
  const states = events.filter((e): e is Extract<SessionEvent, { type: 'session' }> => e.type === 'session' && e.session.id === session.id).map((e) => e.session.state);
  assert.deepEqual(states, ['starting', 'connecting', 'scanning', 'transferring', 'stopped']);
  const passEvents = events.filter((e) => e.type === 'pass');
  assert.equal(passEvents.length, 1);
  const progress = events.filter((e): e is Extract<SessionEvent, { type: 'progress' }> => e.type === 'progress');
  assert.ok(progress.length >= 1);
  const final = progress.at(-1)!.progress;
  assert.equal(final.bytesDone, final.bytesTotal);
  assert.equal(final.bytesTotal, 5 * 1024 * 1024 + 123 + 22 + 70_000);

  // A second sync of the unchanged folder fetches nothing.
  const again = await syncOnce(client.client, { address: serveSession.address, folder: copy });
  assert.equal(again.bytesFetched, 0);
  assert.equal(again.filesChanged, 0);
});

test('a wrong fingerprint ends the connect session in error showing both fingerprints; nothing is synced', async (t) => {
  const [served, copy] = await tempDirs(t, 'served', 'copy');
  await writeTree(served, { 'a.txt': 'secret' });
  const server = await sidecar(t, 'server');
  const client = await sidecar(t, 'client');
  const s = await server.client.sessions.startServe.mutate({ folder: served, port: 0, bind: '127.0.0.1' });
  const { fingerprint: actual } = await server.client.identity.get.query();
  const wrong = 'ab'.repeat(32);

  const err = await syncOnce(client.client, { address: s.address, folder: copy, fingerprint: wrong.toUpperCase().replace(/(..)(?!$)/g, '$1:') }).then(
    () => assert.fail('the sync succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SessionFailedError);
  assert.match(err.message, new RegExp(`presented fingerprint ${actual}`));
  assert.match(err.message, new RegExp(`expected fingerprint is ${wrong}`));
  assert.match(err.message, /Nothing was synced/);
  assert.equal(err.session?.state, 'error');

  const [session] = await client.client.sessions.list.query();
  assert.equal(session?.state, 'error');
  assert.equal(session?.error, err.message);
  assert.deepEqual(await hashTree(copy), new Map());
  // Not pinned either.
  assert.deepEqual((await client.client.trust.list.query()).servers, []);
});

test('an unreachable server ends a once connect in error saying nothing listens at HOST:PORT', async (t) => {
  const [copy] = await tempDirs(t, 'copy');
  const client = await sidecar(t, 'client');
  client.ui.sessions['opts'].handshakeTimeoutMs = 1500;
  const err = await syncOnce(client.client, { address: '127.0.0.1:9', folder: copy, acceptFirst: true }).catch((e: unknown) => e);
  assert.ok(err instanceof SessionFailedError, String(err));
  assert.match(err.message, /nothing is listening at 127\.0\.0\.1:9/);
});
