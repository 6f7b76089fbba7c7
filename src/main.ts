// Composition root of `immutability-operator run`: config → logger → clients → caches → controllers →
// servers, then leader election decides when the controllers act. SIGTERM/SIGINT stop acting at once,
// release the Lease so a standby takes over without waiting for expiry, and close everything.
import { setMaxListeners } from 'node:events';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { Registry } from 'prom-client';
import type { RunConfig } from './config.js';
import { createCaches } from './controllers/caches.js';
import { ControllerManager } from './controllers/manager.js';
import { PodReconciler } from './controllers/pod-reconciler.js';
import { PolicyReconciler } from './controllers/policy-reconciler.js';
import { ReportWriter } from './reports/report-writer.js';
import { AdmissionReconciler } from './controllers/admission-reconciler.js';
import { WorkloadReconciler } from './controllers/workload-reconciler.js';
import { WorkloadRemediator } from './remediation/remediator.js';
import { cachedRemediationApi, WorkloadCache } from './remediation/workload-cache.js';
import { PolicySet } from './controllers/policy-set.js';
import { DriftRegistry } from './controllers/drift-registry.js';
import { startDriftDetection } from './audit/drift-detection.js';
import { KubeApi } from './k8s/api.js';
import { KubeHttp } from './k8s/http.js';
import { loadKubeCredentials } from './k8s/kubeconfig.js';
import { leaderLabel } from './k8s/leader-label.js';
import { leaseClient } from './k8s/lease.js';
import { httpListWatch } from './k8s/list-watch.js';
import { EventRecorder, eventsSink } from './observability/events.js';
import { startHealthServer } from './observability/health-server.js';
import { parseBindAddress, type RunningServer } from './observability/http-server.js';
import { kubeAuthorizer } from './observability/kube-authorizer.js';
import { watchEventLoop } from './observability/event-loop.js';
import { heapFit } from './observability/heap-limit.js';
import { startHeapReclaimer, v8Heap } from './observability/heap-reclaim.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { startMetricsServer } from './observability/metrics-server.js';
import { systemClock } from './runtime/clock.js';
import { LeaderElector } from './runtime/leader-election.js';
import { errorFields } from './runtime/logger.js';

/** Upper bound of concurrent listeners on a shutdown/leadership signal (workers, watches, requests). */
export const MAX_SIGNAL_LISTENERS = 512;

async function startServers(config: RunConfig, http: KubeHttp, registry: Registry, ready: () => boolean, logger: Logger): Promise<RunningServer[]> {
  const servers: RunningServer[] = [];
  const health = parseBindAddress(config.healthProbeBindAddress);
  if (health) {
    servers.push(await startHealthServer({
      ...health, logger,
      readiness: [{ name: 'informers-synced', check: ready }],
    }));
  }
  const metrics = parseBindAddress(config.metricsBindAddress);
  if (metrics) {
    servers.push(await startMetricsServer({
      ...metrics, registry, logger,
      auth: config.metricsAuth === 'none' ? 'none' : kubeAuthorizer(http),
      ...(config.metricsCertFile && config.metricsKeyFile
        ? { tls: { certFile: config.metricsCertFile, keyFile: config.metricsKeyFile } } : {}),
    }));
  }
  return servers;
}

/** Runs until a signal; resolves with the process exit code. */
export async function runOperator(config: RunConfig, opts: { signals?: boolean } = {}): Promise<number> {
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  const stopEventLoopWatch = watchEventLoop({ logger });
  const heap = heapFit(getHeapStatistics().heap_size_limit, process.constrainedMemory(), totalmem());
  if (heap) logger[heap.level](heap.message, heap.fields);
  const http = new KubeHttp(await loadKubeCredentials(config.kubeconfig), { maxRequestsInFlight: config.maxRequestsInFlight });
  const api = new KubeApi(http);
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const clock = systemClock;
  const root = new AbortController();
  // Every in-flight request and watch listens on this signal; dozens at once is normal, not a leak.
  setMaxListeners(MAX_SIGNAL_LISTENERS, root.signal);

  const caches = createCaches({
    source: (path) => httpListWatch(http, path),
    clock, logger,
    onRestart: (resource, reason) => metrics.watchRestarts.inc({ resource, reason }),
    watchTimeoutSec: config.watchTimeoutSeconds,
  });
  const policies = new PolicySet(caches.policies);
  const events = new EventRecorder({ sink: eventsSink(http), instance: config.identity, clock, logger });
  const now = (): Date => new Date(clock.now());
  const drift = new DriftRegistry({ podUid: (key) => caches.pods.get(key)?.metadata.uid, now });
  const podReconciler = new PodReconciler({ caches, policies, api, events, metrics, logger: logger.child({ controller: 'pod' }), drift, now });
  // Workloads are read from the watch caches, not with a GET each; our writes are laid over them until watched.
  const remediationApi = cachedRemediationApi(api, new WorkloadCache(caches.workloads));
  const remediator = new WorkloadRemediator({ api: remediationApi, events, metrics, logger: logger.child({ controller: 'workload' }), clock });
  // The reconcilers hand keys to the manager's queues; the manager runs the reconcilers: bound late.
  const keys = { enqueuePods: (k: readonly string[]): void => manager.enqueuePods(k), statusDue: (p: string): void => manager.policyStatusDue(p) };
  const reports = config.reports === 'openreports' ? new ReportWriter(api, logger.child({ controller: 'workload' }), now) : undefined;
  const workloadReconciler = new WorkloadReconciler({
    caches, policies, drift, remediator, now, onOutcomeChange: keys.statusDue, ...(reports ? { reports } : {}),
  });
  const policyReconciler = new PolicyReconciler({
    caches, policies, api, remediation: remediator, drift, events, metrics, enqueuePods: keys.enqueuePods,
    unsettledPods: () => podReconciler.unsettledPods(), logger: logger.child({ controller: 'policy' }), now, statusIntervalMs: config.statusIntervalMs,
  });
  const admissionReconciler = new AdmissionReconciler({
    policies, http, events, logger: logger.child({ controller: 'admission' }), now, resyncMs: config.admissionResyncMs,
  });
  const manager: ControllerManager = new ControllerManager({
    caches, podReconciler, workloadReconciler, policyReconciler, admissionReconciler, metrics, logger, clock,
    podWorkers: config.podWorkers, workloadWorkers: config.workloadWorkers, policyWorkers: config.policyWorkers,
    statusIntervalMs: config.statusIntervalMs, resyncPeriodMs: config.resyncPeriodMs,
    prepareLeading: (signal) => remediator.loadRecordedActions(signal),
  });

  const reclaimableHeap = v8Heap();
  const stopHeapReclaimer = reclaimableHeap ? startHeapReclaimer({
    activity: () => manager.activity(), heap: reclaimableHeap, clock, logger: logger.child({ component: 'heap' }),
    onReclaimed: (freedBytes) => {
      metrics.heapReclaims.inc();
      metrics.heapReclaimedBytes.inc(freedBytes);
    },
  }) : (): void => undefined;

  const driftDetection = await startDriftDetection({
    audit: config.audit, falco: config.falco, registry: drift, caches, policies, enqueuePod: (key) => manager.enqueuePod(key),
    events, metrics, logger, clock,
  });
  const servers = await startServers(config, http, registry, () => caches.hasSynced(), logger);
  caches.start(root.signal);
  logger.info('operator starting', { identity: config.identity, leaderElect: config.leaderElect });

  let exitCode = 0;
  const stop = (reason: string, code = 0): void => {
    if (root.signal.aborted) return;
    logger.info('shutting down', { reason });
    exitCode = code;
    root.abort();
  };
  if (opts.signals ?? true) {
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }

  const lead = (signal: AbortSignal): Promise<void> =>
    manager.runLeading(signal).catch((err: unknown) => {
      if (!signal.aborted) {
        logger.error('controllers failed', errorFields(err));
        stop('controllers failed', 1);
      }
    });

  if (config.leaderElect) {
    let leading: Promise<void> = Promise.resolve();
    // The leader label on our own pod follows leadership; one left by a previous run of this pod goes first.
    const ownPod = config.ownPod ? leaderLabel(http, config.ownPod) : undefined;
    let labelWrite: Promise<unknown> = Promise.resolve();
    const markLeader = (isLeader: boolean): void => {
      if (!ownPod) return;
      labelWrite = labelWrite.then(() => ownPod.set(isLeader)).catch((err: unknown) =>
        logger.warn('could not update the leader label on our pod', { leader: isLeader, ...errorFields(err) }));
    };
    markLeader(false);
    const elector = new LeaderElector({
      client: leaseClient(http), namespace: config.leaderElectionNamespace, name: config.leaderElectionId,
      identity: config.identity, ...config.leaderElection, clock, logger: logger.child({ component: 'leader-election' }),
      onStartedLeading: (signal) => {
        setMaxListeners(MAX_SIGNAL_LISTENERS, signal);
        metrics.leader.set(1);
        logger.info('became leader', { identity: config.identity });
        markLeader(true);
        leading = lead(signal);
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        markLeader(false);
        logger.info('stopped leading', { identity: config.identity });
      },
      onNewLeader: (identity) => logger.info('leader observed', { leader: identity }),
    });
    await elector.run(root.signal);
    // Leadership ended: either we are shutting down, or we lost the lease. client-go's answer to the latter is
    // to exit and let the Deployment restart us as a fresh candidate; never keep acting without the lease.
    await leading;
    await labelWrite;
    if (!root.signal.aborted) stop('lost leadership', 1);
  } else {
    await lead(root.signal);
    if (!root.signal.aborted) await new Promise<void>((r) => root.signal.addEventListener('abort', () => r(), { once: true }));
  }

  await driftDetection.stop();
  await events.flush();
  await Promise.all(servers.map((s) => s.close()));
  http.close();
  stopEventLoopWatch();
  stopHeapReclaimer();
  logger.info('operator stopped', { exitCode });
  return exitCode;
}
