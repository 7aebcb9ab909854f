import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** A plain static file server for the end-to-end tests: what a static host does, and no more. */
export interface StaticServer {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Paths requested so far (with the query), in order. */
  requests: string[];
  /** While offline, every connection is dropped without an answer, as with the network gone. */
  setOffline(isOffline: boolean): void;
  close(): Promise<void>;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` within a file of `size` bytes; undefined when unsatisfiable. */
function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : undefined;
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string, extraHeaders: Record<string, string>): void {
  const size = statSync(file).size;
  const headers: Record<string, string | number> = {
    ...extraHeaders,
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
    // revalidate every time, so offline behaviour comes from the service worker, not the HTTP cache
    'cache-control': 'no-cache',
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'content-length, content-range, accept-ranges',
  };
  const rangeHeader = req.headers.range;
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (rangeHeader !== undefined) {
    const range = parseRange(rangeHeader, size);
    if (!range) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    ({ start, end } = range);
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['content-length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}

/**
 * Serves folders under URL prefixes (e.g. `/app/` → the build, `/models/` → the fixture models),
 * honouring `Range` (206, `Content-Range`) and `HEAD`; folders answer with their index.html.
 */
export async function startStaticServer(
  mounts: Record<string, string>,
  extraHeaders: Record<string, string> = {},
): Promise<StaticServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let isOffline = false;
  const server = createServer((req, res) => {
    if (isOffline) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.pathname + url.search);
    if (req.method === 'OPTIONS') {
      // CORS preflight (a cross-origin page asking with a Range header)
      res
        .writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, HEAD',
          'access-control-allow-headers': 'range',
          'access-control-max-age': '600',
        })
        .end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (url.pathname === prefix.replace(/\/$/, '')) {
        res.writeHead(301, { location: prefix + url.search }).end();
        return;
      }
      if (!url.pathname.startsWith(prefix)) continue;
      const root = resolve(dir);
      let file = resolve(root, decodeURIComponent(url.pathname.slice(prefix.length)));
      if (file !== root && !file.startsWith(root + sep)) break;
      if (existsSync(file) && statSync(file).isDirectory()) file = resolve(file, 'index.html');
      if (existsSync(file) && statSync(file).isFile()) {
        sendFile(req, res, file, extraHeaders);
        return;
      }
      break;
    }
    // with the CORS header, a cross-origin page can tell "not there" from a network failure
    res.writeHead(404, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' }).end('not found');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    setOffline(value) {
      isOffline = value;
      // kept-alive connections would otherwise still answer
      if (value) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
