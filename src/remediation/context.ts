// What the steps of one remediation pass share: the API port they write through, and the pass itself — one
// policy, what is remembered about it, and a single clock reading, so every step judges the same moment.
import type { Pod } from '../api/kube.js';
import type { ActionCounts } from '../api/types.js';
import type { ActivePolicy } from '../controllers/policy-set.js';
import type { NamespacedRef, RemediatedWorkload } from '../k8s/api.js';
import type { WorkloadRef } from '../k8s/owners.js';
import type { Finding, ResolvedPolicy } from '../policy/index.js';
import type { DegradedState, WorkloadOutcome } from '../policy/status.js';
import type { PolicyState } from './policy-state.js';

/** A violating or drifted workload as one policy sees it. */
export interface WorkloadFindings {
  ref: WorkloadRef;
  pods: { pod: Pod; findings: Finding[]; driftFindings: string[] }[];
}

/** What remediation did or would do for one policy's workloads; the policy reconciler only reports it. */
export interface RemediationReport {
  outcomes: Map<string, WorkloadOutcome>;
  actions: Omit<ActionCounts, 'labeled'>;
  degraded?: DegradedState;
}

/** The API calls remediation makes; `KubeApi` implements it, unit tests fake it. */
export interface RemediationApi {
  /** Every workload carrying the immutability.dev/remediated label, across the kinds remediation writes to. */
  listRemediatedWorkloads(signal?: AbortSignal): Promise<RemediatedWorkload[]>;
  getWorkload(ref: NamespacedRef, signal?: AbortSignal): Promise<Record<string, unknown>>;
  applyWorkload(ref: NamespacedRef, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>>;
  listPods(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  evictPod(namespace: string, name: string, uid: string | undefined, signal?: AbortSignal): Promise<void>;
}

export interface RemediationContext {
  active: ActivePolicy;
  policy: ResolvedPolicy;
  state: PolicyState;
  /** Enforce acts; Audit works out the same actions and only reports them. */
  enforce: boolean;
  now: Date;
  signal?: AbortSignal;
}

/** Which policy, incarnation and generation an action record of this pass counts for. */
export function recordingPolicy(ctx: RemediationContext): { name: string; uid: string; generation: number } {
  return { name: ctx.policy.name, uid: ctx.active.object.metadata.uid ?? '', generation: ctx.state.generation };
}

/** Kinds whose pod template remediation patches (and on which it records its actions): `patch` in its RBAC. */
export const PATCHABLE_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob'];
