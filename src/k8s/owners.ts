// Top-level owner resolution: the unit in which findings are reported and which patchOwner patches.
// Pod → ReplicaSet → Deployment, Pod → StatefulSet / DaemonSet, Pod → Job → CronJob; a pod without a
// controller is its own workload. An owner kind we do not know (an Argo Rollout, say) is reported as it is,
// never guessed through.
import type { KubeMeta, OwnerReference } from '../api/kube.js';

export interface WorkloadRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** False when the chain could not be followed to the top (an intermediate object is not cached yet). */
  resolved: boolean;
}

/** Reads intermediate owners (ReplicaSets, Jobs) from a cache. */
export type OwnerLookup = (kind: 'ReplicaSet' | 'Job', namespace: string, name: string) => { metadata: KubeMeta } | undefined;

export function controllerOf(meta: KubeMeta): OwnerReference | undefined {
  return meta.ownerReferences?.find((o) => o.controller === true);
}

function ref(o: OwnerReference, namespace: string, resolved = true): WorkloadRef {
  return { apiVersion: o.apiVersion, kind: o.kind, namespace, name: o.name, resolved };
}

export function topLevelOwner(pod: { metadata: KubeMeta }, lookup: OwnerLookup): WorkloadRef {
  const namespace = pod.metadata.namespace ?? 'default';
  const owner = controllerOf(pod.metadata);
  if (!owner) return { apiVersion: 'v1', kind: 'Pod', namespace, name: pod.metadata.name, resolved: true };
  const intermediate = owner.kind === 'ReplicaSet' && owner.apiVersion === 'apps/v1' ? 'ReplicaSet'
    : owner.kind === 'Job' && owner.apiVersion === 'batch/v1' ? 'Job' : undefined;
  if (!intermediate) return ref(owner, namespace);
  const parent = lookup(intermediate, namespace, owner.name);
  if (!parent) return ref(owner, namespace, false);
  const grandOwner = controllerOf(parent.metadata);
  const expected = intermediate === 'ReplicaSet' ? 'Deployment' : 'CronJob';
  // A ReplicaSet or Job without (a known) controller is itself the top-level workload.
  if (!grandOwner || grandOwner.kind !== expected) return ref(owner, namespace);
  return ref(grandOwner, namespace);
}

/**
 * The uid of a pod's top-level owner as topLevelOwner() resolves it (read from the child's controller
 * reference), or undefined when the chain is not resolved. Kept out of WorkloadRef, which status carries.
 */
export function topLevelOwnerUid(pod: { metadata: KubeMeta }, lookup: OwnerLookup): string | undefined {
  const top = topLevelOwner(pod, lookup);
  if (!top.resolved) return undefined;
  if (top.kind === 'Pod' && controllerOf(pod.metadata) === undefined) return pod.metadata.uid;
  const owner = controllerOf(pod.metadata);
  if (owner?.kind === top.kind && owner.name === top.name) return owner.uid;
  const intermediate = owner?.kind === 'ReplicaSet' ? 'ReplicaSet' : owner?.kind === 'Job' ? 'Job' : undefined;
  const parent = intermediate && owner ? lookup(intermediate, top.namespace, owner.name) : undefined;
  const grandOwner = parent ? controllerOf(parent.metadata) : undefined;
  return grandOwner?.kind === top.kind && grandOwner.name === top.name ? grandOwner.uid : undefined;
}
