// Wires caches to work queues and reconcilers. Three controllers, each keyed by what it acts on:
//   pod       `namespace/name`       labels and drift metadata
//   workload  `namespace/Kind/name`  plan, owner patch, rollout guard, evictions
//   policy    `name`                 status summary from the caches and the workload results
// Watch events become keys through one declarative table (WATCHES: source → key mappers); all effects happen
// in reconcilers run by the workers, and only while this replica leads (each leadership term gets fresh
// queues, so losing the lease stops every action at once). The runner owns retries, backoff, drops and their
// metrics; reconcilers return `{ requeueAfterMs }` or throw. A periodic resync re-adds every key.
import type { Pod } from '../api/kube.js';
import { ANNOTATION_VIOLATIONS, FINALIZER, LABEL_VIOLATION, type ImmutabilityPolicy } from '../api/types.js';
import type { SlimNamespace, SlimOwned } from '../k8s/slim.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ExponentialBackoff } from '../runtime/backoff.js';
import type { Clock, Timer } from '../runtime/clock.js';
import { objectKey } from '../runtime/list-watch.js';
import { errorFields } from '../runtime/logger.js';
import type { Store, StoreEvent } from '../runtime/store.js';
import { runWorkers, type ReconcileOutcome, type ReconcileResult } from '../runtime/workers.js';
import { WorkQueue, type RateLimitOptions } from '../runtime/workqueue.js';
import { CONTROLLER_INDEX, POD_NAMESPACE_INDEX, type Caches } from './caches.js';
import { podChangedOnlyIn } from './pod-changes.js';
import type { PodReconciler } from './pod-reconciler.js';
import type { PolicyReconciler } from './policy-reconciler.js';
import type { AdmissionReconciler } from './admission-reconciler.js';
import { workloadKeyOfPod, type WorkloadReconciler } from './workload-reconciler.js';

export type ControllerName = 'pod' | 'workload' | 'policy' | 'admission';

/** The keys one event calls for. `all*` re-adds every key of that controller; policy statuses are batched. */
export interface EventKeys {
  pods?: string[];
  workloads?: string[];
  allPods?: boolean;
  allWorkloads?: boolean;
  /** Policies to reconcile now (their spec or finalizers changed); their admission objects too. */
  policies?: string[];
  /** Every policy's status is due (after the status interval, so that bursts coalesce). */
  statuses?: boolean;
}

/**
 * Whether a pod update is exactly our own metadata write to it arriving (PodReconciler.ownWriteArrived), which
 * then counts as seen: the pod needs no reconcile for it.
 */
export type OwnPodWriteCheck = (key: string, old: Pod, obj: Pod) => boolean;

interface Watch<T> {
  source: (caches: Caches) => Store<T>;
  keys: (ev: StoreEvent<T>, caches: Caches, ownPodWrite?: OwnPodWriteCheck) => EventKeys | undefined;
}

const watch = <T>(w: Watch<T>): Watch<unknown> => w as unknown as Watch<unknown>;

/** Our own status writes bump resourceVersion but not generation: they must not retrigger work. */
export function policyChangeNeedsWork(ev: StoreEvent<ImmutabilityPolicy>): boolean {
  if (ev.type !== 'updated' || !ev.old) return true;
  const a = ev.old.metadata;
  const b = ev.obj.metadata;
  return a.generation !== b.generation || a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? []);
}

/**
 * Workload keys of `pods` (a pod whose owner chain changed may move from one workload to another). An array,
 * not rest parameters: spreading every cached pod into one call overflows the stack near 100k pods.
 */
function workloadsOf(caches: Caches, pods: readonly (Pod | undefined)[]): string[] {
  const keys = new Set<string>();
  for (const pod of pods) if (pod !== undefined) keys.add(workloadKeyOfPod(pod, caches));
  return [...keys];
}

/** Pods an intermediate owner (ReplicaSet, Job) controls: adopting it regroups them under another workload. */
function podsControlledBy(caches: Caches, kind: string, o: SlimOwned): Pod[] {
  return caches.pods.byIndex(CONTROLLER_INDEX, `${o.metadata.namespace ?? ''}/${kind}/${o.metadata.name}`);
}

function ownedChange(kind: 'ReplicaSet' | 'Job'): Watch<unknown> {
  return watch<SlimOwned>({
    source: (c) => (kind === 'ReplicaSet' ? c.replicaSets : c.jobs),
    keys: (ev, caches) => ({ workloads: workloadsOf(caches, podsControlledBy(caches, kind, ev.obj)), statuses: true }),
  });
}

/**
 * Whether a pod update changed nothing but the violation label and annotation. The pod controller writes them
 * from the verdicts, so they are an output of what the workload controller reads (spec, owners, labels for
 * podSelectors, drift label and annotation), not an input — unless a policy selects pods by that label.
 * Every label the pod controller writes comes back as such an update.
 */
export function onlyVerdictMetadataChanged(old: Pod, obj: Pod): boolean {
  return podChangedOnlyIn(old, obj, VERDICT_LABELS, VERDICT_ANNOTATIONS);
}

const VERDICT_LABELS = [LABEL_VIOLATION] as const;
const VERDICT_ANNOTATIONS = [ANNOTATION_VIOLATIONS] as const;

/** Whether some policy's podSelector reads the label `key` (then a change of it may change what it matches). */
export function podSelectorsRead(policies: readonly ImmutabilityPolicy[], key: string): boolean {
  return policies.some(({ spec }) => {
    const selector = spec?.match?.podSelector;
    return selector !== undefined && (Object.prototype.hasOwnProperty.call(selector.matchLabels ?? {}, key) ||
      (selector.matchExpressions ?? []).some((e) => e.key === key));
  });
}

/** Workload keys a pod event concerns: none for our own violation label coming back (see onlyVerdictMetadataChanged). */
function podEventWorkloads(ev: StoreEvent<Pod>, caches: Caches): string[] {
  if (ev.type === 'updated' && ev.old !== undefined && onlyVerdictMetadataChanged(ev.old, ev.obj) &&
    !podSelectorsRead(caches.policies.list(), LABEL_VIOLATION)) return [];
  return workloadsOf(caches, [ev.obj, ev.old]);
}

/** Source → keys: the only place that knows which events concern which controller. */
export const WATCHES: readonly Watch<unknown>[] = [
  watch<Pod>({
    source: (c) => c.pods,
    // Our own label write coming back still changes the status (its count of labelled pods), not the labels.
    keys: (ev, caches, ownPodWrite) => ({
      pods: ev.type === 'updated' && ev.old !== undefined && ownPodWrite?.(ev.key, ev.old, ev.obj) === true ? [] : [ev.key],
      workloads: podEventWorkloads(ev, caches),
      statuses: true,
    }),
  }),
  watch<ImmutabilityPolicy>({
    source: (c) => c.policies,
    keys: (ev) => {
      if (!policyChangeNeedsWork(ev)) return undefined;
      const specChanged = ev.type !== 'updated' || ev.old?.metadata.generation !== ev.obj.metadata.generation;
      // Pods are labelled only for a policy that carries our finalizer (pod-reconciler.ts): its arrival is due work.
      const ours = (p?: ImmutabilityPolicy): boolean => (p?.metadata.finalizers ?? []).includes(FINALIZER);
      const finalizerArrived = ev.type === 'updated' && ours(ev.obj) && !ours(ev.old);
      return { policies: [ev.key], allPods: specChanged || finalizerArrived, allWorkloads: specChanged };
    },
  }),
  watch<SlimNamespace>({
    source: (c) => c.namespaces,
    keys: (ev, caches) => {
      if (ev.type === 'updated' && JSON.stringify(ev.old?.metadata.labels ?? {}) === JSON.stringify(ev.obj.metadata.labels ?? {})) return undefined;
      const pods = caches.pods.byIndex(POD_NAMESPACE_INDEX, ev.obj.metadata.name);
      return { pods: pods.map((p) => objectKey(p.metadata)), workloads: workloadsOf(caches, pods), statuses: true };
    },
  }),
  ownedChange('ReplicaSet'),
  ownedChange('Job'),
];

export interface ManagerOptions {
  caches: Caches;
  podReconciler: Pick<PodReconciler, 'reconcile' | 'ownWriteArrived'>;
  workloadReconciler: Pick<WorkloadReconciler, 'reconcile'>;
  policyReconciler: Pick<PolicyReconciler, 'reconcile'>;
  /** Keyed by policy: the generated admission objects and AdmissionReady. */
  admissionReconciler?: Pick<AdmissionReconciler, 'reconcile'>;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  podWorkers: number;
  workloadWorkers: number;
  policyWorkers: number;
  /** Pod churn reaches a policy's status no more often than this. */
  statusIntervalMs: number;
  /** Every key is re-added this often, so that nothing depends on an event arriving. */
  resyncPeriodMs: number;
  maxRetries?: number;
  /**
   * Reads what the cluster records before remediation acts (its action records), retried with backoff until it
   * succeeds: the workload and policy controllers start only then.
   */
  prepareLeading?: (signal: AbortSignal) => Promise<void>;
}

/** Retry pacing of prepareLeading. */
const PREPARE_BACKOFF = { initialMs: 500, maxMs: 30_000 };

type Queues = Record<ControllerName, WorkQueue>;

/**
 * Retry pacing per controller: label writes retry fast (client-go's defaults); workload writes (patches,
 * rollbacks) are heavier and usually refused for a reason that takes a while to change, so they start at 1 s.
 */
const RATE_LIMITS: Record<ControllerName, RateLimitOptions> = {
  pod: {},
  workload: { baseDelayMs: 1_000, maxDelayMs: 5 * 60_000 },
  policy: {},
  admission: {},
};

export class ControllerManager {
  private queues?: Queues;
  private reconciled = 0;

  constructor(private readonly opts: ManagerOptions) {
    const ownPodWrite: OwnPodWriteCheck = (key, old, obj) => opts.podReconciler.ownWriteArrived(key, old, obj);
    for (const w of WATCHES) {
      w.source(opts.caches).onChange((ev) => {
        const keys = w.keys(ev, opts.caches, ownPodWrite);
        if (keys) this.route(keys);
      });
    }
  }

  /** Runs the reconcilers until `signal` aborts (leadership lost or shutdown); resolves when drained. */
  async runLeading(signal: AbortSignal): Promise<void> {
    const { caches, logger, metrics, clock } = this.opts;
    await caches.waitForSync(signal);
    if (signal.aborted) return;
    const queue = (controller: ControllerName): WorkQueue => new WorkQueue({
      clock, rateLimit: RATE_LIMITS[controller],
      hooks: { onDepthChange: (d) => metrics.queueDepth.set({ controller }, d) },
    });
    const queues: Queues = { pod: queue('pod'), workload: queue('workload'), policy: queue('policy'), admission: queue('admission') };
    this.queues = queues;
    logger.info('caches synced; reconciling', { pods: caches.pods.size, policies: caches.policies.size });
    this.resync();
    let resync: Timer | undefined;
    const scheduleResync = (): void => {
      resync = clock.setTimeout(() => {
        this.resync();
        scheduleResync();
      }, this.opts.resyncPeriodMs);
    };
    scheduleResync();
    // Remediation's action counts are read back from the cluster first: its two controllers wait for them
    // (their keys wait in their queues); labels and admission objects do not depend on them and start at once.
    const remediation = async (): Promise<void> => {
      if (!(await this.prepare(signal))) return;
      await Promise.all([
        this.workers('workload', this.opts.workloadWorkers, (k, s) => this.opts.workloadReconciler.reconcile(k, s), signal),
        this.workers('policy', this.opts.policyWorkers, (k, s) => this.opts.policyReconciler.reconcile(k, s), signal),
      ]);
    };
    try {
      await Promise.all([
        this.workers('pod', this.opts.podWorkers, (k, s) => this.opts.podReconciler.reconcile(k, s), signal),
        remediation(),
        ...(this.opts.admissionReconciler ? [this.workers('admission', 1, (k, s) => this.admission(k, s), signal)] : []),
      ]);
    } finally {
      if (resync !== undefined) clock.clearTimeout(resync);
      if (this.queues === queues) this.queues = undefined;
    }
  }

  /** Runs prepareLeading until it succeeds (true) or leadership ends (false); each failure is logged once. */
  private async prepare(signal: AbortSignal): Promise<boolean> {
    const prepare = this.opts.prepareLeading;
    if (!prepare) return true;
    const backoff = new ExponentialBackoff({ ...PREPARE_BACKOFF, jitter: 0.2 });
    for (;;) {
      try {
        await prepare(signal);
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        const retryInMs = backoff.next();
        this.opts.logger.warn('could not read what the cluster records before acting; retrying', { retryInMs, ...errorFields(err) });
        await this.opts.clock.sleep(retryInMs, signal);
        if (signal.aborted) return false;
      }
    }
  }

  /**
   * Re-queues one pod, its workload and, after the status interval, every policy: for signals that are not
   * cache events (an audit record of runtime drift). A no-op while not leading.
   */
  enqueuePod(key: string): void {
    const pod = this.opts.caches.pods.get(key);
    this.route({ pods: [key], workloads: pod ? workloadsOf(this.opts.caches, [pod]) : [], statuses: true });
  }

  /** Puts pods on the pod queue (a deleting policy's finalizer waits for them). */
  enqueuePods(keys: readonly string[]): void {
    this.route({ pods: [...keys] });
  }

  /** A workload's remediation result for `policy` changed: its status is due. */
  policyStatusDue(policy: string): void {
    this.queues?.policy.addAfter(policy, this.opts.statusIntervalMs);
  }

  /**
   * Keys ready or being processed in every queue (not those waiting on a delay), and reconciles finished so
   * far: whether the work has drained (observability/heap-reclaim.ts gives memory back then).
   */
  activity(): { pending: number; reconciled: number } {
    let pending = 0;
    for (const queue of Object.values(this.queues ?? {})) pending += queue.len() + queue.processingCount();
    return { pending, reconciled: this.reconciled };
  }

  private route(keys: EventKeys): void {
    const queues = this.queues;
    if (!queues) return;
    const { caches } = this.opts;
    const pods = keys.allPods ? caches.pods.list().map((p) => objectKey(p.metadata)) : keys.pods ?? [];
    for (const key of pods) queues.pod.add(key);
    const workloads = keys.allWorkloads ? workloadsOf(caches, caches.pods.list()) : keys.workloads ?? [];
    for (const key of workloads) queues.workload.add(key);
    for (const key of keys.policies ?? []) {
      queues.policy.add(key);
      queues.admission.add(key);
    }
    if (keys.statuses) for (const p of caches.policies.list()) queues.policy.addAfter(p.metadata.name, this.opts.statusIntervalMs);
  }

  private admission(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    return this.opts.admissionReconciler?.reconcile(key, signal) ?? Promise.resolve();
  }

  /** Everything, again: a missed event or a time-driven change never waits for the next unrelated event. */
  private resync(): void {
    this.route({ allPods: true, allWorkloads: true, policies: this.opts.caches.policies.list().map((p) => p.metadata.name) });
  }

  private workers(controller: ControllerName, concurrency: number,
    reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>, signal: AbortSignal): Promise<void> {
    const { logger, metrics } = this.opts;
    const queue = this.queues?.[controller];
    if (!queue) return Promise.resolve();
    const log = logger.child({ controller });
    return runWorkers(queue, {
      concurrency,
      reconcile,
      maxRetries: this.opts.maxRetries ?? 12,
      signal,
      clock: this.opts.clock,
      // The one log line of a failed write: the key, the retry count and the API server's reason.
      onError: (key, err, retries) => log.warn('reconcile failed', { key, retries, ...errorFields(err) }),
      onDrop: (key, err) => {
        metrics.queueDropped.inc({ controller });
        log.error('giving up on key after repeated failures', { key, ...errorFields(err) });
      },
      onResult: (_key, durationMs, outcome: ReconcileOutcome) => {
        this.reconciled++;
        metrics.reconcileDuration.observe({ controller, result: outcome }, durationMs / 1000);
        metrics.reconcileTotal.inc({ controller, result: outcome });
      },
    });
  }
}
