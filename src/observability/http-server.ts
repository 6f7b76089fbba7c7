// A minimal HTTP(S) server for the operator's own endpoints (probes, metrics). Routes are exact paths; the
// server adds what every endpoint needs: method checks, a 404 for anything else, a 500 that never leaks
// error text, tight timeouts against slow clients, and a close() that does not wait for idle keep-alives.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface HttpServerOptions {
  /** Address to bind; '' binds every interface. */
  host: string;
  /** 0 picks a free port (tests); the chosen one is returned as `port`. */
  port: number;
  /** Exact request paths (query string ignored) to handlers. Only GET and HEAD are accepted. */
  routes: Readonly<Record<string, RouteHandler>>;
  /** Serve HTTPS with this PEM certificate and key; plain HTTP when absent. */
  tls?: TlsFiles;
  logger: Logger;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningServer> {
  const handler = dispatch(opts.routes, opts.logger);
  let server: Server;
  if (opts.tls) {
    const [cert, key] = await Promise.all([readFile(opts.tls.certFile), readFile(opts.tls.keyFile)]);
    server = https.createServer({ cert, key, minVersion: 'TLSv1.2' }, handler);
  } else {
    server = http.createServer(handler);
  }
  // Probe and scrape requests are tiny; a client that dribbles its request is cut off quickly.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host === '' ? undefined : opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.error('http server error', { err }));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // close() alone waits for idle keep-alive connections (a Prometheus scraper holds one open).
        server.closeAllConnections();
      }),
  };
}

function dispatch(routes: Readonly<Record<string, RouteHandler>>, logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = requestPath(req);
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) {
      sendText(res, 404, 'not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendText(res, 405, 'method not allowed\n');
      return;
    }
    Promise.resolve()
      .then(() => route(req, res))
      .catch((err: unknown) => {
        logger.error('http handler failed', { path, err });
        if (!res.headersSent) {
          sendText(res, 500, 'internal server error\n');
        } else {
          res.destroy();
        }
      });
  };
}

export function requestPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

export function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Parses a bind address in the Go style the flags use: ':8443' (all interfaces), '127.0.0.1:8081',
 * '[::1]:8081'. Returns undefined for '0', which by convention disables the endpoint.
 */
export function parseBindAddress(address: string): { host: string; port: number } | undefined {
  if (address === '0') {
    return undefined;
  }
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`invalid bind address "${address}" (expected host:port, :port or 0)`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}
