// The /metrics endpoint, protected the way kubebuilder's secure metrics serving protects it: HTTPS when a
// certificate is configured, and every request must carry a bearer token that the API server authenticates
// (TokenReview) and authorizes for `get` on the non-resource URL /metrics (SubjectAccessReview). Metrics
// reveal namespaces, policy names and workload counts, so they are not served to anyone who can reach the
// pod network.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { requestPath, sendText, startHttpServer } from './http-server.js';
import type { RunningServer, TlsFiles } from './http-server.js';
import type { Logger } from './logger.js';

export type AuthorizationDecision = 'allowed' | 'unauthenticated' | 'forbidden';

export interface RequestAuthorizer {
  /** Decides whether the bearer `token` may GET `path`. Throws when it cannot decide (API unreachable). */
  authorize(token: string, path: string): Promise<AuthorizationDecision>;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /**
   * Who may scrape. 'none' turns authentication off; it exists for `make run` on a workstation
   * (`--metrics-auth=none`) and is never used by the shipped manifests.
   */
  auth: RequestAuthorizer | 'none';
  tls?: TlsFiles;
  logger: Logger;
}

export const METRICS_PATH = '/metrics';

export async function startMetricsServer(opts: MetricsServerOptions): Promise<RunningServer> {
  const log = opts.logger.child({ server: 'metrics' });
  if (opts.auth === 'none') {
    log.warn('metrics authentication is disabled; anyone who can reach the endpoint can read it');
  }
  if (!opts.tls) {
    log.info('serving metrics over plain HTTP; configure a certificate to serve HTTPS');
  }
  const server = await startHttpServer({
    host: opts.host,
    port: opts.port,
    logger: log,
    routes: { [METRICS_PATH]: metricsHandler(opts.registry, opts.auth, log) },
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  log.info('metrics server listening', { host: opts.host, port: server.port, https: opts.tls !== undefined });
  return server;
}

export function metricsHandler(registry: Registry, auth: RequestAuthorizer | 'none', logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (auth !== 'none') {
      const token = bearerToken(req.headers.authorization);
      if (token === undefined) {
        sendText(res, 401, 'unauthorized\n', { 'WWW-Authenticate': 'Bearer' });
        return;
      }
      const decision = await auth.authorize(token, requestPath(req));
      if (decision === 'unauthenticated') {
        sendText(res, 401, 'unauthorized\n', { 'WWW-Authenticate': 'Bearer' });
        return;
      }
      if (decision === 'forbidden') {
        logger.debug('metrics scrape forbidden', { remoteAddress: req.socket.remoteAddress });
        sendText(res, 403, 'forbidden\n');
        return;
      }
    }
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +(\S+)\s*$/i.exec(header);
  return match?.[1];
}
