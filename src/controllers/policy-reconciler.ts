// Policy reconciler: evaluates every cached pod under one policy, lets remediation act on the violating
// workloads, and writes the summary to /status — only when it changed, and at most about once per second.
// Deletion is handled with a finalizer: our labels come off the pods before the policy goes away.
import type { Pod } from '../api/kube.js';
import {
  ANNOTATION_VIOLATIONS, FINALIZER, LABEL_DRIFT, LABEL_VIOLATION, Reasons,
  type ActionCounts, type ImmutabilityPolicyStatus, type WorkloadAction,
} from '../api/types.js';
import type { KubeApi } from '../k8s/api.js';
import { isConflict, isNotFound, isUnprocessable } from '../k8s/errors.js';
import { topLevelOwner, type WorkloadRef } from '../k8s/owners.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Finding } from '../policy/index.js';
import { buildStatus, invalidSpecStatus, statusChanged, workloadOutcomeKey, type DegradedState, type PodAssessment, type WorkloadOutcome } from '../policy/status.js';
import type { ReconcileResult } from '../runtime/workers.js';
import { assessPod, findingKeys } from './assess.js';
import type { Caches } from './caches.js';
import type { DriftSource } from './drift-source.js';
import type { ActivePolicy, PolicySet } from './policy-set.js';
import type { PodReconciler } from './pod-reconciler.js';
import { objectKey } from '../runtime/list-watch.js';

/** A violating or drifted workload as remediation sees it. */
export interface WorkloadFindings {
  ref: WorkloadRef;
  pods: { pod: Pod; findings: Finding[]; driftFindings: string[] }[];
}

/** What remediation did or would do for one policy; the policy reconciler only reports it. */
export interface RemediationReport {
  outcomes: Map<string, WorkloadOutcome>;
  actions: Omit<ActionCounts, 'labeled'>;
  degraded?: DegradedState;
  /** Come back this soon even if nothing changes (a rollout to watch, an eviction to retry). */
  requeueAfterMs?: number;
}

export interface Remediator {
  remediate(policy: ActivePolicy, workloads: WorkloadFindings[], signal?: AbortSignal): Promise<RemediationReport>;
  forget(policyName: string): void;
}

export interface PolicyReconcilerDeps {
  caches: Caches;
  policies: PolicySet;
  api: KubeApi;
  podReconciler: PodReconciler;
  remediator: Remediator;
  drift: DriftSource;
  events: EventRecorder;
  metrics: Metrics;
  logger: Logger;
  now: () => Date;
  /** Minimum spacing of status writes per policy. */
  statusIntervalMs: number;
}

export class PolicyReconciler {
  private readonly lastWrite = new Map<string, { at: number; status: ImmutabilityPolicyStatus }>();

  constructor(private readonly deps: PolicyReconcilerDeps) {}

  async reconcile(name: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const active = this.deps.policies.get(name);
    if (!active) {
      this.forget(name);
      return;
    }
    if (active.deleting) return this.finalize(active, signal);
    await this.ensureFinalizer(active, signal);

    const generation = active.object.metadata.generation ?? 0;
    const now = this.deps.now();
    if (active.problems.length > 0) {
      // Retrying cannot fix a spec; the condition tells the user, and the next spec edit brings us back.
      const status = invalidSpecStatus(this.previousStatus(active), generation, active.problems, now.toISOString());
      if (await this.writeStatus(active, status, signal)) {
        this.deps.events.record(policyReference(active), 'Warning', Reasons.InvalidSpec, 'Validate',
          `spec cannot be used: ${active.problems.join('; ')}`);
      }
      return;
    }

    const wait = this.throttle(name, now.getTime());
    if (wait > 0) return { requeueAfterMs: wait };

    const { assessments, workloads, labeled } = this.evaluate(active, now);
    const report = await this.deps.remediator.remediate(active, workloads, signal);
    const status = buildStatus({
      generation,
      previous: this.previousStatus(active),
      assessments,
      defaultAction: defaultAction(active),
      outcomes: report.outcomes,
      actions: { labeled, ...report.actions },
      degraded: report.degraded,
      now: now.toISOString(),
    });
    this.deps.metrics.violations.set({ policy: name }, status.violatingPods ?? 0);
    this.deps.metrics.driftedPods.set({ policy: name }, status.driftedPods ?? 0);
    await this.writeStatus(active, status, signal);
    return report.requeueAfterMs ? { requeueAfterMs: report.requeueAfterMs } : undefined;
  }

  private evaluate(active: ActivePolicy, now: Date): { assessments: PodAssessment[]; workloads: WorkloadFindings[]; labeled: number } {
    const assessments: PodAssessment[] = [];
    const workloads = new Map<string, WorkloadFindings>();
    const labels = active.resolved.mode === 'Enforce' && active.resolved.remediation.label !== undefined;
    let labeled = 0;
    for (const pod of this.deps.caches.pods.list()) {
      if (pod.metadata.deletionTimestamp) continue;
      const namespace = pod.metadata.namespace ?? 'default';
      const verdict = assessPod(pod, active, this.deps.caches.namespaces.get(namespace)?.metadata.labels, now);
      if (!verdict.matched) continue;
      const ref = topLevelOwner(pod, this.deps.caches.ownerLookup);
      const driftFindings = this.deps.drift.driftFindings(pod, active);
      const assessment: PodAssessment = {
        namespace, name: pod.metadata.name, workload: ref, findings: findingKeys(verdict.findings), driftFindings,
      };
      if (verdict.error) assessment.error = verdict.error;
      assessments.push(assessment);
      if (verdict.findings.length === 0 && driftFindings.length === 0) continue;
      if (labels && (pod.metadata.labels?.[LABEL_VIOLATION] === 'true' || pod.metadata.labels?.[LABEL_DRIFT])) labeled++;
      const key = workloadOutcomeKey(ref);
      const entry = workloads.get(key) ?? { ref, pods: [] };
      entry.pods.push({ pod, findings: verdict.findings, driftFindings });
      workloads.set(key, entry);
    }
    return { assessments, workloads: [...workloads.values()], labeled };
  }

  /** Status as we last wrote it (the watch may not have delivered our own write yet) or as cached. */
  private previousStatus(active: ActivePolicy): ImmutabilityPolicyStatus | undefined {
    const written = this.lastWrite.get(active.object.metadata.name);
    return written?.status ?? active.object.status;
  }

  private throttle(name: string, nowMs: number): number {
    const last = this.lastWrite.get(name);
    return last ? Math.max(0, last.at + this.deps.statusIntervalMs - nowMs) : 0;
  }

  /** Writes status if it changed; true when it did. */
  private async writeStatus(active: ActivePolicy, status: ImmutabilityPolicyStatus, signal?: AbortSignal): Promise<boolean> {
    const name = active.object.metadata.name;
    if (!statusChanged(this.previousStatus(active), status)) return false;
    try {
      await this.deps.api.applyPolicyStatus(name, status, signal);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    this.lastWrite.set(name, { at: this.deps.now().getTime(), status });
    this.deps.logger.debug('policy status written', {
      controller: 'policy', policy: name, matched: status.matchedPods, violating: status.violatingPods,
    });
    return true;
  }

  private async ensureFinalizer(active: ActivePolicy, signal?: AbortSignal): Promise<void> {
    const finalizers = active.object.metadata.finalizers;
    if (finalizers?.includes(FINALIZER)) return;
    try {
      await this.deps.api.setPolicyFinalizers(active.object.metadata.name, finalizers, [...(finalizers ?? []), FINALIZER], signal);
    } catch (err) {
      // A concurrent change to the list: the next event brings us back with a fresh read.
      if (isConflict(err) || isUnprocessable(err) || isNotFound(err)) return;
      throw err;
    }
  }

  /** Policy deleted: take our labels off every pod (the pod reconciler no longer counts this policy), then let go. */
  private async finalize(active: ActivePolicy, signal?: AbortSignal): Promise<void> {
    const name = active.object.metadata.name;
    const finalizers = active.object.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return;
    for (const pod of this.deps.caches.pods.list()) {
      const labels = pod.metadata.labels ?? {};
      if (labels[LABEL_VIOLATION] === undefined && labels[LABEL_DRIFT] === undefined &&
        pod.metadata.annotations?.[ANNOTATION_VIOLATIONS] === undefined) continue;
      await this.deps.podReconciler.reconcile(objectKey(pod.metadata), signal);
    }
    try {
      await this.deps.api.setPolicyFinalizers(name, finalizers, finalizers.filter((f) => f !== FINALIZER), signal);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    this.deps.events.record(policyReference(active), 'Normal', 'Finalized', 'Cleanup', 'removed immutability.dev labels from pods; policy released');
    this.forget(name);
  }

  private forget(name: string): void {
    this.lastWrite.delete(name);
    this.deps.remediator.forget(name);
    this.deps.metrics.forgetPolicy(name);
  }
}

export function policyReference(active: ActivePolicy): { apiVersion: string; kind: string; name: string; uid?: string } {
  const { object } = active;
  return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, uid: object.metadata.uid };
}

function defaultAction(active: ActivePolicy): WorkloadAction {
  if (active.resolved.mode === 'Audit') return 'Planned';
  return active.resolved.remediation.label ? 'Labeled' : 'Skipped';
}

