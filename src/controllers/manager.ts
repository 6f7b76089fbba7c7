// Wires caches to work queues and reconcilers. Watch handlers only map events to keys; all effects happen
// in reconcilers run by the workers, and only while this replica leads (each leadership term gets fresh
// queues, so losing the lease stops every action at once).
import type { ImmutabilityPolicy } from '../api/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { errorFields } from '../runtime/logger.js';
import { runWorkers, type ReconcileOutcome, type ReconcileResult } from '../runtime/workers.js';
import { WorkQueue } from '../runtime/workqueue.js';
import type { Clock } from '../runtime/clock.js';
import type { StoreEvent } from '../runtime/store.js';
import { POD_NAMESPACE_INDEX, type Caches } from './caches.js';
import type { PodReconciler } from './pod-reconciler.js';
import type { PolicyReconciler } from './policy-reconciler.js';
import type { AdmissionReconciler } from './admission-reconciler.js';
import { objectKey } from '../runtime/list-watch.js';

export interface ManagerOptions {
  caches: Caches;
  podReconciler: PodReconciler;
  policyReconciler: PolicyReconciler;
  /** Keyed by policy: the generated admission objects and AdmissionReady. */
  admissionReconciler?: AdmissionReconciler;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  podWorkers: number;
  policyWorkers: number;
  /** Pod churn reaches a policy's status no more often than this. */
  statusIntervalMs: number;
  maxRetries?: number;
}

interface Queues {
  pods: WorkQueue;
  policies: WorkQueue;
  admission: WorkQueue;
}

/** Our own status writes bump resourceVersion but not generation: they must not retrigger work. */
export function policyChangeNeedsWork(ev: StoreEvent<ImmutabilityPolicy>): boolean {
  if (ev.type !== 'updated' || !ev.old) return true;
  const a = ev.old.metadata;
  const b = ev.obj.metadata;
  return a.generation !== b.generation || a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? []);
}

export class ControllerManager {
  private queues?: Queues;

  constructor(private readonly opts: ManagerOptions) {
    const { caches } = opts;
    caches.pods.onChange((ev) => {
      this.queues?.pods.add(ev.key);
      this.touchAllPolicies();
    });
    caches.policies.onChange((ev) => {
      if (!policyChangeNeedsWork(ev)) return;
      this.queues?.policies.add(ev.key);
      this.queues?.admission.add(ev.key);
      const specChanged = ev.type !== 'updated' || ev.old?.metadata.generation !== ev.obj.metadata.generation;
      if (specChanged) this.enqueueAllPods();
    });
    caches.namespaces.onChange((ev) => {
      if (ev.type === 'updated' && JSON.stringify(ev.old?.metadata.labels ?? {}) === JSON.stringify(ev.obj.metadata.labels ?? {})) return;
      for (const pod of caches.pods.byIndex(POD_NAMESPACE_INDEX, ev.obj.metadata.name)) {
        this.queues?.pods.add(objectKey(pod.metadata));
      }
      this.touchAllPolicies();
    });
    // Ownership changes (a ReplicaSet adopted by a Deployment) regroup workloads in status.
    caches.replicaSets.onChange(() => this.touchAllPolicies());
    caches.jobs.onChange(() => this.touchAllPolicies());
  }

  /** Runs the reconcilers until `signal` aborts (leadership lost or shutdown); resolves when drained. */
  async runLeading(signal: AbortSignal): Promise<void> {
    const { caches, logger, metrics, clock } = this.opts;
    await caches.waitForSync(signal);
    if (signal.aborted) return;
    const queues: Queues = {
      pods: new WorkQueue({ clock, hooks: { onDepthChange: (d) => metrics.queueDepth.set({ controller: 'pod' }, d) } }),
      policies: new WorkQueue({ clock, hooks: { onDepthChange: (d) => metrics.queueDepth.set({ controller: 'policy' }, d) } }),
      admission: new WorkQueue({ clock, hooks: { onDepthChange: (d) => metrics.queueDepth.set({ controller: 'admission' }, d) } }),
    };
    this.queues = queues;
    logger.info('caches synced; reconciling', { pods: caches.pods.size, policies: caches.policies.size });
    for (const p of caches.policies.list()) {
      queues.policies.add(p.metadata.name);
      queues.admission.add(p.metadata.name);
    }
    this.enqueueAllPods();
    try {
      await Promise.all([
        this.workers('pod', queues.pods, this.opts.podWorkers, (k, s) => this.opts.podReconciler.reconcile(k, s), signal),
        this.workers('policy', queues.policies, this.opts.policyWorkers, (k, s) => this.opts.policyReconciler.reconcile(k, s), signal),
        ...(this.opts.admissionReconciler ? [this.workers('admission', queues.admission, 1, (k, s) => this.admission(k, s), signal)] : []),
      ]);
    } finally {
      if (this.queues === queues) this.queues = undefined;
    }
  }

  private admission(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    return this.opts.admissionReconciler?.reconcile(key, signal) ?? Promise.resolve();
  }

  private workers(controller: string, queue: WorkQueue, concurrency: number,
    reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>, signal: AbortSignal): Promise<void> {
    const { logger, metrics } = this.opts;
    const log = logger.child({ controller });
    return runWorkers(queue, {
      concurrency,
      reconcile,
      maxRetries: this.opts.maxRetries ?? 12,
      signal,
      clock: this.opts.clock,
      onError: (key, err, retries) => log.warn('reconcile failed', { key, retries, ...errorFields(err) }),
      onDrop: (key, err) => {
        metrics.queueDropped.inc({ controller });
        log.error('giving up on key after repeated failures', { key, ...errorFields(err) });
      },
      onResult: (_key, durationMs, outcome: ReconcileOutcome) => {
        metrics.reconcileDuration.observe({ controller, result: outcome }, durationMs / 1000);
        metrics.reconcileTotal.inc({ controller, result: outcome });
      },
    });
  }

  /**
   * Re-queues one pod and, after the status interval, every policy: for signals that are not cache events
   * (an audit record of runtime drift). A no-op while not leading.
   */
  enqueuePod(key: string): void {
    this.queues?.pods.add(key);
    this.touchAllPolicies();
  }

  private enqueueAllPods(): void {
    const queue = this.queues?.pods;
    if (!queue) return;
    for (const pod of this.opts.caches.pods.list()) queue.add(objectKey(pod.metadata));
  }

  private touchAllPolicies(): void {
    const queue = this.queues?.policies;
    if (!queue) return;
    for (const p of this.opts.caches.policies.list()) queue.addAfter(p.metadata.name, this.opts.statusIntervalMs);
  }
}
