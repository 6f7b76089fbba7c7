// Builders for controller unit tests: policies and pods as the slim caches hold them, and a Caches-shaped
// object over real Stores (no reflectors: tests fill the stores directly).
import type { Container, Pod } from '../../../src/api/kube.js';
import { API_VERSION, KIND, type ImmutabilityPolicy, type ImmutabilityPolicySpec, type ObjectMeta } from '../../../src/api/types.js';
import { POD_NAMESPACE_INDEX, type Caches } from '../../../src/controllers/caches.js';
import type { SlimNamespace, SlimOwned } from '../../../src/k8s/slim.js';
import { Store } from '../../../src/runtime/store.js';
import { objectKey } from '../../../src/runtime/list-watch.js';

export function policy(name: string, spec: ImmutabilityPolicySpec, meta: Partial<ObjectMeta> = {}): ImmutabilityPolicy {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, generation: 1, uid: `uid-${name}`, ...meta }, spec };
}

/** A container that breaks nothing under any rule. */
export function compliant(name: string): Container {
  return {
    name, image: 'nginx:1.27',
    securityContext: { readOnlyRootFilesystem: true, privileged: false, allowPrivilegeEscalation: false, runAsNonRoot: true },
  };
}

/** A container with the Kubernetes defaults: writable root filesystem, escalation allowed. */
export function writable(name: string, extra: Container['securityContext'] = {}): Container {
  return { name, image: 'nginx:1.27', securityContext: { ...extra } };
}

export function pod(namespace: string | undefined, name: string, containers: Container[], labels?: Record<string, string>): Pod {
  return {
    metadata: { name, ...(namespace === undefined ? {} : { namespace }), uid: `uid-${name}`, ...(labels ? { labels } : {}) },
    spec: { containers },
  };
}

const namespacedKey = (o: { metadata: { namespace?: string; name: string } }): string => objectKey(o.metadata);

export function testCaches(init: { policies?: ImmutabilityPolicy[]; namespaces?: Record<string, Record<string, string> | undefined>; pods?: Pod[] } = {}): Caches {
  const pods = new Store<Pod>(namespacedKey);
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? '']);
  const namespaces = new Store<SlimNamespace>((n) => n.metadata.name);
  const policies = new Store<ImmutabilityPolicy>((p) => p.metadata.name);
  const replicaSets = new Store<SlimOwned>(namespacedKey);
  const jobs = new Store<SlimOwned>(namespacedKey);
  for (const p of init.policies ?? []) policies.upsert(p);
  for (const [name, labels] of Object.entries(init.namespaces ?? {})) namespaces.upsert({ metadata: labels ? { name, labels } : { name } });
  for (const p of init.pods ?? []) pods.upsert(p);
  return {
    pods, namespaces, policies, replicaSets, jobs,
    ownerLookup: (kind, namespace, name) => (kind === 'ReplicaSet' ? replicaSets : jobs).get(`${namespace}/${name}`),
    start: () => undefined,
    hasSynced: () => true,
    waitForSync: () => Promise.resolve(),
  };
}
