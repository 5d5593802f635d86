// A tiny read-only static server for browser tests and examples.
//
// Serves the repository root on 127.0.0.1 (WebGPU needs a secure context: http://127.0.0.1 is one,
// file:// and about:blank are not) with COOP/COEP headers, so pages are cross-origin isolated and
// performance.now() has 5 µs steps instead of 100 µs (reference/webgpu-runtime-notes.md).
// onnxruntime-web's dist/ is also served at /ort/ (as ORT's `env.wasm.wasmPaths = '/ort/'` expects).
//
// Standalone: `node scripts/run-ts.mjs test/browser/server.ts [--port N]` prints the URL and serves
// until interrupted. Port: --port, else $WGPROF_TEST_PORT, else 4173 (0 = any free port).

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEFAULT_TEST_PORT = 4173;

export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.onnx': 'application/octet-stream',
  '.gz': 'application/gzip',
};

/** Headers on every response: cross-origin isolation, and no caching (tests always see fresh builds). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export interface StaticServerOptions {
  /** Folder served at `/` (default: the repository root). */
  root?: string;
  /** URL prefix → folder served under it, checked before `root` (default: `/ort/` → onnxruntime-web's dist/). */
  mounts?: Record<string, string>;
  /** 0 = any free port. */
  port?: number;
  host?: string;
}

export interface StaticServer {
  /** e.g. `http://127.0.0.1:4173` (no trailing slash). */
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export function defaultMounts(root: string = REPO_ROOT): Record<string, string> {
  return { '/ort/': join(root, 'node_modules/onnxruntime-web/dist') };
}

/**
 * Maps a request path onto a file under one of the served folders, or null when it is outside them
 * (`..`, encoded `%2e%2e`, backslashes, NUL bytes), names a hidden entry (a segment starting with `.`),
 * or is malformed.
 */
export function resolveRequestPath(urlPath: string, root: string, mounts: Record<string, string>): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  // `..` never; hidden entries (.git, .env, scratch folders) are not for pages either.
  if (decoded.split('/').some((segment) => segment.startsWith('.'))) return null;
  for (const [prefix, folder] of Object.entries(mounts)) {
    if (decoded.startsWith(prefix)) return inside(resolve(folder), decoded.slice(prefix.length));
  }
  return inside(resolve(root), decoded.slice(1));
}

function inside(base: string, relative: string): string | null {
  const target = resolve(base, relative);
  return target === base || target.startsWith(base + sep) ? target : null;
}

export async function startStaticServer(options: StaticServerOptions = {}): Promise<StaticServer> {
  const root = resolve(options.root ?? REPO_ROOT);
  const mounts = options.mounts ?? defaultMounts(root);
  const realRoots = await Promise.all([root, ...Object.values(mounts)].map((p) => realpath(p).catch(() => resolve(p))));
  const host = options.host ?? '127.0.0.1';

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${String(error)}\n`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, `method ${req.method ?? '?'} not allowed: this server is read-only\n`);
    }
    const rawPath = (req.url ?? '/').split(/[?#]/, 1)[0] ?? '/';
    const path = resolveRequestPath(rawPath, root, mounts);
    if (path === null) return send(res, 403, `forbidden: ${rawPath} is outside the served folders\n`);
    let file = path;
    let info = await stat(file).catch(() => null);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => null);
    }
    if (!info?.isFile()) return send(res, 404, `not found: ${rawPath}\n`);
    // Symlinks may not lead out of the served folders.
    const real = await realpath(file);
    if (!realRoots.some((r) => real === r || real.startsWith(r + sep))) {
      return send(res, 403, `forbidden: ${rawPath} links outside the served folders\n`);
    }
    res.writeHead(200, {
      ...ISOLATION_HEADERS,
      'Content-Type': MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
    });
    if (req.method === 'HEAD') return void res.end();
    await new Promise<void>((done, fail) => {
      const stream = createReadStream(file);
      stream.on('error', fail);
      res.on('close', () => {
        stream.destroy();
        done();
      });
      stream.pipe(res);
    });
  }

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? DEFAULT_TEST_PORT, host, () => {
      server.off('error', fail);
      done();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** The port from `--port N`, else $WGPROF_TEST_PORT, else the default; throws on a bad value. */
export function portFrom(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const flag = argv.indexOf('--port');
  const raw = flag >= 0 ? argv[flag + 1] : env['WGPROF_TEST_PORT'];
  if (raw === undefined || raw === '') return DEFAULT_TEST_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`port must be an integer 0..65535 (got ${JSON.stringify(raw)} from ${flag >= 0 ? '--port' : 'WGPROF_TEST_PORT'})`);
  }
  return port;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const served = await startStaticServer({ port: portFrom(process.argv.slice(2)) });
    process.stdout.write(`serving ${REPO_ROOT} at ${served.url}/ (cross-origin isolated; /ort/ = onnxruntime-web dist)\n`);
    const stop = () => void served.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (error) {
    const hint = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? ' (the port is taken: pass --port 0 for any free port)' : '';
    process.stderr.write(`test/browser/server.ts: ${error instanceof Error ? error.message : String(error)}${hint}\n`);
    process.exitCode = 2;
  }
}
