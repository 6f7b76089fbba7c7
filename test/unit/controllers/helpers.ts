// Builders for controller unit tests: policies and pods as the slim caches hold them, and a Caches-shaped
// object over real Stores (no reflectors: tests fill the stores directly).
import type { Container, Pod } from '../../../src/api/kube.js';
import { API_VERSION, FINALIZER, KIND, type ImmutabilityPolicy, type ImmutabilityPolicySpec, type ObjectMeta } from '../../../src/api/types.js';
import { createStores, type Caches } from '../../../src/controllers/caches.js';

/** A policy as the cache holds it once the operator has reconciled it (our finalizer on); `meta` overrides. */
export function policy(name: string, spec: ImmutabilityPolicySpec, meta: Partial<ObjectMeta> = {}): ImmutabilityPolicy {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, generation: 1, uid: `uid-${name}`, finalizers: [FINALIZER], ...meta }, spec };
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

export function testCaches(init: { policies?: ImmutabilityPolicy[]; namespaces?: Record<string, Record<string, string> | undefined>; pods?: Pod[] } = {}): Caches {
  const stores = createStores();
  const { pods, namespaces, policies } = stores;
  for (const p of init.policies ?? []) policies.upsert(p);
  for (const [name, labels] of Object.entries(init.namespaces ?? {})) namespaces.upsert({ metadata: labels ? { name, labels } : { name } });
  for (const p of init.pods ?? []) pods.upsert(p);
  return {
    ...stores,
    start: () => undefined,
    hasSynced: () => true,
    waitForSync: () => Promise.resolve(),
  };
}
