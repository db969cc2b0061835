/**
 * `srdtrans app`: serves the browser app (dist-web/, built by `npm run build:web`) on localhost.
 * Every response carries the cross-origin isolation headers, so the page may use
 * SharedArrayBuffer and TF.js's wasm backend runs threaded.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';

/** dist-web/ beside dist/, in the package. */
export const APP_DIR = fileURLToPath(new URL('../../dist-web/', import.meta.url));

const SPEC: OptionSpec = {
  port: { type: 'string', help: 'port to listen on (0: any free one)', default: 8417 },
  host: { type: 'string', help: 'address to listen on (other machines can reach 0.0.0.0)', default: '127.0.0.1' },
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
};

/** The isolation headers, and CORP so that isolated pages may load each file. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('app', '[--port N] [--host ADDRESS]', SPEC, args);
  if (parsed === 'help') return 0;
  const port = numberOption(parsed.values, 'port', 8417, { min: 0, max: 65535, integer: true });
  const host = stringOption(parsed.values, 'host') ?? '127.0.0.1';
  const server = await serveApp(APP_DIR, port, host);
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  const shown = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  process.stdout.write(`srdtrans app: open http://${shown}:${actual}/ (Ctrl-C stops the server)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** Starts serving `root` (the built app); resolves once listening. */
export async function serveApp(root: string, port: number, host: string): Promise<Server> {
  const index = path.join(root, 'index.html');
  if (!(await fs.stat(index).then((s) => s.isFile(), () => false))) {
    throw new ConfigError(`the browser app is not built (no ${index}): run npm run build:web`);
  }
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      let rel: string;
      try {
        rel = decodeURIComponent(url.pathname);
      } catch {
        rel = '';
      }
      const file = path.join(root, rel.endsWith('/') ? `${rel}index.html` : rel);
      // Only files inside the app's folder, whatever the path says.
      const inside = file.startsWith(root) && !rel.includes('\0');
      const stat = inside ? await fs.stat(file).catch(() => null) : null;
      if (!stat?.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(stat?.isFile() ? 405 : 404, { 'Content-Type': 'text/plain; charset=utf-8', ...ISOLATION_HEADERS });
        res.end(stat?.isFile() ? 'method not allowed\n' : 'not found\n');
        return;
      }
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': stat.size,
        // Built assets carry a content hash in their names; the page itself must be fresh.
        'Cache-Control': file === index ? 'no-cache' : 'max-age=31536000, immutable',
        ...ISOLATION_HEADERS,
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new ConfigError(`port ${port} on ${host} is in use: pass another --port (0 picks a free one)`)
        : new ConfigError(`cannot listen on ${host}:${port} (${err.code ?? err.message}): pass another --port or --host`));
    });
    server.listen(port, host, () => resolve());
  });
  return server;
}
