// The operator's informer caches: one reflector per watched collection, each feeding a slim store.
// Every replica runs them (a standby is warm when it takes over); only the leader acts on them.
import type { Pod } from '../api/kube.js';
import type { ImmutabilityPolicy } from '../api/types.js';
import { Paths } from '../k8s/resources.js';
import { Interner } from '../k8s/intern.js';
import { slimNamespace, slimOwned, slimPod, type SlimNamespace, type SlimOwned } from '../k8s/slim.js';
import type { KubeMeta } from '../api/kube.js';
import { controllerOf, type OwnerLookup } from '../k8s/owners.js';
import type { Clock } from '../runtime/clock.js';
import type { ListWatchSource } from '../runtime/list-watch.js';
import type { Logger } from '../observability/logger.js';
import { Reflector, type RestartReason } from '../runtime/reflector.js';
import { Store } from '../runtime/store.js';
import { CACHED_WORKLOAD_KINDS, slimWorkload, type CachedWorkload, type CachedWorkloadKind } from '../remediation/workload-cache.js';
import { objectKey } from '../runtime/list-watch.js';

export type SourceFactory = (path: string) => ListWatchSource;

export interface Caches {
  pods: Store<Pod>;
  namespaces: Store<SlimNamespace>;
  policies: Store<ImmutabilityPolicy>;
  replicaSets: Store<SlimOwned>;
  jobs: Store<SlimOwned>;
  /** The workloads remediation patches, by kind (remediation/workload-cache.ts). */
  workloads: Readonly<Record<CachedWorkloadKind, Store<CachedWorkload>>>;
  ownerLookup: OwnerLookup;
  /** Pods whose top-level owner may be the workload `namespace/Kind/name` (callers confirm with topLevelOwner). */
  workloadPods(key: string): Pod[];
  start(signal: AbortSignal): void;
  hasSynced(): boolean;
  waitForSync(signal: AbortSignal): Promise<void>;
}

export const POD_NAMESPACE_INDEX = 'namespace';
/** `namespace/Kind/name` of an object's controller; a pod without one is indexed as its own workload. */
export const CONTROLLER_INDEX = 'controller';

function controllerKey(meta: KubeMeta, self?: string): string[] {
  const namespace = meta.namespace ?? '';
  const owner = controllerOf(meta);
  if (owner) return [`${namespace}/${owner.kind}/${owner.name}`];
  return self ? [`${namespace}/${self}/${meta.name}`] : [];
}

const namespacedKey = (o: { metadata: { namespace?: string; name: string } }): string => objectKey(o.metadata);
const clusterKey = (o: { metadata: { name: string } }): string => o.metadata.name;

function slimPolicy(raw: unknown): ImmutabilityPolicy | undefined {
  const p = raw as Partial<ImmutabilityPolicy> | undefined;
  if (!p || typeof p !== 'object' || !p.metadata || typeof p.metadata.name !== 'string') return undefined;
  const { managedFields: _managedFields, ...metadata } = p.metadata as ImmutabilityPolicy['metadata'] & { managedFields?: unknown };
  return { apiVersion: p.apiVersion ?? 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata, spec: p.spec ?? {}, status: p.status };
}

/** The slim stores, their indexes and the lookups over them; createCaches feeds them from the API server. */
export function createStores(): Omit<Caches, 'start' | 'hasSynced' | 'waitForSync'> {
  const pods = new Store<Pod>(namespacedKey);
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? '']);
  pods.addIndex(CONTROLLER_INDEX, (p) => controllerKey(p.metadata, 'Pod'));
  const replicaSets = new Store<SlimOwned>(namespacedKey);
  const jobs = new Store<SlimOwned>(namespacedKey);
  replicaSets.addIndex(CONTROLLER_INDEX, (o) => controllerKey(o.metadata));
  jobs.addIndex(CONTROLLER_INDEX, (o) => controllerKey(o.metadata));
  const workloadStore = (): Store<CachedWorkload> => new Store<CachedWorkload>(namespacedKey);
  const workloads = { Deployment: workloadStore(), StatefulSet: workloadStore(), DaemonSet: workloadStore(), CronJob: workloadStore() };
  return {
    pods, replicaSets, jobs, workloads,
    namespaces: new Store<SlimNamespace>(clusterKey),
    policies: new Store<ImmutabilityPolicy>(clusterKey),
    ownerLookup: (kind, namespace, name) => (kind === 'ReplicaSet' ? replicaSets : jobs).get(`${namespace}/${name}`),
    workloadPods: (key) => {
      // Pods the workload controls directly, plus those of the ReplicaSets (Jobs) its Deployment (CronJob) controls.
      const direct = pods.byIndex(CONTROLLER_INDEX, key);
      const [namespace, kind] = key.split('/');
      const via = kind === 'Deployment' ? { store: replicaSets, kind: 'ReplicaSet' } : kind === 'CronJob' ? { store: jobs, kind: 'Job' } : undefined;
      if (!via) return direct;
      const nested = via.store.byIndex(CONTROLLER_INDEX, key)
        .flatMap((o) => pods.byIndex(CONTROLLER_INDEX, `${namespace ?? ''}/${via.kind}/${o.metadata.name}`));
      return [...direct, ...nested];
    },
  };
}

export function createCaches(opts: {
  source: SourceFactory;
  clock: Clock;
  logger: Logger;
  onRestart?: (resource: string, reason: RestartReason) => void;
  /** Server-side watch timeout; a watch silent for twice as long is restarted. Default: the reflector's. */
  watchTimeoutSec?: number;
}): Caches {
  const stores = createStores();
  const { pods, namespaces, policies, replicaSets, jobs, workloads } = stores;

  const reflector = <T>(name: string, path: string, store: Store<T>, transform: (raw: unknown, cached: T | undefined) => T | undefined): Reflector<T> =>
    new Reflector<T>({
      name, source: opts.source(path), store, transform, clock: opts.clock, watchTimeoutSec: opts.watchTimeoutSec,
      logger: opts.logger.child({ reflector: name }),
      onRestart: (reason) => opts.onRestart?.(name, reason),
    });
  // One interner for every cache: a ReplicaSet and its pods repeat the same namespace and labels.
  const interner = new Interner();
  const reflectors = [
    reflector('pods', Paths.pods, pods, (raw, cached) => slimPod(raw, interner, cached)),
    reflector('namespaces', Paths.namespaces, namespaces, slimNamespace),
    reflector('immutabilitypolicies', Paths.policies, policies, slimPolicy),
    reflector('replicasets', Paths.replicaSets, replicaSets, (raw) => slimOwned(raw, interner)),
    reflector('jobs', Paths.jobs, jobs, (raw) => slimOwned(raw, interner)),
    ...Object.entries(CACHED_WORKLOAD_KINDS).map(([kind, { path }]) =>
      reflector(path.split('/').pop() ?? kind, path, workloads[kind as CachedWorkloadKind], (raw) => slimWorkload(raw, kind as CachedWorkloadKind, interner))),
  ];

  return {
    ...stores,
    start: (signal) => reflectors.forEach((r) => r.start(signal)),
    hasSynced: () => reflectors.every((r) => r.hasSynced()),
    waitForSync: async (signal) => {
      await Promise.all(reflectors.map((r) => r.waitForSync(signal)));
    },
  };
}
