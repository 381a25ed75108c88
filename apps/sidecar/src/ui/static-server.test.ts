import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startUiServer, WebRootMissingError, type UiServer } from './static-server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: the path is sent exactly as given (no client-side normalisation). */
function get(
  server: UiServer,
  rawPath: string,
  opts: { method?: string; headers?: Record<string, string>; setHost?: boolean } = {},
): Promise<Reply> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        method: opts.method ?? 'GET',
        path: rawPath,
        headers: opts.headers,
        setHost: opts.setHost ?? true,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const SECRET = 'TOP-SECRET-OUTSIDE-WEBROOT';

describe('startUiServer', () => {
  let dir: string;
  let webRoot: string;
  let server: UiServer;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'leafsync-ui-'));
    webRoot = path.join(dir, 'out');
    await mkdir(path.join(webRoot, '_next', 'static', 'chunks'), { recursive: true });
    await mkdir(path.join(webRoot, 'settings'), { recursive: true });
    await mkdir(path.join(webRoot, 'docs'), { recursive: true });
    await writeFile(path.join(webRoot, 'index.html'), '<!doctype html><h1>leafsync home</h1>');
    await writeFile(path.join(webRoot, '404.html'), '<!doctype html><h1>custom not found</h1>');
    await writeFile(path.join(webRoot, 'settings.html'), '<!doctype html><h1>settings page</h1>');
    // Next also writes RSC payloads into a folder named like the route.
    await writeFile(path.join(webRoot, 'settings', '__next._tree.txt'), 'rsc payload');
    await writeFile(path.join(webRoot, 'docs', 'index.html'), '<!doctype html><h1>docs index</h1>');
    await writeFile(path.join(webRoot, '_next', 'static', 'chunks', 'app.js'), 'console.log(1);');
    await writeFile(path.join(webRoot, '_next', 'static', 'chunks', 'app.css'), 'body{}');
    await writeFile(path.join(webRoot, 'data.json'), '{"ok":true}');
    await writeFile(path.join(webRoot, 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(path.join(webRoot, 'blob.bin'), 'xx');
    await writeFile(path.join(dir, 'secret.txt'), SECRET);
    await writeFile(path.join(dir, 'out-secret.html'), SECRET);
    await symlink(path.join(dir, 'secret.txt'), path.join(webRoot, 'link.txt'));
    server = await startUiServer({ host: '127.0.0.1', port: 0, webRoot });
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a loopback URL with the bound port', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(new URL(server.url).port, '0');
  });

  it('serves index.html for / with an HTML content type', async () => {
    const r = await get(server, '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(r.body, /leafsync home/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });

  it('ignores the query string', async () => {
    const r = await get(server, '/?tab=peers#x');
    assert.equal(r.status, 200);
    assert.match(r.body, /leafsync home/);
  });

  it('answers HEAD with headers and no body', async () => {
    const r = await get(server, '/', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-length'], String('<!doctype html><h1>leafsync home</h1>'.length));
  });

  it('maps /foo to foo.html (Next export layout) even when a foo/ folder exists', async () => {
    const r = await get(server, '/settings');
    assert.equal(r.status, 200);
    assert.match(r.body, /settings page/);
    const payload = await get(server, '/settings/__next._tree.txt');
    assert.equal(payload.status, 200);
    assert.equal(payload.headers['content-type'], 'text/plain; charset=utf-8');
  });

  it('serves index.html for folders, with or without the trailing slash', async () => {
    for (const p of ['/docs/', '/docs']) {
      const r = await get(server, p);
      assert.equal(r.status, 200, p);
      assert.match(r.body, /docs index/);
    }
  });

  it('sets content types by extension and caches hashed assets', async () => {
    const js = await get(server, '/_next/static/chunks/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(js.headers['cache-control']), /immutable/);
    const css = await get(server, '/_next/static/chunks/app.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const json = await get(server, '/data.json');
    assert.equal(json.headers['content-type'], 'application/json; charset=utf-8');
    const svg = await get(server, '/icon.svg');
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
    const bin = await get(server, '/blob.bin');
    assert.equal(bin.headers['content-type'], 'application/octet-stream');
    const html = await get(server, '/');
    assert.equal(html.headers['cache-control'], 'no-cache');
  });

  it('serves 404.html with status 404 for missing paths', async () => {
    const r = await get(server, '/nope');
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(r.body, /custom not found/);
  });

  it('refuses path traversal, plain and percent-encoded', async () => {
    const attempts = [
      '/../secret.txt',
      '/../out-secret',
      '/docs/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/..%2fsecret.txt',
      '/docs/%2e%2e/%2e%2e/secret.txt',
      '/%2e%2e%5csecret.txt',
      '/..%5csecret.txt',
      '/%252e%252e/secret.txt',
      '//../secret.txt',
      '/secret.txt%00.html',
    ];
    for (const p of attempts) {
      const r = await get(server, p);
      assert.ok(r.status === 400 || r.status === 404, `${p} -> ${r.status}`);
      assert.ok(!r.body.includes(SECRET), `${p} leaked the secret`);
    }
  });

  it('does not follow a symlink out of webRoot', async () => {
    const r = await get(server, '/link.txt');
    assert.equal(r.status, 404);
    assert.ok(!r.body.includes(SECRET));
  });

  it('answers 400 to malformed percent-encoding and non-path targets', async () => {
    assert.equal((await get(server, '/%E0%A4%A')).status, 400);
    assert.equal((await get(server, '*', { method: 'GET' })).status, 400);
  });

  it('allows only GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await get(server, '/', { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('rejects a foreign Host header (DNS rebinding)', async () => {
    const port = new URL(server.url).port;
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${Number(port) + 1}`, `localhost`, `127.0.0.2:${port}`]) {
      const r = await get(server, '/', { headers: { Host: host } });
      assert.equal(r.status, 421, host);
      assert.ok(!r.body.includes('leafsync home'));
    }
  });

  it('rejects a request without a Host header', async () => {
    const r = await get(server, '/', { setHost: false });
    assert.ok(r.status === 400 || r.status === 421, String(r.status));
  });

  it('accepts the loopback aliases of its own port', async () => {
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const r = await get(server, '/', { headers: { Host: host } });
      assert.equal(r.status, 200, host);
    }
  });

  it('rejects an Origin of another origin and accepts its own', async () => {
    const port = new URL(server.url).port;
    const own = await get(server, '/', { headers: { Origin: `http://127.0.0.1:${port}` } });
    assert.equal(own.status, 200);
    for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'null', `https://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const r = await get(server, '/', { headers: { Origin: origin } });
      assert.equal(r.status, 403, origin);
    }
  });
});

describe('startUiServer bound to other addresses', () => {
  it('accepts its exact host:port when bound to another loopback address', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'leafsync-ui-'));
    await writeFile(path.join(dir, 'index.html'), 'hi');
    const server = await startUiServer({ host: '127.0.0.2', port: 0, webRoot: dir });
    try {
      const port = new URL(server.url).port;
      assert.equal(server.url, `http://127.0.0.2:${port}/`);
      assert.equal((await get(server, '/')).status, 200);
      assert.equal((await get(server, '/', { headers: { Host: `evil.example:${port}` } })).status, 421);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on 0.0.0.0 accepts IP literals with its port but never a DNS name', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'leafsync-ui-'));
    await writeFile(path.join(dir, 'index.html'), 'hi');
    const server = await startUiServer({ host: '0.0.0.0', port: 0, webRoot: dir });
    try {
      const port = new URL(server.url).port;
      assert.equal((await get(server, '/', { headers: { Host: `10.1.2.3:${port}` } })).status, 200);
      assert.equal((await get(server, '/', { headers: { Host: `localhost:${port}` } })).status, 200);
      assert.equal((await get(server, '/', { headers: { Host: `rebind.example:${port}` } })).status, 421);
      assert.equal((await get(server, '/', { headers: { Host: `10.1.2.3:1` } })).status, 421);
      // No Origin from another site, even on a wildcard bind.
      const r = await get(server, '/', {
        headers: { Host: `127.0.0.1:${port}`, Origin: 'http://rebind.example' },
      });
      assert.equal(r.status, 403);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('startUiServer without a built web app', () => {
  it('throws WebRootMissingError that tells the user to run npm run build', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'leafsync-ui-'));
    try {
      for (const webRoot of [path.join(dir, 'missing'), dir]) {
        await assert.rejects(
          startUiServer({ host: '127.0.0.1', port: 0, webRoot }),
          (err: unknown) => {
            assert.ok(err instanceof WebRootMissingError);
            assert.equal(err.code, 'WEB_ROOT_MISSING');
            assert.match(err.message, /npm run build/);
            assert.match(err.message, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
            return true;
          },
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects when the port is already taken', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'leafsync-ui-'));
    await writeFile(path.join(dir, 'index.html'), 'hi');
    const first = await startUiServer({ host: '127.0.0.1', port: 0, webRoot: dir });
    try {
      const port = Number(new URL(first.url).port);
      await assert.rejects(startUiServer({ host: '127.0.0.1', port, webRoot: dir }), /EADDRINUSE/);
    } finally {
      await first.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('close() ends open keep-alive connections and can be called twice', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'leafsync-ui-'));
    await writeFile(path.join(dir, 'index.html'), 'hi');
    const server = await startUiServer({ host: '127.0.0.1', port: 0, webRoot: dir });
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    await res.text();
    await Promise.all([server.close(), server.close()]);
    await rm(dir, { recursive: true, force: true });
  });
});
