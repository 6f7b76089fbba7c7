// The policy's status as a summary (Gatekeeper-style): totals plus one capped, sorted list of workloads.
// Pure: the caller gathers per-pod assessments from its caches and passes the clock reading.
import {
  MAX_STATUS_FINDINGS, MAX_STATUS_MESSAGE_CHARS, MAX_STATUS_VIOLATIONS, Reasons,
  type ActionCounts, type ImmutabilityPolicyStatus, type WorkloadAction, type WorkloadViolation,
} from '../api/types.js';
import { deepEqual } from '../runtime/json.js';
import { setConditions, type DesiredCondition } from './conditions.js';

/** What one matched pod contributes to a policy's status. */
export interface PodAssessment {
  namespace: string;
  name: string;
  workload: { kind: string; namespace: string; name: string };
  /** `container:rule` keys of spec violations. */
  findings: string[];
  /** `container:rule` keys of runtime drift (rule exec or ephemeralContainers); empty when none. */
  driftFindings?: string[];
  /** The pod could not be evaluated (malformed); never counted as a violation. */
  error?: string;
}

/** The outcome of remediation for one workload, keyed by `namespace/kind/name`. */
export interface WorkloadOutcome {
  action: WorkloadAction;
  message?: string;
  patch?: string;
}

export interface DegradedState {
  reason: string;
  message: string;
}

export interface StatusInput {
  generation: number;
  previous: ImmutabilityPolicyStatus | undefined;
  /** Matched pods with findings, drift or an evaluation error (compliant ones may be here too, or counted below). */
  assessments: readonly PodAssessment[];
  /** Matched pods that break nothing, counted without an assessment each (a large cluster's most pods). */
  compliant?: number;
  /** Default action for violating workloads without a specific outcome (Planned in Audit, Labeled, Skipped). */
  defaultAction: WorkloadAction;
  outcomes: ReadonlyMap<string, WorkloadOutcome>;
  actions: ActionCounts;
  degraded?: DegradedState;
  now: string;
}

export function workloadOutcomeKey(w: { namespace: string; kind: string; name: string }): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

export function buildStatus(input: StatusInput): ImmutabilityPolicyStatus {
  const matchedPods = input.assessments.length + (input.compliant ?? 0);
  const workloads = new Map<string, { ref: PodAssessment['workload']; pods: number; findings: Set<string> }>();
  let violatingPods = 0;
  let driftedPods = 0;
  let unevaluable = 0;
  for (const a of input.assessments) {
    if (a.error) unevaluable++;
    const drift = a.driftFindings ?? [];
    if (drift.length > 0) driftedPods++;
    const findings = drift.length > 0 ? [...a.findings, ...drift] : a.findings;
    if (a.findings.length > 0) violatingPods++;
    if (findings.length === 0) continue;
    const key = workloadOutcomeKey(a.workload);
    const entry = workloads.get(key) ?? { ref: a.workload, pods: 0, findings: new Set<string>() };
    entry.pods++;
    for (const f of findings) entry.findings.add(f);
    workloads.set(key, entry);
  }

  const violations: WorkloadViolation[] = [...workloads.entries()]
    .sort(([, a], [, b]) => compareWorkloads(a.ref, b.ref))
    .slice(0, MAX_STATUS_VIOLATIONS)
    .map(([key, w]) => {
      const outcome = input.outcomes.get(key);
      const findings = [...w.findings].sort();
      const v: WorkloadViolation = {
        namespace: w.ref.namespace,
        kind: w.ref.kind,
        name: w.ref.name,
        pods: w.pods,
        // Over the CRD's bound the API server would refuse the whole status: list the first, say how many.
        findings: findings.slice(0, MAX_STATUS_FINDINGS),
        action: outcome?.action ?? input.defaultAction,
      };
      const unlisted = findings.length > MAX_STATUS_FINDINGS ? `${MAX_STATUS_FINDINGS} of ${findings.length} findings listed` : undefined;
      const message = [unlisted, outcome?.message].filter(Boolean).join('; ');
      if (message) v.message = message.slice(0, MAX_STATUS_MESSAGE_CHARS);
      if (outcome?.patch) v.patch = outcome.patch;
      return v;
    });

  const conditions: DesiredCondition[] = [
    {
      type: 'Ready', status: 'True', reason: Reasons.Evaluating, observedGeneration: input.generation,
      message: unevaluable > 0 ? `spec accepted; ${unevaluable} pod(s) could not be evaluated` : 'spec accepted; pods are being evaluated',
    },
    compliantCondition(matchedPods, violatingPods, driftedPods, workloads.size, input.generation),
    input.degraded
      ? { type: 'Degraded', status: 'True', reason: input.degraded.reason, message: input.degraded.message, observedGeneration: input.generation }
      : { type: 'Degraded', status: 'False', reason: Reasons.RemediationHealthy, message: 'no remediation failures', observedGeneration: input.generation },
  ];

  return {
    observedGeneration: input.generation,
    conditions: setConditions(input.previous?.conditions, conditions, input.now),
    matchedPods,
    violatingPods,
    driftedPods,
    violatingWorkloads: workloads.size,
    actions: input.actions,
    violations,
    lastEvaluationTime: input.now,
  };
}

function compliantCondition(matched: number, violating: number, drifted: number, workloads: number, generation: number): DesiredCondition {
  if (violating > 0) {
    return {
      type: 'Compliant', status: 'False', reason: Reasons.ViolationsFound, observedGeneration: generation,
      message: `${violating} of ${matched} matched pod(s) in ${workloads} workload(s) violate the policy` +
        (drifted > 0 ? `; ${drifted} pod(s) drifted at runtime` : ''),
    };
  }
  if (drifted > 0) {
    return { type: 'Compliant', status: 'False', reason: Reasons.DriftDetected, observedGeneration: generation,
      message: `${drifted} of ${matched} matched pod(s) drifted at runtime` };
  }
  return matched === 0
    ? { type: 'Compliant', status: 'True', reason: Reasons.NoMatchedPods, message: 'no pods match the policy', observedGeneration: generation }
    : { type: 'Compliant', status: 'True', reason: Reasons.AllCompliant, message: `all ${matched} matched pod(s) comply`, observedGeneration: generation };
}

/** Status for a spec that passed the schema but cannot be used: Ready=False, nothing evaluated. */
export function invalidSpecStatus(previous: ImmutabilityPolicyStatus | undefined, generation: number, errors: string[], now: string): ImmutabilityPolicyStatus {
  const message = `invalid spec: ${errors.join('; ')}`.slice(0, 1000);
  return {
    ...previous,
    observedGeneration: generation,
    conditions: setConditions(previous?.conditions, [
      { type: 'Ready', status: 'False', reason: Reasons.InvalidSpec, message, observedGeneration: generation },
      { type: 'Compliant', status: 'Unknown', reason: Reasons.InvalidSpec, message: 'not evaluated', observedGeneration: generation },
      { type: 'Degraded', status: 'False', reason: Reasons.InvalidSpec, message: 'no remediation while the spec is invalid', observedGeneration: generation },
    ], now),
    lastEvaluationTime: now,
  };
}

/** Whether a write is needed: everything but the evaluation timestamp counts. */
export function statusChanged(previous: ImmutabilityPolicyStatus | undefined, next: ImmutabilityPolicyStatus): boolean {
  if (!previous) return true;
  // Conditions of types `next` does not carry belong to another writer (AdmissionReady): not ours to compare.
  const ours = new Set((next.conditions ?? []).map((c) => c.type));
  const stripped = (s: ImmutabilityPolicyStatus): ImmutabilityPolicyStatus =>
    ({ ...s, lastEvaluationTime: undefined, conditions: s.conditions?.filter((c) => ours.has(c.type)) });
  // Key order does not matter (a status read back from the API server comes in another order than we built it).
  return !deepEqual(stripped(previous), stripped(next));
}

/** namespace, then kind, then name: field by field, so "team" sorts before "team-a". */
function compareWorkloads(a: PodAssessment['workload'], b: PodAssessment['workload']): number {
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name);
}
