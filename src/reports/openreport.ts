// One OpenReports `Report` (openreports.io/v1alpha1) per governed workload, as Policy Reporter reads it: the
// workload is the scope, each governing policy contributes one result per container and enabled spec rule
// (pass, fail or skip) and one per enabled runtime rule, with a severity, a message and a summary of counts.
// Pure: the caller passes the evaluations of the workload's pods; the same input always yields the same
// report (no timestamps), so the writer can compare and write only on change. The report is owned by its
// workload (an ownerReference), so the garbage collector removes it with the workload.
import type { ContainerType, Evaluation } from '../policy/index.js';
import { RUNTIME_RULES, SPEC_RULES } from '../api/types.js';
import type { RuleName } from '../api/types.js';
import { RULE_DOCS } from '../cli/rule-docs.js';

export const REPORT_API_VERSION = 'openreports.io/v1alpha1';
export const REPORT_SOURCE = 'immutability-operator';

export type ReportStatus = 'pass' | 'fail' | 'skip' | 'error';
export type ReportSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface WorkloadScope {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface PodEvaluation {
  /** Every container of the pod, so that a container without findings reads as pass. */
  containers: readonly { name: string; type: ContainerType }[];
  evaluation: Evaluation;
  /** Runtime rules the pod broke (exec, ephemeralContainers, ...). */
  drift: readonly RuleName[];
}

export interface PolicyEvaluations {
  policy: string;
  /** The rules the policy enables. */
  rules: Readonly<Partial<Record<RuleName, boolean>>>;
  pods: readonly PodEvaluation[];
}

export interface ReportResult {
  source: string;
  policy: string;
  rule: string;
  category: string;
  severity: ReportSeverity;
  result: ReportStatus;
  scored: boolean;
  resources: WorkloadScope[];
  message: string;
  properties?: Record<string, string>;
}

export interface OpenReport {
  apiVersion: typeof REPORT_API_VERSION;
  kind: 'Report';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
  source: string;
  scope: WorkloadScope;
  summary: Record<ReportStatus | 'warn', number>;
  results: ReportResult[];
}

/** CVSS-like scores of the rule docs, in the five OpenReports severities. */
export function severityOf(rule: RuleName): ReportSeverity {
  const score = RULE_DOCS[rule].securitySeverity;
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return score > 0 ? 'low' : 'info';
}

/** Name of a workload's report: unique per workload in its namespace, and a valid object name. */
export function reportName(scope: Pick<WorkloadScope, 'kind' | 'name'>): string {
  const name = `immutability-${scope.kind.toLowerCase()}-${scope.name}`;
  return name.length <= 253 ? name : name.slice(0, 253);
}

const RANK: Record<ReportStatus, number> = { pass: 0, skip: 1, error: 2, fail: 3 };

interface Cell { result: ReportStatus; message: string }

function worse(a: Cell | undefined, b: Cell): Cell {
  return a === undefined || RANK[b.result] > RANK[a.result] ? b : a;
}

/** undefined when no policy governs any pod of the workload: there is nothing to report and no report to keep. */
export function workloadReport(scope: WorkloadScope, policies: readonly PolicyEvaluations[]): OpenReport | undefined {
  const results: ReportResult[] = [];
  for (const { policy, rules, pods } of [...policies].sort((a, b) => (a.policy < b.policy ? -1 : 1))) {
    if (pods.length === 0) continue;
    // Worst outcome per container and rule over the workload's pods (fail > error > skip > pass).
    const cells = new Map<string, Cell>();
    const containers = new Map<string, ContainerType>();
    for (const pod of pods) {
      pod.containers.forEach((c) => containers.set(c.name, c.type));
      for (const rule of SPEC_RULES.filter((r) => rules[r])) {
        for (const c of pod.containers) {
          const key = `${c.name}\u0000${rule}`;
          if (pod.evaluation.outcome === 'error') {
            cells.set(key, worse(cells.get(key), { result: 'error', message: `could not be evaluated: ${pod.evaluation.error}` }));
            continue;
          }
          const finding = pod.evaluation.findings.find((f) => f.container === c.name && f.rule === rule);
          const skip = pod.evaluation.skips.find((s) => s.container === c.name && s.rule === rule);
          const cell: Cell = finding ? { result: 'fail', message: finding.message }
            : skip ? { result: 'skip', message: skip.reason }
            : { result: 'pass', message: `${RULE_DOCS[rule].summary.replace(/\.$/, '')}: container "${c.name}" complies.` };
          cells.set(key, worse(cells.get(key), cell));
        }
      }
    }
    for (const [container, type] of [...containers].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const rule of SPEC_RULES.filter((r) => rules[r])) {
        const cell = cells.get(`${container}\u0000${rule}`);
        if (cell === undefined) continue;
        results.push(result(scope, policy, rule, cell, { container, containerType: type }));
      }
    }
    for (const rule of RUNTIME_RULES.filter((r) => rules[r])) {
      const drifted = pods.filter((p) => p.drift.includes(rule)).length;
      const cell: Cell = drifted > 0
        ? { result: 'fail', message: `${drifted} pod(s) drifted at runtime: ${RULE_DOCS[rule].summary}` }
        : { result: 'pass', message: `no pod drifted: ${RULE_DOCS[rule].summary}` };
      results.push(result(scope, policy, rule, cell));
    }
  }
  if (results.length === 0) return undefined;
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) summary[r.result] += 1;
  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'Report',
    metadata: {
      name: reportName(scope),
      namespace: scope.namespace,
      labels: { 'app.kubernetes.io/managed-by': REPORT_SOURCE },
      ...(scope.uid === undefined ? {} : {
        ownerReferences: [{ apiVersion: scope.apiVersion, kind: scope.kind, name: scope.name, uid: scope.uid }],
      }),
    },
    source: REPORT_SOURCE,
    scope,
    summary,
    results,
  };
}

function result(scope: WorkloadScope, policy: string, rule: RuleName, cell: Cell, properties?: Record<string, string>): ReportResult {
  const r: ReportResult = {
    source: REPORT_SOURCE, policy, rule, category: 'Immutability', severity: severityOf(rule),
    result: cell.result, scored: true, resources: [scope], message: cell.message,
  };
  if (properties) r.properties = properties;
  return r;
}
