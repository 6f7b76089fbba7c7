// Workload reconciler, keyed `namespace/Kind/name` (a bare pod is `namespace/Pod/name`): for each governing
// policy, what its violating or drifted pods call for — plan, owner patch, rollout guard, evictions — carried
// out by remediation. Workloads run in parallel with per-key backoff; one slow or refused workload delays no
// other and never the policies' status (the policy reconciler only reads the remembered results).
// Level-triggered: the pods come from the cache on every run, whatever brought the key here.
import type { Pod } from '../api/kube.js';
import { isAbortError } from '../k8s/errors.js';
import { topLevelOwner, topLevelOwnerUid, type WorkloadRef } from '../k8s/owners.js';
import { msUntilNextExpiry } from '../policy/index.js';
import { workloadOutcomeKey } from '../policy/status.js';
import type { WorkloadFindings } from '../remediation/context.js';
import type { WorkloadRemediator } from '../remediation/remediator.js';
import type { WorkloadResult } from '../remediation/policy-state.js';
import { minDefined } from '../remediation/workload-draft.js';
import type { ReconcileResult } from '../runtime/workers.js';
import { reportName, workloadReport, type PolicyEvaluations } from '../reports/openreport.js';
import type { ReportWriter } from '../reports/report-writer.js';
import type { ContainerType } from '../policy/index.js';
import type { RuleName } from '../api/types.js';
import { assessPod } from './assess.js';
import type { Caches } from './caches.js';
import type { DriftSource } from './drift-source.js';
import type { ActivePolicy, PolicySet } from './policy-set.js';

/** Requeues sooner than this only waste work: the API server and caches need a moment to move. */
const MIN_REQUEUE_MS = 100;

export interface WorkloadReconcilerDeps {
  caches: Caches;
  policies: PolicySet;
  drift: DriftSource;
  remediator: Pick<WorkloadRemediator, 'remediateWorkload' | 'resultOf'>;
  now: () => Date;
  /** A policy's report for this workload changed: its status is due. */
  onOutcomeChange(policyName: string): void;
  /** With --reports=openreports: keeps the workload's OpenReports Report in step with its pods. */
  reports?: Pick<ReportWriter, 'sync'>;
}

const CONTAINER_LISTS: readonly [string, ContainerType][] = [
  ['containers', 'container'], ['initContainers', 'initContainer'], ['ephemeralContainers', 'ephemeralContainer'],
];

/** The workload key of a pod: its top-level owner's `namespace/Kind/name`. */
export function workloadKeyOfPod(pod: Pod, caches: Pick<Caches, 'ownerLookup'>): string {
  return workloadOutcomeKey(topLevelOwner(pod, caches.ownerLookup));
}

export class WorkloadReconciler {
  constructor(private readonly deps: WorkloadReconcilerDeps) {}

  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const { caches, remediator } = this.deps;
    const now = this.deps.now();
    const pods: { pod: Pod; ref: WorkloadRef }[] = [];
    for (const pod of caches.workloadPods(key)) {
      if (pod.metadata.deletionTimestamp) continue;
      const ref = topLevelOwner(pod, caches.ownerLookup);
      if (workloadOutcomeKey(ref) === key) pods.push({ pod, ref });
    }
    let requeueAfterMs: number | undefined;
    let failure: { err: unknown } | undefined;
    for (const active of this.deps.policies.governing()) {
      const name = active.resolved.name;
      const before = remediator.resultOf(name, key);
      try {
        const result = await remediator.remediateWorkload(active, key, this.findings(active, pods, now), signal);
        requeueAfterMs = minDefined(requeueAfterMs, result?.requeueAfterMs);
      } catch (err) {
        if (signal?.aborted || isAbortError(err)) throw err;
        failure ??= { err }; // the other policies still get their turn; the runner retries the whole key
      }
      if (!sameReport(before, remediator.resultOf(name, key))) this.deps.onOutcomeChange(name);
      // An exemption that expires changes the findings without any event: come back at that instant.
      if (pods.length > 0) requeueAfterMs = minDefined(requeueAfterMs, msUntilNextExpiry(active.resolved, now));
    }
    if (this.deps.reports) await this.writeReport(this.deps.reports, key, pods, now, signal);
    if (failure) throw failure.err;
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs: Math.max(MIN_REQUEUE_MS, requeueAfterMs) };
  }

  /**
   * The workload's OpenReports Report, from the verdicts status and `check` use (assessPod: the engine's
   * findings and skips, plus the drift the pod reconciler labels); none when no governing policy matches a pod
   * of it. A workload whose owner chain is not resolved yet (or whose uid is unknown) is left for a later pass.
   */
  private async writeReport(writer: Pick<ReportWriter, 'sync'>, key: string, pods: readonly { pod: Pod; ref: WorkloadRef }[],
    now: Date, signal?: AbortSignal): Promise<void> {
    const first = pods[0];
    const [namespace = '', kind = '', ...rest] = key.split('/');
    const name = reportName({ kind, name: rest.join('/') });
    if (first === undefined) return writer.sync(namespace, name, undefined, signal);
    const { ref } = first;
    const uid = topLevelOwnerUid(first.pod, this.deps.caches.ownerLookup);
    if (!ref.resolved || uid === undefined) return;
    const policies: PolicyEvaluations[] = [];
    for (const active of this.deps.policies.governing()) {
      const evaluations: PolicyEvaluations['pods'][number][] = [];
      for (const { pod } of pods) {
        const labels = this.deps.caches.namespaces.get(pod.metadata.namespace ?? '')?.metadata.labels;
        const verdict = assessPod(pod, active, labels, now);
        if (!verdict.matched) continue;
        const spec = pod.spec as unknown as Record<string, { name: string }[] | undefined>;
        evaluations.push({
          containers: CONTAINER_LISTS.flatMap(([list, type]) => (spec[list] ?? []).map((c) => ({ name: c.name, type }))),
          evaluation: verdict.error !== undefined ? { outcome: 'error', error: verdict.error }
            : { outcome: 'evaluated', findings: verdict.findings, skips: verdict.skips },
          drift: [...new Set(this.deps.drift.driftFindings(pod, active).map((f) => f.split(':').pop() as RuleName))],
        });
      }
      policies.push({ policy: active.resolved.name, rules: active.resolved.rules, pods: evaluations });
    }
    const scope = { apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name, uid };
    return writer.sync(namespace, name, workloadReport(scope, policies), signal);
  }

  /** What `active` finds in the workload's pods, or undefined when they all comply (or none is governed). */
  private findings(active: ActivePolicy, pods: readonly { pod: Pod; ref: WorkloadRef }[], now: Date): WorkloadFindings | undefined {
    let found: WorkloadFindings | undefined;
    for (const { pod, ref } of pods) {
      const labels = this.deps.caches.namespaces.get(pod.metadata.namespace ?? '')?.metadata.labels;
      const verdict = assessPod(pod, active, labels, now);
      if (!verdict.matched) continue;
      const driftFindings = this.deps.drift.driftFindings(pod, active);
      if (verdict.findings.length === 0 && driftFindings.length === 0) continue;
      found ??= { ref, pods: [] };
      found.pods.push({ pod, findings: verdict.findings, driftFindings });
    }
    return found;
  }
}

function sameReport(a: WorkloadResult | undefined, b: WorkloadResult | undefined): boolean {
  if (a === b) return true;
  return JSON.stringify([a?.outcome, a?.problem]) === JSON.stringify([b?.outcome, b?.problem]);
}
