// Runtime drift detection, assembled: the audit sources that are configured (webhook, log file) feed one
// pipeline, the Falco endpoint feeds its own bounded queue, both feed the drift registry, and each new record re-queues its pod (labels) and the
// policies (status, eviction) and emits an Event on the pod. Pod deletions clear the registry's memory.
import type { Subscription } from 'rxjs';
import type { RunConfig } from '../config.js';
import type { Caches } from '../controllers/caches.js';
import type { DriftRegistry } from '../controllers/drift-registry.js';
import type { PolicySet } from '../controllers/policy-set.js';
import type { EventRecorder } from '../observability/events.js';
import { parseBindAddress } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../runtime/clock.js';
import { KeyedThrottle } from '../runtime/keyed-throttle.js';
import type { DriftRecord } from './classify.js';
import { startFalcoEndpoint } from '../falco/endpoint.js';
import { FalcoIngest } from '../falco/ingest.js';
import { LogFollower } from './log-follower.js';
import { AuditPipeline } from './pipeline.js';
import { loadCredentials, type RunningIngestServer } from './ingest-server.js';
import { startAuditWebhook, type RunningAuditWebhook } from './webhook-server.js';

/** Shortest spacing of drift-details rewrites of one pod while records keep arriving. */
export const DRIFT_REWRITE_INTERVAL_MS = 1000;

export interface DriftDetectionDeps {
  audit: RunConfig['audit'];
  falco: RunConfig['falco'];
  registry: DriftRegistry;
  caches: Pick<Caches, 'pods' | 'namespaces'>;
  policies: Pick<PolicySet, 'governing'>;
  /** Re-queues a pod and, soon after, the policies. */
  enqueuePod(key: string): void;
  events: Pick<EventRecorder, 'record'>;
  metrics: Pick<Metrics, 'auditEvents' | 'falcoAlerts'>;
  logger: Logger;
  clock: Clock;
}

export interface DriftDetection {
  /** Port the webhook listens on, when it does. */
  readonly webhookPort?: number;
  /** Port the Falco endpoint listens on, when it does. */
  readonly falcoPort?: number;
  stop(): Promise<void>;
}

function describe(record: DriftRecord): string {
  if (record.what === 'falco') {
    return `Falco rule "${record.rule ?? 'unknown'}" (${record.priority ?? 'unknown priority'})${record.container ? ` in container ${record.container}` : ''}: ${record.output ?? ''}`;
  }
  const parts = [`${record.what} by ${record.who || 'unknown user'}`];
  if (record.as) parts.push(`as ${record.as}`);
  if (record.container) parts.push(`in container ${record.container}`);
  if (record.command) parts.push(`command "${record.command}"`);
  if (record.via) parts.push(`via ${record.via}`);
  return parts.join(' ');
}

export async function startDriftDetection(deps: DriftDetectionDeps): Promise<DriftDetection> {
  const { audit, registry, caches, logger } = deps;
  const log = logger.child({ component: 'audit' });
  const subscriptions: Subscription[] = [];

  const stopForgetting = caches.pods.onChange((ev) => {
    if (ev.type === 'deleted') registry.forgetPod(ev.key, ev.obj.metadata.uid);
  });
  // A pod's first drift record is written at once; a flood of records about one pod (a Falco rule firing on
  // every process a miner spawns) rewrites its drift-details at most once a second instead of on every one.
  const podRewrites = new KeyedThrottle<string>(deps.clock, DRIFT_REWRITE_INTERVAL_MS, (key) => deps.enqueuePod(key));
  subscriptions.push(registry.changes$.subscribe(({ key, record }) => {
    podRewrites.hit(key);
    const pod = caches.pods.get(key);
    if (!pod) return;
    const namespace = pod.metadata.namespace ?? 'default';
    const counting = registry.countingPolicies(pod, record, deps.policies.governing(), caches.namespaces.get(namespace)?.metadata.labels);
    if (counting.length === 0) return;
    deps.events.record({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, namespace, uid: pod.metadata.uid },
      'Warning', 'DriftDetected', 'Detect', `runtime drift: ${describe(record)} (policies ${counting.join(', ')})`.slice(0, 1000));
  }));

  const pipeline = new AuditPipeline({
    onDrift: (pod, record) => registry.record(pod, record),
    metrics: deps.metrics,
    logger: log,
  });

  let webhook: RunningAuditWebhook | undefined;
  const bind = audit.webhookBindAddress ? parseBindAddress(audit.webhookBindAddress) : undefined;
  if (bind) {
    if (!audit.tlsCertFile || !audit.tlsKeyFile) throw new Error('the audit webhook needs --audit-tls-cert-file and --audit-tls-key-file');
    const credentials = await loadCredentials({
      certFile: audit.tlsCertFile, keyFile: audit.tlsKeyFile, tokenFlag: '--audit-token-file',
      ...(audit.clientCaFile ? { clientCaFile: audit.clientCaFile } : {}), ...(audit.tokenFile ? { tokenFile: audit.tokenFile } : {}),
    });
    webhook = await startAuditWebhook({
      ...bind, ...credentials, maxBodyBytes: audit.maxBodyBytes, logger: log,
      onEvents: (items) => {
        for (const item of items) pipeline.push('webhook', item);
      },
    });
  }

  let falcoEndpoint: RunningIngestServer | undefined;
  let falcoIngest: FalcoIngest | undefined;
  const { falco } = deps;
  const falcoBind = falco.bindAddress ? parseBindAddress(falco.bindAddress) : undefined;
  if (falcoBind) {
    if (!falco.certFile || !falco.keyFile) throw new Error('the Falco endpoint needs --falco-cert-file and --falco-key-file');
    const credentials = await loadCredentials({
      certFile: falco.certFile, keyFile: falco.keyFile, tokenFlag: '--falco-token-file',
      ...(falco.clientCaFile ? { clientCaFile: falco.clientCaFile } : {}), ...(falco.tokenFile ? { tokenFile: falco.tokenFile } : {}),
    });
    const falcoLog = logger.child({ component: 'falco' });
    falcoIngest = new FalcoIngest({
      pod: (key) => caches.pods.get(key),
      record: (pod, record) => registry.record(pod, record),
      metrics: deps.metrics, logger: falcoLog, capacity: falco.queueCapacity,
    });
    falcoEndpoint = await startFalcoEndpoint({
      ...falcoBind, ...credentials, logger: falcoLog, ingest: falcoIngest,
      onRefused: () => deps.metrics.falcoAlerts.inc({ outcome: 'refused' }),
    });
  }

  const followerStop = new AbortController();
  let following: Promise<void> = Promise.resolve();
  if (audit.logFile) {
    const follower = new LogFollower({
      path: audit.logFile, clock: deps.clock, logger: log,
      onLine: (line) => {
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          raw = undefined; // validation counts it as malformed
        }
        pipeline.push('log', raw);
      },
      onOversizedLine: () => deps.metrics.auditEvents.inc({ source: 'log', outcome: 'malformed' }),
      ready: () => pipeline.room(),
    });
    following = follower.run(followerStop.signal);
    log.info('following audit log', { path: audit.logFile, from: 'end of the existing file' });
  }

  return {
    ...(webhook ? { webhookPort: webhook.port } : {}),
    ...(falcoEndpoint ? { falcoPort: falcoEndpoint.port } : {}),
    async stop() {
      followerStop.abort();
      await Promise.all([webhook?.close(), falcoEndpoint?.close(), following]);
      pipeline.close();
      falcoIngest?.close();
      for (const s of subscriptions) s.unsubscribe();
      podRewrites.stop();
      stopForgetting();
    },
  };
}
