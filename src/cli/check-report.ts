// The heart of `check`, without I/O: given validated policies and parsed manifests, decide which policies
// govern which objects, evaluate them with the pure engine and plan what Enforce would do. Offline there is no
// cluster to ask for namespace labels, so a namespaceSelector is evaluated only against Namespace manifests
// given alongside the objects; otherwise the object is not governed by that policy, as in the operator, and a
// note says so.
import type { ImmutabilityPolicy, Mode } from '../api/types.js';
import {
  evaluateWorkload,
  matchPod,
  planRemediation,
  resolvePolicy,
  workloadFromObject,
} from '../policy/index.js';
import { parsePointer } from '../policy/index.js';
import type { ContainerType, Finding, RemediationPlan, ResolvedPolicy, Skip, Workload } from '../policy/index.js';
import type { SourceDocument } from './input.js';
import { isRecord } from '../runtime/json.js';

export interface CheckPolicy {
  name: string;
  source: string;
  policy: ImmutabilityPolicy;
}

export interface CheckPlan extends RemediationPlan {
  /** Audit: only planned. Enforce: the operator carries it out (where its remediation blocks allow). */
  mode: Mode;
}

/** Where a result's object and its containers are in the input, for formats that point at lines (SARIF). */
export interface ResultLocation {
  /** The file as given on the command line; undefined for stdin. */
  file?: string;
  /** 1-based line of the object. */
  line?: number;
  /** 1-based line of each container, keyed by `containerKey`. */
  containerLines: ReadonlyMap<string, number>;
}

export function containerKey(containerType: string, name: string): string {
  return `${containerType}/${name}`;
}

export interface CheckResult {
  policy: string;
  /** Where the object was read, e.g. `manifests/web.yaml#2`. */
  source: string;
  location: ResultLocation;
  kind: string;
  namespace: string;
  name: string;
  compliant: boolean;
  findings: Finding[];
  skips: Skip[];
  /** Present when there are findings. */
  plan: CheckPlan | null;
}

export interface CheckSummary {
  policies: number;
  /** Pods and workloads read (each counted once, however many policies govern it). */
  objects: number;
  /** Objects governed by at least one policy and compliant with all of them. */
  compliant: number;
  /** Objects with at least one finding under at least one policy. */
  violating: number;
  /** Objects no policy governs. */
  unmatched: number;
  /** Documents of other kinds (Services, ConfigMaps, ...), not checked. */
  skipped: number;
  /** Objects that could not be evaluated (malformed workloads). */
  errors: number;
}

export interface CheckReport {
  results: CheckResult[];
  summary: CheckSummary;
  /** Caveats of evaluating offline, e.g. a namespaceSelector that could not be evaluated. */
  notes: string[];
  /** `source: message` for objects that could not be evaluated. */
  errors: string[];
}

/** Kinds the operator evaluates, with the API group each is served from (other groups reuse these names). */
const WORKLOAD_GROUPS: Readonly<Record<string, string>> = {
  Pod: '',
  Deployment: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  ReplicaSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

/** Label Kubernetes puts on every Namespace; selectors often use it. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';


function field(object: unknown, ...path: string[]): unknown {
  let current = object;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function groupOf(apiVersion: unknown): string | undefined {
  if (typeof apiVersion !== 'string') return undefined;
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

type Classified = 'workload' | 'namespace' | 'policy' | 'other';

function classify(object: unknown): Classified {
  const kind = field(object, 'kind');
  const group = groupOf(field(object, 'apiVersion'));
  if (typeof kind !== 'string') return 'other';
  if (kind === 'ImmutabilityPolicy') return 'policy';
  if (kind === 'Namespace' && (group === undefined || group === '')) return 'namespace';
  const workloadGroup = WORKLOAD_GROUPS[kind];
  // A Job of another API group (batch.volcano.sh, say) is a different kind that merely shares the name.
  if (workloadGroup !== undefined && (group === undefined || group === workloadGroup)) return 'workload';
  return 'other';
}

/** The labels a policy's podSelector sees: the pod's own, or those of the workload's pod template. */
function podLabels(object: unknown): Record<string, string> {
  switch (field(object, 'kind')) {
    case 'Pod':
      return stringMap(field(object, 'metadata', 'labels'));
    case 'CronJob':
      return stringMap(field(object, 'spec', 'jobTemplate', 'spec', 'template', 'metadata', 'labels'));
    default:
      return stringMap(field(object, 'spec', 'template', 'metadata', 'labels'));
  }
}

function namespaceLabelsOf(documents: readonly SourceDocument[]): Map<string, Record<string, string>> {
  const labels = new Map<string, Record<string, string>>();
  for (const { object } of documents) {
    const name = field(object, 'metadata', 'name');
    if (classify(object) !== 'namespace' || typeof name !== 'string') continue;
    labels.set(name, { ...stringMap(field(object, 'metadata', 'labels')), [NAMESPACE_NAME_LABEL]: name });
  }
  return labels;
}

interface Governing {
  name: string;
  resolved: ResolvedPolicy;
  /** The same policy without its namespaceSelector: tells "unknown namespace" apart from other mismatches. */
  withoutNamespaceSelector: ResolvedPolicy | undefined;
}

function governing(policy: CheckPolicy): Governing {
  const spec = policy.policy.spec;
  const selector = spec.match?.namespaceSelector;
  const hasSelector =
    selector !== undefined &&
    (Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions ?? []).length > 0);
  const withoutSelector = hasSelector ? { ...spec, match: { ...spec.match, namespaceSelector: {} } } : undefined;
  return {
    name: policy.name,
    resolved: resolvePolicy(policy.name, spec),
    withoutNamespaceSelector: withoutSelector === undefined ? undefined : resolvePolicy(policy.name, withoutSelector),
  };
}

const CONTAINER_LISTS: readonly { field: 'containers' | 'initContainers' | 'ephemeralContainers'; type: ContainerType }[] = [
  { field: 'containers', type: 'container' },
  { field: 'initContainers', type: 'initContainer' },
  { field: 'ephemeralContainers', type: 'ephemeralContainer' },
];

/**
 * Where the object and its containers are. Computed on first use: only formats that point at lines (SARIF)
 * ask, and finding lines is what reading a large input would otherwise spend most of its time on.
 */
function locationOf(document: SourceDocument, workload: Workload): ResultLocation {
  let lines: { line: number | undefined; containerLines: ReadonlyMap<string, number> } | undefined;
  const resolve = (): NonNullable<typeof lines> => (lines ??= linesOf(document, workload));
  const location: ResultLocation = {
    get line() {
      return resolve().line;
    },
    get containerLines() {
      return resolve().containerLines;
    },
  };
  if (document.file !== undefined) location.file = document.file;
  return location;
}

function linesOf(document: SourceDocument, workload: Workload): { line: number | undefined; containerLines: ReadonlyMap<string, number> } {
  const podSpecPath = parsePointer(workload.podSpecPath);
  const containerLines = new Map<string, number>();
  for (const { field: list, type } of CONTAINER_LISTS) {
    // Not yet validated (a malformed spec is reported by the evaluation), so read it defensively.
    const containers: unknown = workload.podSpec[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: unknown, index) => {
      const name = field(container, 'name');
      const line = document.lineOf([...podSpecPath, list, index]);
      if (typeof name === 'string' && line !== undefined) containerLines.set(containerKey(type, name), line);
    });
  }
  return { line: document.lineOf([]), containerLines };
}

function toFinding(finding: Finding): Finding {
  const { container, containerType, rule, fieldPath, message } = finding;
  return { container, containerType, rule, fieldPath, message };
}

/**
 * Evaluates every Pod and workload in `documents` against every policy. ImmutabilityPolicies among the
 * documents are ignored (they are read through --policy), Namespaces supply labels, other kinds are skipped.
 */
export function buildCheckReport(policies: readonly CheckPolicy[], documents: readonly SourceDocument[], now: Date): CheckReport {
  const ordered = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(governing);
  const namespaceLabels = namespaceLabelsOf(documents);
  const perPolicy = new Map<string, CheckResult[]>(ordered.map((policy) => [policy.name, []]));
  const notes = new Set<string>();
  const errors: string[] = [];
  const summary: CheckSummary = {
    policies: policies.length,
    objects: 0,
    compliant: 0,
    violating: 0,
    unmatched: 0,
    skipped: 0,
    errors: 0,
  };

  for (const document of documents) {
    const { source, object } = document;
    const classified = classify(object);
    if (classified === 'policy' || classified === 'namespace') continue;
    if (classified === 'other') {
      summary.skipped += 1;
      continue;
    }
    const workload = workloadFromObject(object);
    if ('error' in workload) {
      errors.push(`${source}: ${workload.error}`);
      summary.errors += 1;
      continue;
    }
    const target = { namespace: workload.namespace, labels: podLabels(object) };
    const labels = namespaceLabels.get(workload.namespace);
    const objectResults: CheckResult[] = [];
    const location = locationOf(document, workload);
    let failure: string | undefined;
    for (const policy of ordered) {
      if (!matchPod(policy.resolved, target, labels).matched) {
        if (labels === undefined && policy.withoutNamespaceSelector !== undefined &&
            matchPod(policy.withoutNamespaceSelector, target, undefined).matched) {
          notes.add(
            `policy ${policy.name}: namespace "${workload.namespace}" has no Namespace manifest among the -f inputs, ` +
              'so match.namespaceSelector cannot be evaluated and its objects were not checked against this policy',
          );
        }
        continue;
      }
      const evaluation = evaluateWorkload(policy.resolved, workload, now);
      if (evaluation.outcome === 'error') {
        failure = evaluation.error;
        break;
      }
      const findings = evaluation.findings.map(toFinding);
      objectResults.push({
        policy: policy.name,
        source,
        location,
        kind: workload.kind,
        namespace: workload.namespace,
        name: workload.name,
        compliant: findings.length === 0,
        findings,
        skips: evaluation.skips,
        plan: findings.length === 0
          ? null
          : { mode: policy.resolved.mode, ...planRemediation(policy.resolved, workload, findings) },
      });
    }
    if (failure !== undefined) {
      // A malformed pod spec fails alike under every policy: report the object once, as an error.
      errors.push(`${source}: ${failure}`);
      summary.errors += 1;
      continue;
    }
    summary.objects += 1;
    objectResults.forEach((result) => perPolicy.get(result.policy)?.push(result));
    if (objectResults.length === 0) summary.unmatched += 1;
    else if (objectResults.some((result) => !result.compliant)) summary.violating += 1;
    else summary.compliant += 1;
  }

  return { results: [...perPolicy.values()].flat(), summary, notes: [...notes], errors };
}
