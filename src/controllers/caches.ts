// The operator's informer caches: one reflector per watched collection, each feeding a slim store.
// Every replica runs them (a standby is warm when it takes over); only the leader acts on them.
import type { Pod } from '../api/kube.js';
import type { ImmutabilityPolicy } from '../api/types.js';
import { Paths } from '../k8s/resources.js';
import { slimNamespace, slimOwned, slimPod, type SlimNamespace, type SlimOwned } from '../k8s/slim.js';
import type { OwnerLookup } from '../k8s/owners.js';
import type { Clock } from '../runtime/clock.js';
import type { ListWatchSource } from '../runtime/list-watch.js';
import type { Logger } from '../observability/logger.js';
import { Reflector, type RestartReason } from '../runtime/reflector.js';
import { Store } from '../runtime/store.js';
import { objectKey } from '../runtime/list-watch.js';

export type SourceFactory = (path: string) => ListWatchSource;

export interface Caches {
  pods: Store<Pod>;
  namespaces: Store<SlimNamespace>;
  policies: Store<ImmutabilityPolicy>;
  replicaSets: Store<SlimOwned>;
  jobs: Store<SlimOwned>;
  ownerLookup: OwnerLookup;
  start(signal: AbortSignal): void;
  hasSynced(): boolean;
  waitForSync(signal: AbortSignal): Promise<void>;
}

export const POD_NAMESPACE_INDEX = 'namespace';

const namespacedKey = (o: { metadata: { namespace?: string; name: string } }): string => objectKey(o.metadata);
const clusterKey = (o: { metadata: { name: string } }): string => o.metadata.name;

function slimPolicy(raw: unknown): ImmutabilityPolicy | undefined {
  const p = raw as Partial<ImmutabilityPolicy> | undefined;
  if (!p || typeof p !== 'object' || !p.metadata || typeof p.metadata.name !== 'string') return undefined;
  const { managedFields: _managedFields, ...metadata } = p.metadata as ImmutabilityPolicy['metadata'] & { managedFields?: unknown };
  return { apiVersion: p.apiVersion ?? 'immutability.dev/v1alpha1', kind: 'ImmutabilityPolicy', metadata, spec: p.spec ?? {}, status: p.status };
}

export function createCaches(opts: {
  source: SourceFactory;
  clock: Clock;
  logger: Logger;
  onRestart?: (resource: string, reason: RestartReason) => void;
  /** Server-side watch timeout; a watch silent for twice as long is restarted. Default: the reflector's. */
  watchTimeoutSec?: number;
}): Caches {
  const pods = new Store<Pod>(namespacedKey);
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? '']);
  const namespaces = new Store<SlimNamespace>(clusterKey);
  const policies = new Store<ImmutabilityPolicy>(clusterKey);
  const replicaSets = new Store<SlimOwned>(namespacedKey);
  const jobs = new Store<SlimOwned>(namespacedKey);

  const reflector = <T>(name: string, path: string, store: Store<T>, transform: (raw: unknown) => T | undefined): Reflector<T> =>
    new Reflector<T>({
      name, source: opts.source(path), store, transform, clock: opts.clock, watchTimeoutSec: opts.watchTimeoutSec,
      logger: opts.logger.child({ reflector: name }),
      onRestart: (reason) => opts.onRestart?.(name, reason),
    });
  const reflectors = [
    reflector('pods', Paths.pods, pods, slimPod),
    reflector('namespaces', Paths.namespaces, namespaces, slimNamespace),
    reflector('immutabilitypolicies', Paths.policies, policies, slimPolicy),
    reflector('replicasets', Paths.replicaSets, replicaSets, slimOwned),
    reflector('jobs', Paths.jobs, jobs, slimOwned),
  ];

  return {
    pods, namespaces, policies, replicaSets, jobs,
    ownerLookup: (kind, namespace, name) => (kind === 'ReplicaSet' ? replicaSets : jobs).get(`${namespace}/${name}`),
    start: (signal) => reflectors.forEach((r) => r.start(signal)),
    hasSynced: () => reflectors.every((r) => r.hasSynced()),
    waitForSync: async (signal) => {
      await Promise.all(reflectors.map((r) => r.waitForSync(signal)));
    },
  };
}
