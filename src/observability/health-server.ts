// Kubelet probe endpoints. Like the API server's own /healthz and /readyz they are unauthenticated (the
// kubelet sends no credentials) and reveal nothing but check names.
//   /healthz  the process is alive and its event loop answers (plus optional liveness checks)
//   /readyz   every readiness check passes (e.g. caches synced); 503 naming the failing checks otherwise
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText, startHttpServer } from './http-server.js';
import type { RunningServer } from './http-server.js';
import type { Logger } from './logger.js';

export interface HealthCheck {
  /** Short kebab-case name shown in the probe output, e.g. `caches-synced`. */
  name: string;
  /** True when healthy. A throw, a rejection or a timeout counts as failing. */
  check(): boolean | Promise<boolean>;
}

export interface HealthServerOptions {
  host: string;
  port: number;
  readiness?: readonly HealthCheck[];
  liveness?: readonly HealthCheck[];
  /** How long one check may take before it counts as failed; kubelet's default probe timeout is 1 s. */
  checkTimeoutMs?: number;
  logger: Logger;
}

export function startHealthServer(opts: HealthServerOptions): Promise<RunningServer> {
  const timeoutMs = opts.checkTimeoutMs ?? 800;
  return startHttpServer({
    host: opts.host,
    port: opts.port,
    logger: opts.logger,
    routes: {
      '/healthz': probeHandler('healthz', opts.liveness ?? [], timeoutMs, opts.logger),
      '/readyz': probeHandler('readyz', opts.readiness ?? [], timeoutMs, opts.logger),
    },
  });
}

export interface CheckResult {
  name: string;
  ok: boolean;
}

export async function runChecks(checks: readonly HealthCheck[], timeoutMs: number): Promise<CheckResult[]> {
  return Promise.all(checks.map(async (c) => ({ name: c.name, ok: await passes(c, timeoutMs) })));
}

async function passes(check: HealthCheck, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.check()), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// Output follows the API server's probes: `ok` when healthy; with `?verbose`, or on failure, one line per
// check (`[+]name ok` / `[-]name failed`) and a summary line.
function probeHandler(probe: string, checks: readonly HealthCheck[], timeoutMs: number, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const results = await runChecks(checks, timeoutMs);
    const failed = results.filter((r) => !r.ok);
    const verbose = new URL(req.url ?? '/', 'http://probe').searchParams.has('verbose');
    if (failed.length > 0) {
      logger.debug('probe failed', { probe, failed: failed.map((r) => r.name) });
    }
    if (failed.length === 0 && !verbose) {
      sendText(res, 200, 'ok\n');
      return;
    }
    const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed`));
    lines.push(failed.length === 0 ? `${probe} check passed` : `${probe} check failed`);
    sendText(res, failed.length === 0 ? 200 : 503, `${lines.join('\n')}\n`);
  };
}
