// Policy reconciler: evaluates every cached pod under one policy and writes the summary to /status — only
// when it changed, and at most about once per second. What remediation did comes from the workload
// reconciler's remembered results: this reconciler makes no remediation call and waits on none.
// Deletion is handled with a finalizer: our labels come off the pods (through the pod queue) before the
// policy goes away.
import type { Pod } from '../api/kube.js';
import {
  ANNOTATION_VIOLATIONS, FINALIZER, LABEL_DRIFT, LABEL_VIOLATION, Reasons,
  type ImmutabilityPolicyStatus, type WorkloadAction,
} from '../api/types.js';
import type { KubeApi } from '../k8s/api.js';
import { isConflict, isNotFound, isUnprocessable } from '../k8s/errors.js';
import { topLevelOwner } from '../k8s/owners.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { matchPod, msUntilNextExpiry } from '../policy/index.js';
import { buildStatus, invalidSpecStatus, statusChanged, workloadOutcomeKey, type PodAssessment } from '../policy/status.js';
import type { RemediationReport } from '../remediation/context.js';
import { objectKey } from '../runtime/list-watch.js';
import { yieldToEventLoop } from '../runtime/yield.js';
import type { ReconcileResult } from '../runtime/workers.js';
import { assessPod, findingKeys } from './assess.js';
import type { Caches } from './caches.js';
import type { DriftSource } from './drift-source.js';
import type { ActivePolicy, PolicySet } from './policy-set.js';
import { podMetadataSettled } from './pod-reconciler.js';

/** The policy's view of remediation: the results the workload reconciler remembered, read without I/O. */
export interface RemediationResults {
  report(active: ActivePolicy): RemediationReport;
  /** Undefined until the workload controller has looked at the workload under this policy. */
  resultOf(policyName: string, key: string): unknown;
  forget(policyName: string): void;
}

/** How often a deleting policy looks again whether its pods have lost our metadata. */
const FINALIZE_POLL_MS = 500;

export interface PolicyReconcilerDeps {
  caches: Caches;
  policies: PolicySet;
  api: KubeApi;
  remediation: RemediationResults;
  drift: DriftSource;
  /** Puts pods on the pod queue (finalization: their labels come off through the pod reconciler). */
  enqueuePods(keys: readonly string[]): void;
  /** Pods whose metadata write is under way or not yet watched (PodReconciler.unsettledPods). */
  unsettledPods?(): readonly string[];
  events: EventRecorder;
  metrics: Metrics;
  logger: Logger;
  now: () => Date;
  /** Minimum spacing of status writes per policy. */
  statusIntervalMs: number;
  /** A monotonic clock in milliseconds that bounds evaluation slices (default performance.now; tests pass their own). */
  elapsedMs?: () => number;
}

/**
 * A status evaluation reads every cached pod (50k pods: a good part of a second on a busy node). During a
 * backlog it would run every status interval and take the CPU the label writes need; spaced so that it
 * takes at most 1/STATUS_EVALUATION_SHARE of the time, it costs a large cluster a later status, not slower
 * labels. A small cluster's evaluation is far below the interval and keeps it.
 */
export const STATUS_EVALUATION_SHARE = 10;

/**
 * Pods evaluated between two turns of the event loop, at most (a few milliseconds of work). One pass over
 * 100k pods in one go held the loop for seconds on a busy node: Lease renewals, watch events and label
 * answers waited.
 */
export const EVALUATION_SLICE = 1_000;

/**
 * ...and at most this long: what a pod costs varies (drifted pods, exemptions, a cold JIT, a node whose CPU
 * another process has), so a count alone made slices of 25 ms at 3,000 pods while execs were labelled at
 * 100/s, and every exec that arrived during one waited for it (audit-latency-100's p99, docs/benchmarks.md).
 */
export const EVALUATION_SLICE_MS = 4;

/** Milliseconds until a policy's status may be computed again (0: now). */
export function statusWait(nowMs: number, intervalMs: number, lastWriteAtMs: number | undefined,
  lastEvaluation: { atMs: number; costMs: number } | undefined): number {
  let readyAt = lastWriteAtMs === undefined ? 0 : lastWriteAtMs + intervalMs;
  if (lastEvaluation) readyAt = Math.max(readyAt, lastEvaluation.atMs + lastEvaluation.costMs * STATUS_EVALUATION_SHARE);
  return Math.max(0, readyAt - nowMs);
}

/** One pass over the cached pods under one policy. */
interface Evaluation {
  /** Matched pods with findings, drift or an evaluation error. */
  assessments: PodAssessment[];
  /** Matched pods that break nothing: counted, not listed. */
  compliant: number;
  labeled: number;
  costMs: number;
}

export class PolicyReconciler {
  private readonly lastWrite = new Map<string, { at: number; status: ImmutabilityPolicyStatus }>();
  private readonly lastEvaluation = new Map<string, { atMs: number; costMs: number }>();

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

    const { assessments, compliant, labeled, costMs } = await this.evaluate(active, now, signal);
    // Summing up thousands of assessments is a slice of its own: the last evaluation slice just ran.
    await yieldToEventLoop();
    if (signal?.aborted) return;
    this.lastEvaluation.set(name, { atMs: now.getTime(), costMs: Math.max(0, costMs) });
    const previous = this.previousStatus(active);
    const report = this.carryOver(active, this.deps.remediation.report(active), assessments, previous, generation);
    const status = buildStatus({
      generation,
      previous,
      assessments,
      compliant,
      defaultAction: defaultAction(active),
      outcomes: report.outcomes,
      actions: { labeled, ...report.actions },
      degraded: report.degraded,
      now: now.toISOString(),
    });
    this.deps.metrics.violations.set({ policy: name }, status.violatingPods ?? 0);
    this.deps.metrics.driftedPods.set({ policy: name }, status.driftedPods ?? 0);
    await this.writeStatus(active, status, signal);
    // An exemption that expires changes the findings without any event: come back at that instant.
    const expiry = msUntilNextExpiry(active.resolved, now);
    return expiry === undefined ? undefined : { requeueAfterMs: expiry };
  }

  /**
   * Every cached pod under `active`, in slices (EVALUATION_SLICE pods or EVALUATION_SLICE_MS, whichever comes
   * first) with a turn of the event loop between them. `costMs` is the whole time the pass took, turns
   * included: while it runs, every label write's answer waits for a slice to end before its worker sends the
   * next one, so a pass slows the writes for as
   * long as it lasts, not only for the time spent evaluating. Counting only the latter, passes at 50k pods
   * ran most of the time during a backlog and halved the label rate (owned-50000: 309 labels/s; 620/s with
   * status writes 10 s apart, docs/benchmarks.md). Matched pods that break nothing are only counted: at
   * 100k pods a record each was most of the evaluation's garbage.
   */
  private async evaluate(active: ActivePolicy, now: Date, signal?: AbortSignal): Promise<Evaluation> {
    const evaluation: Evaluation = { assessments: [], compliant: 0, labeled: 0, costMs: 0 };
    const labels = active.resolved.mode === 'Enforce' && active.resolved.remediation.label !== undefined;
    const pods = this.deps.caches.pods.list();
    const started = this.deps.now().getTime();
    const elapsedMs = this.deps.elapsedMs ?? ((): number => performance.now());
    let sliceStart = elapsedMs();
    let inSlice = 0;
    for (const pod of pods) {
      if (inSlice >= EVALUATION_SLICE || elapsedMs() - sliceStart >= EVALUATION_SLICE_MS) {
        await yieldToEventLoop();
        if (signal?.aborted) break;
        sliceStart = elapsedMs();
        inSlice = 0;
      }
      this.assess(pod, active, now, labels, evaluation);
      inSlice++;
    }
    evaluation.costMs = this.deps.now().getTime() - started;
    return evaluation;
  }

  /** Adds what `pod` contributes under `active` (nothing when it does not match) to `evaluation`. */
  private assess(pod: Pod, active: ActivePolicy, now: Date, labels: boolean, evaluation: Evaluation): void {
    if (pod.metadata.deletionTimestamp) return;
    const namespace = pod.metadata.namespace ?? 'default';
    const verdict = assessPod(pod, active, this.deps.caches.namespaces.get(namespace)?.metadata.labels, now);
    if (!verdict.matched) return;
    const driftFindings = this.deps.drift.driftFindings(pod, active);
    if (verdict.findings.length === 0 && driftFindings.length === 0 && verdict.error === undefined) {
      evaluation.compliant++;
      return;
    }
    const assessment: PodAssessment = {
      namespace, name: pod.metadata.name, workload: topLevelOwner(pod, this.deps.caches.ownerLookup),
      findings: findingKeys(verdict.findings), driftFindings,
    };
    if (verdict.error) assessment.error = verdict.error;
    evaluation.assessments.push(assessment);
    if (verdict.findings.length === 0 && driftFindings.length === 0) return;
    if (labels && (pod.metadata.labels?.[LABEL_VIOLATION] === 'true' || pod.metadata.labels?.[LABEL_DRIFT])) evaluation.labeled++;
  }

  /**
   * Workloads the workload controller has not looked at yet in this process (just after a restart or a
   * leader change) keep what the status recorded for them, as does Degraded while any is pending: status is
   * written at once, without waiting on remediation, and must not flap to defaults and back.
   */
  private carryOver(
    active: ActivePolicy, report: RemediationReport, assessments: readonly PodAssessment[],
    previous: ImmutabilityPolicyStatus | undefined, generation: number,
  ): RemediationReport {
    if (!previous || previous.observedGeneration !== generation) return report;
    const name = active.resolved.name;
    const pending = new Set<string>();
    for (const a of assessments) {
      if (a.findings.length === 0 && (a.driftFindings ?? []).length === 0) continue;
      const key = workloadOutcomeKey(a.workload);
      if (this.deps.remediation.resultOf(name, key) === undefined) pending.add(key);
    }
    if (pending.size === 0) return report;
    const outcomes = new Map(report.outcomes);
    for (const v of previous.violations ?? []) {
      const key = workloadOutcomeKey(v);
      if (!pending.has(key) || outcomes.has(key)) continue;
      outcomes.set(key, { action: v.action, ...(v.message ? { message: v.message } : {}), ...(v.patch ? { patch: v.patch } : {}) });
    }
    const degraded = previous.conditions?.find((c) => c.type === 'Degraded');
    const carried: RemediationReport = { ...report, outcomes };
    if (!report.degraded && degraded?.status === 'True') carried.degraded = { reason: degraded.reason, message: degraded.message };
    return carried;
  }

  /** Status as we last wrote it (the watch may not have delivered our own write yet) or as cached. */
  private previousStatus(active: ActivePolicy): ImmutabilityPolicyStatus | undefined {
    const written = this.lastWrite.get(active.object.metadata.name);
    return written?.status ?? active.object.status;
  }

  private throttle(name: string, nowMs: number): number {
    return statusWait(nowMs, this.deps.statusIntervalMs, this.lastWrite.get(name)?.at, this.lastEvaluation.get(name));
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

  /**
   * Policy deleted: the pod reconciler no longer counts it, so every pod still carrying metadata it does not
   * want goes on the pod queue; once none is left (the pod queue did the writes, one worker per pod), let go.
   */
  private async finalize(active: ActivePolicy, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const name = active.object.metadata.name;
    const finalizers = active.object.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) return;
    const pending: string[] = [];
    for (const pod of this.deps.caches.pods.list()) {
      const labels = pod.metadata.labels ?? {};
      if (labels[LABEL_VIOLATION] === undefined && labels[LABEL_DRIFT] === undefined &&
        pod.metadata.annotations?.[ANNOTATION_VIOLATIONS] === undefined) continue;
      if (!podMetadataSettled(this.deps, pod)) pending.push(objectKey(pod.metadata));
    }
    // A write sent before the deletion may land after this look at the cache: wait for those of pods the
    // policy matched (others cannot carry metadata it wanted).
    for (const key of this.deps.unsettledPods?.() ?? []) {
      const pod = this.deps.caches.pods.get(key);
      if (!pod) continue;
      const namespace = pod.metadata.namespace ?? 'default';
      const match = matchPod(active.resolved, { namespace, labels: pod.metadata.labels }, this.deps.caches.namespaces.get(namespace)?.metadata.labels);
      if (match.matched) pending.push(key);
    }
    if (pending.length > 0) {
      this.deps.enqueuePods(pending);
      return { requeueAfterMs: FINALIZE_POLL_MS };
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
    this.lastEvaluation.delete(name);
    this.deps.remediation.forget(name);
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

