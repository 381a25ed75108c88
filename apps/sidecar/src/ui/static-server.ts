/**
 * Serves the dashboard's static export (apps/web/out) over plain node:http.
 *
 * - GET and HEAD only; anything else is 405.
 * - Next's export layout: `/` -> index.html, `/foo` -> foo.html (or foo/index.html), 404.html for
 *   anything missing.
 * - No path traversal: the path is decoded once, normalised, and the resolved file (after
 *   following symlinks) must stay inside webRoot.
 * - DNS rebinding guard: the Host header must name this server (421 otherwise), and a request that
 *   carries an Origin header must come from this same origin (403 otherwise). The dashboard's API
 *   will live on this origin, so a page on another site must not be able to reach it through a
 *   name that resolves to 127.0.0.1.
 * - `/trpc/…` goes to the dashboard API handler (when one is given), after the same Host and Origin
 *   checks, plus CSRF guards for it: a browser's cross-site request (Sec-Fetch-Site) is refused, and
 *   a POST must be JSON, which a foreign page cannot send without a CORS preflight we never grant.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UiServer {
  /** Where a browser reaches the dashboard, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  close(): Promise<void>;
}

export interface UiServerOptions {
  /** Address to bind, e.g. `127.0.0.1` (the safe default for a CLI), `::1`, `0.0.0.0`. */
  host: string;
  /** Port to bind; 0 picks a free one (read it back from `url`). */
  port: number;
  /** Folder holding the web app's static export (apps/web/out). */
  webRoot: string;
  /** Handles every request under `/trpc` (the dashboard API); without it they get 404. */
  api?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** True for `/trpc` and anything below it (query string ignored). */
export function isApiPath(rawUrl: string): boolean {
  const p = rawUrl.split(/[?#]/, 1)[0] ?? '';
  return p === '/trpc' || p.startsWith('/trpc/');
}

/** The static export next to this package in the monorepo: apps/web/out (from src/ui, dist/ui or the bundle in dist/bundle, all two levels down). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/out/', import.meta.url));

/** The web app has not been built (or webRoot points somewhere else). */
export class WebRootMissingError extends Error {
  readonly code = 'WEB_ROOT_MISSING';
  readonly webRoot: string;

  constructor(webRoot: string, detail: string, options?: { cause?: unknown }) {
    super(
      `The dashboard's static files were not found at ${webRoot} (${detail}). ` +
        'Build the web app first: run `npm run build` at the repository root.',
      options,
    );
    this.name = 'WebRootMissingError';
    this.webRoot = webRoot;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  // Next writes React Server Component payloads as .txt files.
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** `host:port` as it appears in a Host header (IPv6 literals in brackets). */
function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits a Host header value into host and port; undefined if it is malformed. */
function parseHostHeader(value: string): { host: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m || m[1] === undefined) return undefined;
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return { host: host.toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Turns the request target into a path relative to webRoot (POSIX separators, no leading slash),
 * or throws HttpError(400) for anything that is not a plain origin-form path inside the root.
 */
export function requestPathToRelative(rawUrl: string): { relative: string; trailingSlash: boolean } {
  if (!rawUrl.startsWith('/')) throw new HttpError(400, 'Bad request target');
  const rawPath = rawUrl.split(/[?#]/, 1)[0] ?? '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw new HttpError(400, 'Bad percent-encoding in path');
  }
  if (decoded.includes('\0') || decoded.includes('\\')) throw new HttpError(400, 'Bad path');
  // Any `..` segment (whether it was written plainly or percent-encoded) is refused outright
  // rather than normalised away: no legitimate link of the app contains one.
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..')) throw new HttpError(400, 'Path traversal refused');
  const normalised = path.posix.normalize(decoded);
  const relative = normalised.replace(/^\/+/, '');
  if (relative.split('/').some((s) => s === '..')) throw new HttpError(400, 'Path traversal refused');
  return { relative, trailingSlash: decoded.endsWith('/') };
}

function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

async function regularFile(file: string): Promise<{ size: number; mtime: Date } | undefined> {
  try {
    const s = await stat(file);
    return s.isFile() ? { size: s.size, mtime: s.mtime } : undefined;
  } catch {
    return undefined;
  }
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const webRootAbs = path.resolve(opts.webRoot);
  let root: string;
  try {
    root = await realpath(webRootAbs);
  } catch (cause) {
    throw new WebRootMissingError(webRootAbs, 'no such folder', { cause });
  }
  const rootStat = await stat(root);
  if (!rootStat.isDirectory()) throw new WebRootMissingError(webRootAbs, 'not a folder');
  if (!(await regularFile(path.join(root, 'index.html')))) {
    throw new WebRootMissingError(webRootAbs, 'it has no index.html');
  }

  /** Finds the file to serve for a request path, following Next's export layout. */
  async function resolveFile(
    relative: string,
    trailingSlash: boolean,
  ): Promise<{ file: string; size: number; mtime: Date } | undefined> {
    const base = path.resolve(root, relative);
    if (!isInside(root, base)) return undefined;
    const candidates: string[] = [];
    if (relative === '' || trailingSlash) {
      candidates.push(path.join(base, 'index.html'));
    } else {
      candidates.push(base, `${base}.html`, path.join(base, 'index.html'));
    }
    for (const candidate of candidates) {
      const found = await regularFile(candidate);
      if (!found) continue;
      // Follow symlinks and check again: a link inside webRoot must not lead outside it.
      let real: string;
      try {
        real = await realpath(candidate);
      } catch {
        continue;
      }
      if (!isInside(root, real)) continue;
      return { file: real, ...found };
    }
    return undefined;
  }

  let allowedHosts = new Set<string>();
  let acceptAnyIpLiteral = false;
  let boundPort = 0;

  function hostAllowed(value: string | undefined): boolean {
    if (value === undefined) return false;
    const lower = value.trim().toLowerCase();
    if (allowedHosts.has(lower)) return true;
    if (acceptAnyIpLiteral) {
      // Bound to every interface: any IP literal (never a DNS name) with our port is fine.
      const parsed = parseHostHeader(lower);
      return parsed !== undefined && parsed.port === boundPort && isIP(parsed.host) !== 0;
    }
    return false;
  }

  function send(
    res: ServerResponse,
    status: number,
    body: string,
    head: boolean,
    extra: Record<string, string> = {},
  ): void {
    const buf = Buffer.from(body, 'utf8');
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(buf.length),
      'Cache-Control': 'no-store',
      ...extra,
    });
    res.end(head ? undefined : buf);
  }

  async function serveFile(
    res: ServerResponse,
    status: number,
    found: { file: string; size: number; mtime: Date },
    head: boolean,
    immutable: boolean,
  ): Promise<void> {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'Content-Type': contentTypeFor(found.file),
      'Content-Length': String(found.size),
      'Last-Modified': found.mtime.toUTCString(),
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (head) {
      res.end();
      return;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(found.file);
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    if (!hostAllowed(req.headers.host)) {
      send(res, 421, 'Misdirected request: unexpected Host header\n', head);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin.toLowerCase() !== `http://${req.headers.host?.trim().toLowerCase()}`) {
      send(res, 403, 'Forbidden: cross-origin request\n', head);
      return;
    }
    if (isApiPath(req.url ?? '/')) {
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') {
        send(res, 403, 'Forbidden: cross-site request\n', head);
        return;
      }
      if (method !== 'GET' && method !== 'HEAD' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        send(res, 415, 'The API accepts JSON only (Content-Type: application/json)\n', head);
        return;
      }
      if (!opts.api) {
        send(res, 404, 'Not found\n', head);
        return;
      }
      opts.api(req, res);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'Method not allowed\n', false, { Allow: 'GET, HEAD' });
      return;
    }
    let target: { relative: string; trailingSlash: boolean };
    try {
      target = requestPathToRelative(req.url ?? '/');
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, `${err.message}\n`, head);
        return;
      }
      throw err;
    }
    const found = await resolveFile(target.relative, target.trailingSlash);
    if (found) {
      await serveFile(res, 200, found, head, target.relative.startsWith('_next/static/'));
      return;
    }
    const notFound = await resolveFile('404.html', false);
    if (notFound) {
      await serveFile(res, 404, notFound, head, false);
      return;
    }
    send(res, 404, 'Not found\n', head);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'Internal server error\n', req.method === 'HEAD');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  boundPort = address.port;
  const hosts = new Set<string>([hostPort(opts.host.toLowerCase(), boundPort)]);
  if (isLoopback(opts.host) || isWildcard(opts.host)) {
    for (const alias of ['localhost', '127.0.0.1', '::1']) hosts.add(hostPort(alias, boundPort));
  }
  allowedHosts = hosts;
  acceptAnyIpLiteral = isWildcard(opts.host);

  const urlHost = isWildcard(opts.host) ? '127.0.0.1' : opts.host;
  const url = `http://${hostPort(urlHost, boundPort)}/`;

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
