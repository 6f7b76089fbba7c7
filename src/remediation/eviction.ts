// Which pods may be evicted, and why. Only two kinds ever are: drifted pods (their replacement comes fresh
// from the immutable template) and stale replicas (the template already complies but the controller will not
// replace the pod by itself, e.g. StatefulSet OnDelete). A violating pod whose template still violates is
// never a candidate — its replacement would violate too, and evicting it again would be a loop. Pure.
import type { Pod } from '../api/kube.js';
import { controllerOf } from '../k8s/owners.js';

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export type EvictionCause = 'drift' | 'stale';

export interface EvictionCandidate {
  pod: Pod;
  cause: EvictionCause;
  /** The drift or the findings the template no longer has. */
  detail: string[];
}

export interface PodFindings {
  pod: Pod;
  /** `container:rule` keys of spec violations. */
  findings: string[];
  driftFindings: string[];
}

/** Why `pod` must never be evicted, or undefined when it may be. */
export function evictionBlocker(pod: Pod, workloadKind: string, barePods: boolean): string | undefined {
  const controller = controllerOf(pod.metadata);
  if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined || controller?.kind === 'Node') {
    return 'static (mirror) pods cannot be evicted';
  }
  if (workloadKind === 'DaemonSet' || controller?.kind === 'DaemonSet') return 'DaemonSet pods are never evicted';
  if (!controller && !barePods) return 'bare pods are evicted only with evict.barePods: true';
  if (pod.metadata.deletionTimestamp) return 'already terminating';
  return undefined;
}

/**
 * Candidates among a workload's violating or drifted pods. `templateFindings` are the findings of the pod
 * template the pods would be recreated from, given only when stale replicas may be evicted at all (see
 * `recreatesFromOwnerTemplate`); otherwise only drifted pods are candidates.
 */
export function evictionCandidates(pods: readonly PodFindings[], templateFindings: ReadonlySet<string> | undefined): EvictionCandidate[] {
  const out: EvictionCandidate[] = [];
  for (const p of pods) {
    if (p.driftFindings.length > 0) {
      out.push({ pod: p.pod, cause: 'drift', detail: [...p.driftFindings] });
      continue;
    }
    if (!templateFindings || p.findings.length === 0) continue;
    const fixed = p.findings.filter((f) => !templateFindings.has(f));
    if (fixed.length > 0) out.push({ pod: p.pod, cause: 'stale', detail: fixed });
  }
  return out.sort((a, b) => a.pod.metadata.name.localeCompare(b.pod.metadata.name));
}

/**
 * Whether an evicted pod of this workload comes back from the workload's own template, and is not replaced
 * by the controller anyway. True for StatefulSets and DaemonSets with OnDelete and for a ReplicaSet without
 * a Deployment. False for Deployments and RollingUpdate (their old pods are a rollout in progress), and for
 * CronJobs (a Job recreates its pod from the Job's own, older template: evicting would loop).
 */
export function recreatesFromOwnerTemplate(kind: string, controllerReplaces: boolean): boolean {
  return (kind === 'StatefulSet' || kind === 'DaemonSet' || kind === 'ReplicaSet') && !controllerReplaces;
}
