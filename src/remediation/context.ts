// What the steps of one remediation pass share: the API port they write through, and the pass itself — one
// policy, what is remembered about it, and a single clock reading, so every step judges the same moment.
import type { Pod } from '../api/kube.js';
import type { ActionCounts } from '../api/types.js';
import type { ActivePolicy } from '../controllers/policy-set.js';
import type { NamespacedRef, RemediatedWorkload } from '../k8s/api.js';
import { isConflict, isGoneOrReplaced, isNotFound } from '../k8s/errors.js';
import { isRecord } from '../runtime/json.js';
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
  /** Reads a workload from the API server (fresh). */
  getWorkload(ref: NamespacedRef, signal?: AbortSignal): Promise<Record<string, unknown>>;
  /**
   * The workload as the watch cache holds it (slim: remediation/workload-cache.ts), or undefined when it is not
   * cached — then getWorkload reads it. Without a cache every read is a GET.
   */
  cachedWorkload?(ref: NamespacedRef): Record<string, unknown> | undefined;
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

/**
 * Runs a remediation pass on a workload: first on the copy `first` (the cache's; none: read it fresh), and
 * when a write of the pass is refused as stale (isStaleWrite: its preconditions, applyBody, say the workload
 * changed, was deleted or was replaced since that copy) once more on a fresh read. Resolves with `gone()` when
 * the workload does not exist, or when it was replaced by a namesake between the fresh read and the write:
 * the new workload's own watch event brings its key back, to be judged on its own.
 *
 * The fresh copy is handed on without its resourceVersion, so its writes are conditional on the uid alone
 * (never re-create a deleted workload), as they were before the cache: the workload's controller writes its
 * status all through a rollout, and such a write between the GET and ours must not fail the pass.
 */
export async function withLatestWorkload<T>(
  api: RemediationApi, ref: NamespacedRef, first: Record<string, unknown> | undefined, signal: AbortSignal | undefined,
  pass: (live: Record<string, unknown>) => Promise<T>, gone: () => T,
): Promise<T> {
  if (first) {
    try {
      return await pass(first);
    } catch (err) {
      if (!isStaleWrite(err)) throw err;
    }
  }
  let live: Record<string, unknown>;
  try {
    live = await api.getWorkload(ref, signal);
  } catch (err) {
    if (isNotFound(err)) return gone();
    throw err;
  }
  const { resourceVersion: _unconditional, ...metadata } = isRecord(live['metadata']) ? live['metadata'] : {};
  try {
    return await pass({ ...live, metadata });
  } catch (err) {
    if (isGoneOrReplaced(err)) return gone();
    throw err;
  }
}

/**
 * Whether a workload write was refused because the copy it was computed from is out of date: 409 Conflict (the
 * resourceVersion precondition failed, or the uid names a workload deleted since, which the apply would have
 * created) or 422 on metadata.uid (a namesake replaced it: the uid precondition without a resourceVersion).
 * Not a failure of the action: the pass is decided again on what the workload is now (withLatestWorkload).
 */
export function isStaleWrite(err: unknown): boolean {
  return isConflict(err) || isGoneOrReplaced(err);
}

/** Kinds whose pod template remediation patches (and on which it records its actions): `patch` in its RBAC. */
export const PATCHABLE_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'CronJob'];
