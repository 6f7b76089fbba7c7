// `immutability-operator run` flags, parsed once into a frozen config. The environment is read here and only
// here (POD_NAME / POD_NAMESPACE from the downward API), never at import time.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_REQUESTS_IN_FLIGHT } from './k8s/http.js';
import { isLogLevel, type LogFormat, type LogLevel } from './observability/logger.js';

export interface RunConfig {
  kubeconfig?: string;
  metricsBindAddress: string;
  metricsAuth: 'kube' | 'none';
  metricsCertFile?: string;
  metricsKeyFile?: string;
  healthProbeBindAddress: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  /** Lease timing (client-go's LeaseDuration, RenewDeadline, RetryPeriod). */
  leaderElection: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  identity: string;
  /** This replica's own pod (downward API), when running in one. */
  ownPod?: { namespace: string; name: string };
  podWorkers: number;
  /** API requests in flight at once, besides watches (KubeHttp's connection pool). */
  maxRequestsInFlight: number;
  /** Concurrent workload reconciles (plan, owner patch, rollout guard, evictions). */
  workloadWorkers: number;
  policyWorkers: number;
  statusIntervalMs: number;
  /** Server-side timeout of each watch; a watch silent for twice as long is restarted (a stalled connection). */
  watchTimeoutSeconds: number;
  /** How often generated admission objects are compared with the API server's (deleted or edited ones come back). */
  admissionResyncMs: number;
  /** Every pod, workload and policy is reconciled again this often, even without events. */
  resyncPeriodMs: number;
  /** Per-workload reports kept in the cluster besides the policies' status: none, or OpenReports Reports. */
  reports: 'none' | 'openreports';
  audit: {
    webhookBindAddress?: string;
    tlsCertFile?: string;
    tlsKeyFile?: string;
    clientCaFile?: string;
    tokenFile?: string;
    maxBodyBytes: number;
    logFile?: string;
  };
  falco: {
    bindAddress?: string;
    certFile?: string;
    keyFile?: string;
    clientCaFile?: string;
    tokenFile?: string;
    queueCapacity: number;
  };
}

/**
 * Pod writes in flight at once. The API server's rate for the label write grows with the writes in flight
 * up to its CPU (etcd commits batch them): the benchmark measures its ceiling at 64, and the operator with
 * half as many got 0.75 of it at 50k pods (docs/benchmarks.md). Equal to the request pool, which APF bounds.
 */
export const DEFAULT_POD_WORKERS = 64;
export const DEFAULT_WORKLOAD_WORKERS = 16;
export const DEFAULT_RESYNC_PERIOD_MS = 10 * 60_000;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const RUN_USAGE = `Usage: immutability-operator run [flags]

Runs the controller against the cluster in --kubeconfig (else the in-cluster service account).

Flags:
  --kubeconfig PATH                   kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)
  --metrics-bind-address ADDR         /metrics address, "0" disables (default 127.0.0.1:8443)
  --metrics-auth kube|none            authenticate scrapes with TokenReview + SubjectAccessReview (default kube)
  --metrics-cert-file / --metrics-key-file PATH   serve /metrics over TLS
  --health-probe-bind-address ADDR    /healthz and /readyz address (default 127.0.0.1:8081)
  --log-level error|warn|info|debug   (default info; per-pod label writes are logged at debug)
  --log-format json|text              (default json)
  --leader-elect                      only the holder of the Lease acts (default off; on in the manifests)
  --leader-election-namespace NS      namespace of the Lease (default $POD_NAMESPACE or immutability-system)
  --leader-election-id NAME           Lease name (default immutability-operator)
  --leader-elect-lease-duration-seconds N   a standby takes over a Lease not renewed for this long (default 15)
  --leader-elect-renew-deadline-seconds N   the leader stops acting when renewals fail for this long (default 10)
  --leader-elect-retry-period-seconds N     renewal and acquisition interval (default 2)
  --workers N                         concurrent pod reconciles (default 64)
  --max-requests-in-flight N          API requests at once, besides watches (default 64); API Priority and
                                      Fairness shares the server beyond that and answers 429, which is backed off
  --workload-workers N                concurrent workload reconciles: patches, rollouts, evictions (default 16)
  --status-interval-ms N              minimum spacing of status writes per policy (default 1000)
  --watch-timeout-seconds N           server-side timeout of each watch; one silent for twice as long is
                                      restarted, which bounds how long a stalled connection goes unnoticed (default 300)
  --resync-period-seconds N           re-evaluate everything this often without events (default 600)
  --reports none|openreports          also keep one OpenReports Report (openreports.io/v1alpha1) per governed
                                      workload, for Policy Reporter and other OpenReports tools (default none)
  --audit-webhook-bind-address ADDR   serve the kube-apiserver audit webhook (HTTPS) on ADDR
  --audit-tls-cert-file / --audit-tls-key-file PATH   its serving certificate
  --audit-client-ca-file PATH         accept API server client certificates signed by this CA
  --audit-token-file PATH             or accept this bearer token
  --audit-max-body-bytes N            reject larger batches with 413 (default 4194304)
  --audit-log-file PATH               follow a kube-apiserver audit log (JSON lines) instead of / besides the webhook
  --falco-bind-address ADDR           serve POST /falco (HTTPS) for Falco's http_output / Falcosidekick's webhook
  --falco-cert-file / --falco-key-file PATH   its serving certificate
  --falco-client-ca-file PATH         accept client certificates signed by this CA (Falco http_output mtls)
  --falco-token-file PATH             or accept this bearer token (Falcosidekick webhook customHeaders)
  --falco-queue-size N                alerts waiting for processing before requests get 503 (default 10000)
`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

export function parseRunConfig(argv: string[], env: NodeJS.ProcessEnv): Readonly<RunConfig> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        'metrics-bind-address': { type: 'string' },
        'metrics-auth': { type: 'string' },
        'metrics-cert-file': { type: 'string' },
        'metrics-key-file': { type: 'string' },
        'health-probe-bind-address': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'leader-elect': { type: 'boolean' },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string' },
        'leader-elect-lease-duration-seconds': { type: 'string' },
        'leader-elect-renew-deadline-seconds': { type: 'string' },
        'leader-elect-retry-period-seconds': { type: 'string' },
        workers: { type: 'string' },
        'max-requests-in-flight': { type: 'string' },
        'status-interval-ms': { type: 'string' },
        'watch-timeout-seconds': { type: 'string' },
        'workload-workers': { type: 'string' },
        'resync-period-seconds': { type: 'string' },
        reports: { type: 'string' },
        'audit-webhook-bind-address': { type: 'string' },
        'audit-tls-cert-file': { type: 'string' },
        'audit-tls-key-file': { type: 'string' },
        'audit-client-ca-file': { type: 'string' },
        'audit-token-file': { type: 'string' },
        'audit-max-body-bytes': { type: 'string' },
        'audit-log-file': { type: 'string' },
        'falco-bind-address': { type: 'string' },
        'falco-cert-file': { type: 'string' },
        'falco-key-file': { type: 'string' },
        'falco-client-ca-file': { type: 'string' },
        'falco-token-file': { type: 'string' },
        'falco-queue-size': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);

  const logLevel = str('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) throw new ConfigError(`--log-level must be one of error, warn, info, debug; got "${logLevel}"`);
  const reports = str('reports') ?? 'none';
  if (reports !== 'none' && reports !== 'openreports') throw new ConfigError(`--reports must be none or openreports; got "${reports}"`);
  const logFormat = str('log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw new ConfigError(`--log-format must be json or text; got "${logFormat}"`);
  const metricsAuth = str('metrics-auth') ?? 'kube';
  if (metricsAuth !== 'kube' && metricsAuth !== 'none') throw new ConfigError(`--metrics-auth must be kube or none; got "${metricsAuth}"`);
  if ((str('metrics-cert-file') === undefined) !== (str('metrics-key-file') === undefined)) {
    throw new ConfigError('--metrics-cert-file and --metrics-key-file go together');
  }
  const audit: RunConfig['audit'] = {
    webhookBindAddress: str('audit-webhook-bind-address'),
    tlsCertFile: str('audit-tls-cert-file'),
    tlsKeyFile: str('audit-tls-key-file'),
    clientCaFile: str('audit-client-ca-file'),
    tokenFile: str('audit-token-file'),
    maxBodyBytes: positiveInt('audit-max-body-bytes', str('audit-max-body-bytes'), 4 * 1024 * 1024),
    logFile: str('audit-log-file'),
  };
  if (audit.webhookBindAddress) {
    if (!audit.tlsCertFile || !audit.tlsKeyFile) {
      throw new ConfigError('--audit-webhook-bind-address needs --audit-tls-cert-file and --audit-tls-key-file');
    }
    if (!audit.clientCaFile && !audit.tokenFile) {
      throw new ConfigError('--audit-webhook-bind-address needs --audit-client-ca-file or --audit-token-file: the endpoint is never unauthenticated');
    }
  }
  const falco: RunConfig['falco'] = {
    bindAddress: str('falco-bind-address'),
    certFile: str('falco-cert-file'),
    keyFile: str('falco-key-file'),
    clientCaFile: str('falco-client-ca-file'),
    tokenFile: str('falco-token-file'),
    queueCapacity: positiveInt('falco-queue-size', str('falco-queue-size'), 10_000),
  };
  if (falco.bindAddress) {
    if (!falco.certFile || !falco.keyFile) throw new ConfigError('--falco-bind-address needs --falco-cert-file and --falco-key-file');
    if (!falco.clientCaFile && !falco.tokenFile) {
      throw new ConfigError('--falco-bind-address needs --falco-client-ca-file or --falco-token-file: the endpoint is never unauthenticated');
    }
  }

  // client-go's defaults and its rules: a leader gives up before its lease can expire for the others, and
  // renews several times within its deadline.
  const leaderElection = {
    leaseDurationMs: positiveInt('leader-elect-lease-duration-seconds', str('leader-elect-lease-duration-seconds'), 15) * 1000,
    renewDeadlineMs: positiveInt('leader-elect-renew-deadline-seconds', str('leader-elect-renew-deadline-seconds'), 10) * 1000,
    retryPeriodMs: positiveInt('leader-elect-retry-period-seconds', str('leader-elect-retry-period-seconds'), 2) * 1000,
  };
  if (leaderElection.leaseDurationMs <= leaderElection.renewDeadlineMs) {
    throw new ConfigError('--leader-elect-lease-duration-seconds must be greater than --leader-elect-renew-deadline-seconds');
  }
  if (leaderElection.renewDeadlineMs <= 1.2 * leaderElection.retryPeriodMs) {
    throw new ConfigError('--leader-elect-renew-deadline-seconds must be greater than 1.2 × --leader-elect-retry-period-seconds');
  }

  const config: RunConfig = {
    kubeconfig: str('kubeconfig'),
    metricsBindAddress: str('metrics-bind-address') ?? '127.0.0.1:8443',
    metricsAuth,
    metricsCertFile: str('metrics-cert-file'),
    metricsKeyFile: str('metrics-key-file'),
    healthProbeBindAddress: str('health-probe-bind-address') ?? '127.0.0.1:8081',
    logLevel,
    logFormat,
    leaderElect: values['leader-elect'] === true,
    leaderElectionNamespace: str('leader-election-namespace') ?? (env.POD_NAMESPACE || 'immutability-system'),
    leaderElectionId: str('leader-election-id') ?? 'immutability-operator',
    leaderElection: Object.freeze(leaderElection),
    identity: env.POD_NAME || `${hostname()}-${process.pid}`,
    ...(env.POD_NAME && env.POD_NAMESPACE ? { ownPod: { namespace: env.POD_NAMESPACE, name: env.POD_NAME } } : {}),
    // A pod reconcile is mostly waiting for its label write: the workers bound the writes in flight, and 16
    // left the operator idle half the time of a 50k-pod backlog (docs/benchmarks.md, owned-N).
    podWorkers: positiveInt('workers', str('workers'), DEFAULT_POD_WORKERS),
    maxRequestsInFlight: positiveInt('max-requests-in-flight', str('max-requests-in-flight'), DEFAULT_MAX_REQUESTS_IN_FLIGHT),
    workloadWorkers: positiveInt('workload-workers', str('workload-workers'), DEFAULT_WORKLOAD_WORKERS),
    policyWorkers: 2,
    statusIntervalMs: positiveInt('status-interval-ms', str('status-interval-ms'), 1000),
    watchTimeoutSeconds: positiveInt('watch-timeout-seconds', str('watch-timeout-seconds'), 300),
    admissionResyncMs: 10_000,
    resyncPeriodMs: positiveInt('resync-period-seconds', str('resync-period-seconds'), DEFAULT_RESYNC_PERIOD_MS / 1000) * 1000,
    reports,
    audit: Object.freeze(audit),
    falco: Object.freeze(falco),
  };
  return Object.freeze(config);
}
